// Renders the raw JSON results of run.sh into results/latest.md.
// Exit code: 0 clean, 3 a correctness check failed, 1 a scenario failed to run.
import fs from "node:fs";
import path from "node:path";
import { flags } from "./lib.mjs";

const f = flags();
const dir = f.dir;
const meta = JSON.parse(fs.readFileSync(f.meta, "utf8"));
const read = (name) => {
  const p = path.join(dir, name);
  if (!fs.existsSync(p)) return null;
  try { return JSON.parse(fs.readFileSync(p, "utf8")); } catch { return { error: `unreadable ${name}` }; }
};
const n = (v, d = 1) => (v == null || Number.isNaN(v) ? "–" : Number(v).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const i = (v) => n(v, 0);
const pct = (cpu, wall) => (cpu == null || !wall ? "" : ` (${i((100 * cpu) / wall)}%)`);

let failed = false;
const violations = [];
const other = []; // CPU seconds used by processes other than the server and the bench clients, per phase
const check = (ok, what) => { if (!ok) violations.push(what); };
const out = [];
const P = meta.params;

out.push("# Tether sessions benchmark: fan-out, resume storm, presence churn", "");
out.push(`- Date: ${meta.date} (run took ${meta.elapsed_s} s)`);
out.push(`- Command: \`${meta.command}\``);
out.push(`- Server: \`${meta.serve}\` (data dir on ${meta.fs}; open mode, every client is the principal \`anonymous\`)`);
out.push(`- Machine: ${meta.nproc} CPUs (nproc), ${meta.cpu}, ${meta.mem} RAM, kernel ${meta.kernel}`);
out.push(`- Pinning: ${meta.pinned ? "server (JVM) on CPU 0, every client process on CPU 1 (`taskset`); the JVM sees one CPU" : "none (--no-pin): server and clients share all CPUs"}`);
out.push(`- Versions: ${meta.versions}`);
out.push(`- Load average (1 min) at start / end: ${meta.load_start} / ${meta.load_end}`);
out.push(`- Parameters: fan-out ${P.rate} deltas/s for ${P.duration} s to ${P.devices} devices (after a ${P.warmup} s untimed warm-up), rollup_ms 40; ` +
  `resume storm ${P.entries} messages, ${P.storm_devices} devices from ${P.storm_from === "mid" ? "the middle of the log" : "offset -1"}; ` +
  `presence churn ${P.churn_rate} joins+leaves/s for ${P.duration} s`);
out.push("");

// ---- fan-out ---------------------------------------------------------------------------
if (P.only.includes("fanout")) {
  out.push("## 1. Fan-out: one agent streaming to N devices", "");
  out.push(`One session (rollup_ms 40). The agent (session WebSocket) sends one delta every ${i(1000 / P.rate)} ms for ${P.duration} s; each delta is ` +
    "`[t=<ms since start>]`. Latency = arrival at a device − send time, for every delta at every device (one monotonic clock). " +
    "\"Wrong text\": a device whose chunks of the run, by seq, do not concatenate to exactly what the agent sent.", "");
  out.push("| Transport | Devices | Connected (time to connect) | Latency p50 / p99 / max (ms) | Deltas received / expected | Devices with wrong text | Missing / dup / out-of-order chunks | Reconnects / device errors | Agent chunk ack p50 / p99 (ms) | Agent send lag max (ms) | Chunks per device | Server CPU s (% of a core) | Client CPU s (% of a core) | Other processes' CPU s | Client event-loop delay max (ms) |");
  out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const dn of String(P.devices).split(",")) {
    for (const t of ["sse", "ws"]) {
      const r = read(`fanout-${t}-${dn}.json`);
      const label = t === "ws" ? "WebSocket" : "SSE";
      if (!r) { out.push(`| ${label} | ${dn} | not run | | | | | | | | | | | | |`); failed = true; continue; }
      if (r.error && r.latency_ms == null) { out.push(`| ${label} | ${dn} | failed: ${r.error} | | | | | | | | | | | | |`); failed = true; continue; }
      if (r.error) failed = true;
      const errs = Object.values(r.device_errors ?? {}).reduce((a, b) => a + b, 0);
      const L = r.latency_ms;
      out.push(`| ${label} | ${i(r.devices)} | ${i(r.connected)} (${n(r.connect_s)} s) | ${n(L.p50)} / ${n(L.p99)} / ${n(L.max)} | ` +
        `${i(r.deltas_seen)} / ${i(r.deltas_expected)} | ${i(r.devices_text_mismatch)} | ${i(r.missing_chunks)} / ${i(r.dup_chunks)} / ${i(r.out_of_order)} | ` +
        `${i(r.reconnects)} / ${i(errs)} | ${n(r.chunk_ack_ms?.p50)} / ${n(r.chunk_ack_ms?.p99)} | ${n(r.send_lag_ms?.max, 0)} | ${n(r.chunks_per_device, 0)} | ` +
        `${n(r.server_cpu_s, 2)}${pct(r.server_cpu_s, r.phase_wall_s)} | ${n(r.client_cpu_s, 2)}${pct(r.client_cpu_s, r.phase_wall_s)} | ${n(r.other_cpu_s, 2)} | ${n(r.client_loop_delay_max_ms, 0)} |`);
      other.push(r.other_cpu_s ?? 0);
      const tag = `fan-out ${label} ${dn}`;
      check(r.connected === r.devices, `${tag}: ${r.devices - r.connected} devices could not subscribe`);
      check(r.deltas_seen === r.deltas_expected, `${tag}: ${r.deltas_expected - r.deltas_seen} deltas not received`);
      check(r.devices_text_mismatch === 0, `${tag}: ${r.devices_text_mismatch} devices with wrong text`);
      check(r.devices_not_done === 0, `${tag}: ${r.devices_not_done} devices never saw the run complete`);
      check(r.missing_chunks + r.dup_chunks + r.out_of_order === 0, `${tag}: missing/dup/out-of-order chunks ${r.missing_chunks}/${r.dup_chunks}/${r.out_of_order}`);
      check(r.chunk_ack_errors === 0 && r.agent_error_count === 0, `${tag}: ${r.chunk_ack_errors} chunk errors, ${r.agent_error_count} agent error frames`);
      check(r.run_text_matches !== false, `${tag}: the run's final text differs from what the agent sent`);
      check(errs === 0 && r.reconnects === 0, `${tag}: ${r.reconnects} reconnects, device errors ${JSON.stringify(r.device_errors)} ${JSON.stringify(r.device_error_samples ?? [])}`);
    }
  }
  out.push("");
}

