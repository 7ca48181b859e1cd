// Fan-out: one session, N devices subscribed live (all SSE or all WebSocket, offset=now), one
// agent on the session WebSocket streaming `rate` deltas/s for `duration` s. Each delta is
// "[t=<ms since t0>]", its send time on the machine-wide monotonic clock; every device records
// when each chunk reaches it, so latency = arrival - send for every delta at every device. At the
// end every device's text of the run (its chunks by seq) must equal exactly what the agent sent.
//
// Usage: node fanout.mjs --url URL --pid SERVER_PID --transport sse|ws --devices N
//          [--duration 10] [--rate 50] [--per-proc 250] [--rollup 40] [--label NAME]
// Prints one JSON line (the result) on stdout; progress on stderr.
import { fork } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { call, cpuSeconds, emit, flags, machineBusySeconds, now, ownCpu, sleep, summary, wsUrl } from "./lib.mjs";

const f = flags();
const url = f.url;
const serverPid = Number(f.pid) || null;
const transport = f.transport ?? "ws";
const nDevices = Number(f.devices ?? 10);
const duration = Number(f.duration ?? 10);
const rate = Number(f.rate ?? 50);
const perProc = Number(f["per-proc"] ?? 250);
const rollup = Number(f.rollup ?? 40);
const label = f.label ?? `${transport}-${nDevices}`;
const log = (m) => process.stderr.write(`[fanout ${label}] ${m}\n`);

const result = { scenario: "fanout", label, transport, devices: nDevices, duration, rate, rollup_ms: rollup };
const workers = [];

