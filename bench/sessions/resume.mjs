// Resume storm: a session with `entries` message entries (written by concurrent HTTP posts),
// then `devices` devices reconnecting at the same instant from offset -1 (the whole log) or from
// the middle of it, once over the session WebSocket and once over catch-up GETs. Measures the time
// until every device has read to the tail, per-device times, bytes moved and the server's CPU.
//
// Usage: node resume.mjs --url URL --pid SERVER_PID [--entries 10000] [--devices 1000]
//          [--from start|mid] [--transports ws,http] [--per-proc 250] [--verify-every 50]
// Prints one JSON line (the result) on stdout; progress on stderr.
import { fork } from "node:child_process";
import http from "node:http";
import { call, cpuSeconds, emit, flags, machineBusySeconds, now, ownCpu, request, sleep, summary } from "./lib.mjs";

const f = flags();
const url = f.url;
const serverPid = Number(f.pid) || null;
const nEntries = Number(f.entries ?? 10000);
const nDevices = Number(f.devices ?? 1000);
const from = f.from ?? "start";
const transports = String(f.transports ?? "ws,http").split(",");
const perProc = Number(f["per-proc"] ?? 250);
const verifyEvery = Number(f["verify-every"] ?? 50);
const timeoutMs = Number(f["timeout-s"] ?? 120) * 1000;
const log = (m) => process.stderr.write(`[resume] ${m}\n`);
const result = { scenario: "resume", entries: nEntries, devices: nDevices, from, storms: {} };

async function populate(sessionId) {
  const a = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const pad = "x".repeat(32);
  let next = 0, errors = 0;
  const errorSamples = [];
  const t = now();
  const cpu0 = cpuSeconds(serverPid);
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < nEntries) {
      const i = next++;
      try {
        const r = await request(url, "POST", `/v1/sessions/${sessionId}/messages`, { body: { content: `m${i} ${pad}` }, agent: a });
        if (r.status !== 201) { errors++; if (errorSamples.length < 3) errorSamples.push(`${r.status} ${r.body.toString().slice(0, 200)}`); }
      } catch (e) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(e.message);
      }
    }
  }));
  const s = (now() - t) / 1000;
  a.destroy();
  return { seconds: s, per_s: nEntries / s, errors, error_samples: errorSamples, server_cpu_s: cpuSeconds(serverPid) - cpu0 };
}

/** The log as (offset-after, type) pairs, from the audit export (one line per entry). */
async function auditOffsets(sessionId) {
  const r = await request(url, "GET", `/v1/sessions/${sessionId}/audit?format=jsonl`, { timeoutMs: 60000 });
  if (r.status !== 200) throw new Error(`audit -> ${r.status}`);
  return r.body.toString().split("\n").filter(Boolean).map((l) => {
    const e = JSON.parse(l);
    return { offset: e.offset, type: e.type };
  });
}