// ---- resume storm ----------------------------------------------------------------------
if (P.only.includes("resume")) {
  out.push("## 2. Resume storm", "");
  const r = read("resume.json");
  if (!r || (r.error && !r.storms?.ws)) {
    out.push(`failed: ${r?.error ?? "not run"}`, "");
    failed = true;
  } else {
    if (r.error) failed = true;
    const pop = r.populate;
    out.push(`The session holds ${i(r.log_messages)} messages (${i(r.log_entries)} entries), written by 64 concurrent \`POST …/messages\` in ` +
      `${n(pop.seconds, 2)} s (${i(pop.per_s)} messages/s, ${i(pop.errors)} errors, server CPU ${n(pop.server_cpu_s, 2)} s). ` +
      `Then ${i(r.devices)} devices start at the same instant from ${r.from === "mid" ? `the middle of the log (offset after message ${i(r.log_messages / 2)})` : "offset -1"} ` +
      "and read to the tail: over the session WebSocket (caught up = an entry at or past the pre-storm tail has arrived), then over catch-up GETs " +
      "(following `Stream-Next-Offset` until `Stream-Up-To-Date: true`). Each device counts the messages it got; one in 50 also parses everything and checks for repeated keys.", "");
    out.push("| Transport | Devices | Messages each | All caught up (s) | Caught up per device p50 / p99 (ms) | First byte p50 / p99 (ms) | MB moved | MB/s | Failed | Wrong message count / repeated keys | Requests or frames per device | Server CPU s (% of a core) | Client CPU s | Other processes' CPU s | Client event-loop delay max (ms) |");
    out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const t of ["ws", "http"]) {
      const s = r.storms?.[t];
      const label = t === "ws" ? "WebSocket" : "HTTP GET";
      if (!s) { out.push(`| ${label} | not run | | | | | | | | | | | | | |`); failed = true; continue; }
      const per = t === "http" ? `${n(s.requests_per_device?.mean)} requests` : `${n(s.frames_per_device?.mean, 0)} frames`;
      out.push(`| ${label} | ${i(s.devices)} | ${i(s.expected_messages)} | ${s.all_caught_up_s == null ? `not all (last ${n(s.last_caught_up_s, 2)})` : n(s.all_caught_up_s, 2)} | ` +
        `${n(s.caught_up_ms.p50, 0)} / ${n(s.caught_up_ms.p99, 0)} | ${n(s.first_byte_ms.p50, 0)} / ${n(s.first_byte_ms.p99, 0)} | ${n(s.mb, 0)} | ${n(s.mb_per_s, 0)} | ` +
        `${i(s.failed)} | ${i(s.wrong_message_count)} / ${i(s.dup_keys)} | ${per} | ${n(s.server_cpu_s, 2)}${pct(s.server_cpu_s, s.wall_s)} | ${n(s.client_cpu_s, 2)} | ${n(s.other_cpu_s, 2)} | ${n(s.client_loop_delay_max_ms, 0)} |`);
      other.push(s.other_cpu_s ?? 0);
      check(s.failed === 0, `resume ${label}: ${s.failed} devices failed (${(s.error_samples ?? []).join("; ")})`);
      check(s.wrong_message_count === 0, `resume ${label}: ${s.wrong_message_count} devices with a wrong message count (e.g. ${JSON.stringify(s.wrong_count_samples)})`);
      check(s.dup_keys === 0, `resume ${label}: ${s.dup_keys} repeated message keys`);
    }
    check(pop.errors === 0, `resume populate: ${pop.errors} message POSTs failed (${(pop.error_samples ?? []).join("; ")})`);
    out.push("");
  }
}