function ask(w, msg, ev, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker did not answer ${msg.cmd} in ${timeoutMs} ms`)), timeoutMs);
    const h = (m) => {
      if (m.ev === "fatal") { clearTimeout(t); w.off("message", h); reject(new Error(m.error)); }
      if (m.ev === ev) { clearTimeout(t); w.off("message", h); resolve(m); }
    };
    w.on("message", h);
    w.send(msg);
  });
}

async function main() {
  const session = await call(url, "POST", "/v1/sessions", { policy: { rollup_ms: rollup } });
  await call(url, "POST", `/v1/sessions/${session.id}/participants`, { role: "agent" });
  result.session = session.id;

  // ---- devices -------------------------------------------------------------------
  const procs = Math.max(1, Math.ceil(nDevices / perProc));
  for (let i = 0; i < procs; i++) {
    workers.push(fork(new URL("./fanout-devices.mjs", import.meta.url), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] }));
  }
  const t = now();
  const readies = await Promise.all(workers.map((w, i) => {
    const count = Math.floor(nDevices / procs) + (i < nDevices % procs ? 1 : 0);
    return ask(w, { cmd: "connect", url, session: session.id, transport, count, concurrency: 50 }, "ready", 180000);
  }));
  result.client_procs = procs;
  result.connected = readies.reduce((a, r) => a + r.connected, 0);
  result.connect_failed = readies.reduce((a, r) => a + r.failed, 0);
  result.connect_s = (now() - t) / 1000;
  log(`${result.connected}/${nDevices} devices subscribed over ${transport} in ${result.connect_s.toFixed(2)} s (${procs} client processes)`);
  await sleep(1000); // presence entries of the connects are written (coalesced) and delivered

  // ---- the agent -----------------------------------------------------------------
  const ws = new WebSocket(wsUrl(url, session.id, "now"), { perMessageDeflate: false });
  const pending = new Map(); // ref -> {resolve, reject, sent}
  const agentErrors = [];
  ws.on("message", (data) => {
    const fr = JSON.parse(data);
    if ((fr.type === "reply" || fr.type === "error") && fr.ref && pending.has(fr.ref)) {
      const p = pending.get(fr.ref);
      pending.delete(fr.ref);
      if (fr.type === "reply") p.resolve(fr.result);
      else { agentErrors.push(JSON.stringify(fr).slice(0, 300)); p.reject(new Error(JSON.stringify(fr.error))); }
    } else if (fr.type === "error") {
      agentErrors.push(JSON.stringify(fr).slice(0, 300));
    }
  });
  await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
  const frame = (obj, timeoutMs = 30000) => new Promise((resolve, reject) => {
    const sent = now();
    const timer = setTimeout(() => { pending.delete(obj.ref); reject(new Error(`no reply to ${obj.ref} in ${timeoutMs} ms`)); }, timeoutMs);
    pending.set(obj.ref, {
      resolve: (r) => { clearTimeout(timer); resolve({ result: r, ms: now() - sent }); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    ws.send(JSON.stringify(obj));
  });
  const run = (await frame({ type: "run", action: "start", ref: "s" })).result;
  result.run = run.id;

  for (const w of workers) w.send({ cmd: "start" });
  await sleep(50);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = cpuSeconds(serverPid);
  const busy0 = machineBusySeconds();
  const own0 = ownCpu();
  const t0 = now();
  const total = Math.round(rate * duration);
  const interval = 1000 / rate;
  let text = "";
  const acks = [];
  const ackMs = [];
  const sendLag = [];
  let ackErrors = 0;
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - now();
    if (wait > 1) await sleep(wait - 0.5);
    while (now() < due) { /* the last half millisecond: spin */ }
    const sentAt = now() - t0;
    sendLag.push(sentAt - i * interval);
    const delta = `[t=${sentAt.toFixed(3)}]`;
    text += delta;
    acks.push(frame({ type: "run", action: "chunks", run_id: run.id, delta, ref: `c${i}` })
      .then((r) => ackMs.push(r.ms), () => { ackErrors++; }));
  }
  const streamed = now() - t0;
  const end = await frame({ type: "run", action: "end", run_id: run.id, status: "completed", ref: "e" });
  await Promise.all(acks);
  const ackDone = now() - t0;
  log(`sent ${total} deltas in ${(streamed / 1000).toFixed(2)} s; end acked after ${(ackDone / 1000).toFixed(2)} s; run text ${end.result.text === text ? "matches" : "DIFFERS from"} what was sent`);
  result.run_text_matches = end.result.text === text;

  const results = await Promise.all(workers.map((w) => ask(w, { cmd: "finish", runId: run.id, expected: text, t0, waitMs: 20000 }, "result", 120000)));
  const wall = (now() - t0) / 1000;
  const cpu1 = cpuSeconds(serverPid);
  const busy1 = machineBusySeconds();
  loop.disable();
  ws.close();

  const sum = (k) => results.reduce((a, r) => a + r[k], 0);
  const lat = summary(results.flatMap((r) => r.latencies));
  const errors = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  Object.assign(result, {
    deltas_sent: total,
    sent_chars: text.length,
    streamed_s: streamed / 1000,
    send_lag_ms: summary(sendLag),
    chunk_ack_ms: summary(ackMs),
    chunk_ack_errors: ackErrors,
    agent_errors: agentErrors.slice(0, 5),
    agent_error_count: agentErrors.length,
    latency_ms: lat,
    deltas_expected: total * sum("ready"),
    deltas_seen: sum("deltasSeen"),
    chunks_per_device: sum("chunkEntries") / Math.max(1, sum("ready")),
    devices_text_mismatch: sum("textMismatch"),
    devices_not_done: sum("notDone"),
    missing_chunks: sum("missingChunks"),
    dup_chunks: sum("dupChunks"),
    out_of_order: sum("outOfOrder"),
    reconnects: sum("reconnects"),
    device_errors: errors,
    device_error_samples: results.flatMap((r) => r.errorSamples).slice(0, 5),
    mismatch_samples: results.flatMap((r) => r.mismatchSamples).slice(0, 3),
    mb_delivered: sum("bytes") / 1e6,
    phase_wall_s: wall,
    server_cpu_s: cpu0 == null || cpu1 == null ? null : cpu1 - cpu0,
    client_cpu_s: sum("cpuS") + (ownCpu() - own0),
    machine_busy_s: busy0 == null ? null : busy1 - busy0,
    client_loop_delay_max_ms: Math.max(loop.max / 1e6, ...results.map((r) => r.loopDelayMs.max)),
    client_loop_delay_p99_ms: Math.max(loop.percentile(99) / 1e6, ...results.map((r) => r.loopDelayMs.p99)),
  });
  result.other_cpu_s = result.machine_busy_s == null || result.server_cpu_s == null ? null
    : Math.max(0, result.machine_busy_s - result.server_cpu_s - result.client_cpu_s);
  log(`latency p50 ${lat.p50?.toFixed(1)} ms p99 ${lat.p99?.toFixed(1)} ms max ${lat.max?.toFixed(1)} ms; ` +
    `text mismatches ${result.devices_text_mismatch}, server CPU ${result.server_cpu_s?.toFixed(2)} s over ${wall.toFixed(1)} s`);
}

const hardStop = setTimeout(() => { log("ERROR: hard time limit reached"); result.error = "hard time limit"; emit(result); process.exit(1); },
  (duration * 3 + 400) * 1000);
main().then(() => {
  clearTimeout(hardStop);
  emit(result);
  for (const w of workers) w.kill();
  process.exit(0);
}, (e) => {
  log(`ERROR: ${e.stack ?? e}`);
  result.error = String(e.message ?? e).slice(0, 300);
  emit(result);
  for (const w of workers) w.kill();
  process.exit(1);
});