function ask(w, msg, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker gave no result in ${timeoutMs} ms`)), timeoutMs);
    w.on("message", (m) => {
      if (m.ev === "fatal") { clearTimeout(t); reject(new Error(m.error)); }
      if (m.ev === "result") { clearTimeout(t); resolve(m); }
    });
    w.send(msg);
  });
}

async function storm(transport, sessionId, startOffset, target, expectedMessages) {
  const procs = Math.max(1, Math.ceil(nDevices / perProc));
  const workers = Array.from({ length: procs }, () =>
    fork(new URL("./resume-devices.mjs", import.meta.url), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] }));
  await sleep(500); // workers loaded
  const cpu0 = cpuSeconds(serverPid);
  const busy0 = machineBusySeconds();
  const own0 = ownCpu();
  const tGo = now() + 300;
  let first = 0;
  try {
    const results = await Promise.all(workers.map((w, i) => {
      const count = Math.floor(nDevices / procs) + (i < nDevices % procs ? 1 : 0);
      const firstIndex = first;
      first += count;
      return ask(w, { cmd: "go", url, session: sessionId, transport, from: startOffset, target, count, firstIndex, verifyEvery, timeoutMs, tGo },
        timeoutMs + 60000);
    }));
    const wall = (now() - tGo) / 1000;
    const cpu1 = cpuSeconds(serverPid);
    const busy1 = machineBusySeconds();
    const devs = results.flatMap((r) => r.devices);
    const ok = devs.filter((d) => d.ok);
    const errs = devs.filter((d) => d.error);
    const wrongCount = ok.filter((d) => d.messages !== expectedMessages);
    const bytes = devs.reduce((a, d) => a + d.bytes, 0);
    const allDone = ok.length ? Math.max(...ok.map((d) => d.doneMs)) / 1000 : null;
    const out = {
      transport, devices: devs.length, caught_up: ok.length, failed: errs.length,
      error_samples: [...new Set(errs.map((d) => d.error))].slice(0, 5),
      all_caught_up_s: ok.length === devs.length ? allDone : null,
      last_caught_up_s: allDone,
      first_byte_ms: summary(devs.filter((d) => d.firstMs != null).map((d) => d.firstMs)),
      caught_up_ms: summary(ok.map((d) => d.doneMs)),
      expected_messages: expectedMessages,
      wrong_message_count: wrongCount.length,
      wrong_count_samples: wrongCount.slice(0, 3).map((d) => d.messages),
      verified_devices: devs.filter((d) => d.verified).length,
      dup_keys: devs.reduce((a, d) => a + d.dupKeys, 0),
      mb: bytes / 1e6,
      mb_per_s: allDone ? bytes / 1e6 / allDone : null,
      requests_per_device: transport === "http" ? summary(devs.map((d) => d.requests)) : undefined,
      frames_per_device: transport === "ws" ? summary(devs.map((d) => d.frames)) : undefined,
      server_cpu_s: cpu0 == null ? null : cpu1 - cpu0,
      client_cpu_s: results.reduce((a, r) => a + r.cpuS, 0) + (ownCpu() - own0),
      client_procs: procs,
      client_loop_delay_max_ms: Math.max(...results.map((r) => r.loopDelayMs.max)),
      wall_s: wall,
    };
    out.other_cpu_s = busy0 == null || cpu0 == null ? null : Math.max(0, busy1 - busy0 - out.server_cpu_s - out.client_cpu_s);
    log(`${transport}: ${ok.length}/${devs.length} caught up, last after ${allDone?.toFixed(2)} s ` +
      `(p50 ${out.caught_up_ms.p50?.toFixed(0)} ms, p99 ${out.caught_up_ms.p99?.toFixed(0)} ms), ${out.mb.toFixed(1)} MB, ` +
      `server CPU ${out.server_cpu_s?.toFixed(2)} s, wrong counts ${out.wrong_message_count}, failed ${errs.length}`);
    return out;
  } finally {
    for (const w of workers) w.kill();
  }
}

async function main() {
  const session = await call(url, "POST", "/v1/sessions", {});
  result.session = session.id;
  log(`writing ${nEntries} messages (64 concurrent POSTs)`);
  result.populate = await populate(session.id);
  log(`populated in ${result.populate.seconds.toFixed(2)} s (${result.populate.per_s.toFixed(0)}/s, ${result.populate.errors} errors)`);
  const entries = await auditOffsets(session.id);
  const messages = entries.filter((e) => e.type === "message").length;
  result.log_entries = entries.length;
  result.log_messages = messages;
  if (messages !== nEntries - result.populate.errors) log(`WARNING: the log holds ${messages} messages, ${nEntries - result.populate.errors} were acknowledged`);
  let startOffset = "-1", expected = messages;
  if (from === "mid") {
    // the offset just after the middle message: the device has "seen" the first half
    let seen = 0, idx = 0;
    for (; idx < entries.length; idx++) if (entries[idx].type === "message" && ++seen === Math.floor(messages / 2)) break;
    startOffset = entries[idx].offset;
    expected = messages - seen;
  }
  const target = entries[entries.length - 1].offset;
  result.start_offset = startOffset;
  result.target_offset = target;
  const tail = await request(url, "GET", `/v1/sessions/${session.id}/events?offset=${encodeURIComponent(startOffset)}`);
  result.first_response_bytes = tail.body.length;
  for (const t of transports) {
    log(`${t}: ${nDevices} devices reading from ${from === "mid" ? "the middle" : "-1"} at once (${expected} messages each)`);
    result.storms[t] = await storm(t, session.id, startOffset, target, expected);
    await sleep(1500); // the WebSocket devices' leaves are written before the next storm
  }
}

const hardStop = setTimeout(() => { log("ERROR: hard time limit"); result.error = "hard time limit"; emit(result); process.exit(1); },
  (timeoutMs / 1000 * transports.length + 400) * 1000);
main().then(() => { clearTimeout(hardStop); emit(result); process.exit(0); },
  (e) => { log(`ERROR: ${e.stack ?? e}`); result.error = String(e.message ?? e).slice(0, 300); emit(result); process.exit(1); });