// ---- presence churn --------------------------------------------------------------------
if (P.only.includes("presence")) {
  out.push("## 3. Presence churn", "");
  out.push(`Devices open and close at ${P.churn_rate}/s in total (one open every ${i(2000 / P.churn_rate)} ms; each is closed 100–900 ms after it opened), ` +
    "while 10 devices stay connected and one observer (a WebSocket, itself a device) records the presence entries of the participant. " +
    "The truth is the number of connections the clients hold open. \"Age\" of a presence entry: 0 if it shows the true count when it arrives, " +
    "else how long ago the true count last had that value (\"never true\": a count the clients did not hold in the last 5 s, which can happen while a connect " +
    "or a close is in flight: the server counts a connection before its client has seen it subscribed). \"View\": the observer's latest presence entry " +
    "against the truth, sampled every 5 ms.", "");
  out.push("| Churn over | Joins+leaves/s achieved (target) | Errors | Presence entries/s (seen = logged) | Entry interval p50 / max (ms) | Entry age p50 / p99 / max (ms) | Observer view exact (% of time) | View error mean / max (devices) | End: truth / observer / server view | Observer correct after last leave (ms) | Server CPU s (% of a core) | Other processes' CPU s |");
  out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const t of ["ws", "sse"]) {
    const r = read(`churn-${t}.json`);
    const label = t === "ws" ? "WebSocket" : "SSE";
    if (!r || (r.error && r.achieved_rate == null)) { out.push(`| ${label} | failed: ${r?.error ?? "not run"} | | | | | | | | | | |`); failed = true; continue; }
    if (r.error) failed = true;
    out.push(`| ${label} | ${n(r.achieved_rate)} (${i(r.target_rate)}) | ${i(r.error_count)} | ${n(r.presence_per_s)} (${i(r.presence_seen_total)} = ${i(r.presence_logged_total)}) | ` +
      `${n(r.presence_gap_ms.p50, 0)} / ${n(r.presence_gap_ms.max, 0)} | ${n(r.presence_age_ms.p50, 0)} / ${n(r.presence_age_ms.p99, 0)} / ${n(r.presence_age_ms.max, 0)}` +
      `${r.presence_never_true ? ` (${r.presence_never_true} never true)` : ""} | ${n(r.view_exact_pct, 0)} | ${n(r.view_abs_error_mean, 2)} / ${i(r.view_abs_error_max)} | ` +
      `${i(r.final_truth)} / ${i(r.observer_final_devices)} / ${i(r.server_view_devices)} | ${n(r.converged_ms, 0)} | ${n(r.server_cpu_s, 2)}${pct(r.server_cpu_s, r.phase_wall_s)} | ${n(r.other_cpu_s, 2)} |`);
    other.push(r.other_cpu_s ?? 0);
    const tag = `presence ${label}`;
    check(r.error_count === 0, `${tag}: ${r.error_count} errors ${JSON.stringify(r.errors)} ${JSON.stringify(r.error_samples ?? [])}`);
    check(r.final_truth === r.observer_final_devices && r.final_truth === r.server_view_devices,
      `${tag}: at the end truth ${r.final_truth}, observer ${r.observer_final_devices}, server view ${r.server_view_devices}`);
    check(r.presence_seen_total === r.presence_logged_total, `${tag}: observer saw ${r.presence_seen_total} presence entries, the log holds ${r.presence_logged_total}`);
    check(r.converged_ms != null, `${tag}: the observer never saw the final count`);
  }
  out.push("");
}

// ---- checks and server logs --------------------------------------------------------------
out.push("## Checks", "");
const otherTotal = other.reduce((a, b) => a + b, 0);
if (otherTotal > 1) {
  out.push(`**Machine not quiet:** ${n(otherTotal, 1)} CPU-seconds of the measured phases went to neither the server nor the bench clients ` +
    `(column "Other processes' CPU s", up to ${n(Math.max(...other), 1)} s in one phase: the machine's busy time from /proc/stat minus the two; ` +
    "that is other processes, plus kernel interrupt work charged to no process, such as loopback network softirq in the resume storm). " +
    "Other processes compete with the server and the clients for the 2 CPUs, so latencies and times above are worse than on a quiet machine.", "");
}
if (violations.length === 0) out.push("All correctness checks passed (no lost, repeated or reordered deltas; every device's text exact; no wrong counts; no errors).");
else for (const v of violations) out.push(`- **FAILED** ${v}`);
out.push("");
const logLines = [];
for (const name of meta.server_logs ?? []) {
  const p = path.join(dir, `server-${name}.log`);
  if (!fs.existsSync(p)) continue;
  const lines = fs.readFileSync(p, "utf8").split("\n");
  const hits = lines.filter((l) => /exception|error|warn|severe|fatal|uncaught|\bat [\w$.]+\(/i.test(l));
  const died = read(`server-${name}-died.json`);
  if (died) { failed = true; logLines.push(`- **server (${name}) exited during ${died.phase}**`); }
  logLines.push(`- server (${name}): ${lines.length} log lines, ${hits.length} suspicious${hits.length ? `, first: \`${hits.slice(0, 3).map((h) => h.slice(0, 160)).join("` / `")}\`` : ""}`);
}
if (logLines.length) out.push("Server logs (raw/server-*.log):", "", ...logLines, "");

fs.mkdirSync(path.dirname(f.out), { recursive: true });
fs.writeFileSync(f.out, out.join("\n"));
process.stdout.write(out.join("\n") + "\n");
process.exit(failed ? 1 : violations.length ? 3 : 0);
