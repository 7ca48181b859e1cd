// Renders results/latest.md from what run.sh collected.
//
//   node render.mjs --dir WORKDIR --meta meta.json --out FILE
//
// Reads WORKDIR/overhead.json (prefill 0, N replays per mode) and WORKDIR/wall.json
// (prefill P, a few replays per mode), both written by replay.mjs, plus
// WORKDIR/tether-log.json (suspicious server log lines). Prints the markdown and writes it
// to FILE. Exit code: 0 all modes ran clean; 3 protocol notes or server log warnings;
// 1 a mode failed (its cells say so and the failure is quoted below the table).
import fs from "node:fs";
import path from "node:path";
import { buildTrace, chatMessages, fullInput } from "./trace.mjs";

const argv = process.argv.slice(2);
const opt = (k) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : undefined; };
const dir = opt("dir"), out = opt("out");
const meta = JSON.parse(fs.readFileSync(opt("meta"), "utf8"));
const load = (name) => {
  const p = path.join(dir, name);
  if (!fs.existsSync(p)) return { error: `${name}: no result (phase did not run)` };
  try { return JSON.parse(fs.readFileSync(p, "utf8")); } catch (e) { return { error: `${name}: unreadable (${e.message})` }; }
};
const OV = load("overhead.json"), WALL = load("wall.json"), LOG = load("tether-log.json");
const MODES = meta.modes;
const LABEL = { direct: "direct (upstream, no Tether)", stateless: "stateless HTTP (full input, store:false)", chained: "HTTP + previous_response_id (store:true)", ws: "WebSocket mode (store:false)", "ws-deflate": "WebSocket mode, client offers permessage-deflate" };

const median = (a) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const pct = (a, p) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]; };
const fmtN = (v, d = 0) => (v == null || !Number.isFinite(v) ? "n/a" : v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const kb = (b) => (b == null ? "n/a" : `${fmtN(b / 1000, 1)} kB`);
const ms = (v, d = 2) => (v == null ? "n/a" : `${fmtN(v, d)} ms`);

/** {ok, runs, error} for a mode in a phase. */
const modeOf = (phase, m) => {
  if (phase.error) return { error: phase.error };
  const x = phase.modes?.[m];
  if (!x) return { error: "not run" };
  return { runs: x.runs ?? [], error: x.error, notes: x.notes };
};
/** Per-turn medians across the replays of a mode (only replays that completed). */
const perTurnMedians = (runs) => {
  if (!runs.length) return null;
  const n = runs[0].turn_ms.length;
  return Array.from({ length: n }, (_, t) => median(runs.map((r) => r.turn_ms[t])));
};

let failed = false, dirty = false;
const fails = [];
const overheadOf = {}, turnMed = {}, wallOf = {};
for (const m of MODES) {
  const o = modeOf(OV, m);
  if (o.error) { failed = true; fails.push([`overhead phase (prefill 0), ${m}`, o.error]); }
  turnMed[m] = o.error ? null : perTurnMedians(o.runs);
  const w = modeOf(WALL, m);
  if (w.error) { failed = true; fails.push([`wall-time phase (prefill ${meta.params.prefill}), ${m}`, w.error]); }
  wallOf[m] = w.error ? null : {
    bytes_out: median(w.runs.map((r) => r.bytes_out)),
    bytes_in: median(w.runs.map((r) => r.bytes_in)),
    bytes_out_all: w.runs.map((r) => r.bytes_out),
    total_ms: median(w.runs.map((r) => r.total_ms)),
    median_turn: median(perTurnMedians(w.runs)),
    upstream: w.runs[0]?.upstream,
    usage_in: w.runs[0]?.usage_input_tokens, usage_cached: w.runs[0]?.usage_cached_tokens,
    reps: w.runs.length,
    extensions: w.runs[0]?.ws_extensions,
  };
}
for (const m of MODES) {
  if (m === "direct" || !turnMed[m] || !turnMed.direct) { overheadOf[m] = null; continue; }
  const diffs = turnMed[m].map((v, t) => v - turnMed.direct[t]);
  overheadOf[m] = { median: median(diffs), p90: pct(diffs, 90), diffs };
}

// ---- the overhead before the answer starts and while it streams (overhead phase) ----------------
// Older raw files have no first_ms: the split is left out.
const perTurnFirst = (runs) =>
  runs?.length && runs.every((r) => Array.isArray(r.first_ms))
    ? Array.from({ length: runs[0].first_ms.length }, (_, t) => median(runs.map((r) => r.first_ms[t])))
    : null;
const firstMed = {};
for (const m of MODES) firstMed[m] = turnMed[m] ? perTurnFirst(modeOf(OV, m).runs) : null;
const splitRows = [];
for (const m of MODES) {
  if (m === "direct" || !overheadOf[m] || !firstMed[m] || !firstMed.direct) continue;
  const before = firstMed[m].map((v, t) => v - firstMed.direct[t]);
  const during = turnMed[m].map((v, t) => (v - firstMed[m][t]) - (turnMed.direct[t] - firstMed.direct[t]));
  splitRows.push(`| ${LABEL[m]} | ${ms(median(firstMed.direct), 3)} → ${ms(median(firstMed[m]), 3)} | ${ms(median(before), 3)} | ${ms(median(during), 3)} | ${ms(overheadOf[m].median, 3)} |`);
}
const splitTable = splitRows.length
  ? ["", "## Where the overhead is: before the answer starts, and while it streams (overhead phase, prefill 0)", "",
    "| Mode | Time to the first piece of the answer, median over turns (direct → this mode) | Overhead before it, median | Overhead while streaming, median | Whole turn, median (the table above) |",
    "|---|---|---|---|---|", ...splitRows, "",
    "The first piece of the answer is the first chunk with non-empty content or tool-call arguments from the upstream (direct), or the first `*.delta` event from Tether. The overhead before it is Tether's work on the request (parsing, the chain, the upstream request's body, the hand-offs to the upstream connection) and on the upstream's first chunk; the overhead while streaming is what the rest of the answer takes longer through Tether. Each is a median over turns of per-turn medians, so the two need not add up to the whole."]
  : [];

const stateless = wallOf.stateless?.bytes_out;
const P = meta.params.prefill;
const head = ["Mode", "Client→server bytes", "Ratio vs stateless", "% fewer than stateless", "Server→client bytes", `Wall time, whole trace (prefill ${P} µs/token)`, `Median turn (prefill ${P})`, "Tether overhead per turn vs direct, median / p90 (prefill 0)"];
const rows = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
for (const m of MODES) {
  const w = wallOf[m], o = overheadOf[m];
  const failCell = (e) => `failed: ${String(e.message ?? e).slice(0, 100).replace(/\|/g, "/")}`;
  const wm = modeOf(WALL, m), om = modeOf(OV, m);
  const cells = [m === "ws-deflate" && w ? `${LABEL[m]} (${w.extensions ? `negotiated: \`${w.extensions}\`` : "server declined it: plain frames"})` : LABEL[m]];
  if (!w || wm.error) {
    cells.push(failCell(wm.error ?? "no result"), "—", "—", "—", "—", "—");
  } else {
    const r = stateless && m !== "direct" ? w.bytes_out / stateless : null;
    cells.push(`${fmtN(w.bytes_out)} (${kb(w.bytes_out)})`, m === "direct" ? "— (to the upstream)" : r == null ? "n/a" : `${r.toFixed(3)}×`, m === "direct" || r == null ? "—" : `${(100 * (1 - r)).toFixed(1)}%`, `${fmtN(w.bytes_in)} (${kb(w.bytes_in)})`, ms(w.total_ms, 0), ms(w.median_turn));
  }
  if (m === "direct") cells.push(om.error ? failCell(om.error) : "baseline");
  else cells.push(om.error ? failCell(om.error) : o ? `${ms(o.median, 3)} / ${ms(o.p90, 3)}` : "n/a");
  rows.push(`| ${cells.join(" | ")} |`);
}

// ---- Tether's CPU per request (overhead phase) --------------------------------------------
const cpuRows = [];
for (const m of MODES) {
  if (m === "direct") continue;
  const runs = (modeOf(OV, m).runs ?? []).filter((r) => r.server_cpu_ms != null);
  if (!runs.length) continue;
  const requests = runs.reduce((a, r) => a + r.turn_ms.length, 0);
  const cpu = runs.reduce((a, r) => a + r.server_cpu_ms, 0) / requests;
  const jit = runs.some((r) => r.server_jit_ms == null) ? null : runs.reduce((a, r) => a + r.server_jit_ms, 0) / requests;
  cpuRows.push(`| ${LABEL[m]} | ${ms(cpu, 3)} | ${jit == null ? "n/a" : ms(jit, 3)} | ${jit == null ? "n/a" : ms(cpu - jit, 3)} | ${overheadOf[m] ? ms(overheadOf[m].median, 3) : "n/a"} |`);
}
const cpuTable = cpuRows.length
  ? ["", "## Tether's CPU per request (overhead phase, prefill 0)", "",
    "| Mode | Server CPU per request | of which JIT compiler threads | without the JIT | Overhead per turn (median, from the table above) |",
    "|---|---|---|---|---|", ...cpuRows, "",
    "Server CPU = the running time of Tether's JVM threads (from /proc/PID/task/*/schedstat, in ns) over the measured replays of the mode, divided by their requests, the kernel's work for its sockets included. Only that mode's requests run during its replays. The JIT part is the JVM's C1/C2 compiler threads: it falls as the server warms up (`--warmup`), and what remains is the steady cost of a request. When Tether has one pinned CPU (the default), this work lengthens a turn wherever it does not overlap the upstream's own work; the rest of the overhead is waiting (hand-offs between threads, the network)."]
  : [];

// ---- targets ----------------------------------------------------------------------------
const verdict = (ok) => (ok == null ? "n/a" : ok ? "**met**" : "**not met**");
const targets = ["", "## Targets", "", "| Target | This run | Verdict |", "|---|---|---|"];
{
  const w = wallOf.ws?.bytes_out;
  const fewer = w != null && stateless ? 1 - w / stateless : null;
  targets.push(`| WebSocket mode sends ≥ 90% fewer client→server bytes than stateless HTTP | ${fewer == null ? "n/a" : `${(100 * fewer).toFixed(1)}% fewer (${kb(w)} vs ${kb(stateless)})`} | ${verdict(fewer == null ? null : fewer >= 0.9)} |`);
  const wd = wallOf["ws-deflate"]?.bytes_out;
  if (wd != null && stateless) {
    const f2 = 1 - wd / stateless;
    targets.push(`| (same, with permessage-deflate offered; ${wallOf["ws-deflate"].extensions ? "negotiated" : "declined by the server"}) | ${(100 * f2).toFixed(1)}% fewer (${kb(wd)}) | ${verdict(f2 >= 0.9)} |`);
  }
  for (const m of ["stateless", "chained", "ws", "ws-deflate"]) {
    if (!MODES.includes(m)) continue;
    const o = overheadOf[m];
    targets.push(`| Tether overhead per turn < 1 ms at the median, ${m} (loopback, prefill 0) | ${o ? `${ms(o.median, 3)} (p90 ${ms(o.p90, 3)})` : "n/a"} | ${verdict(o ? o.median < 1 : null)} |`);
  }
}

// ---- what the bytes are made of (computed from the trace, not measured) --------------------
const trace = buildTrace({ seed: meta.params.seed, turns: meta.params.turns });
const N = trace.turns.length;
const fixed = Buffer.byteLength(JSON.stringify({ instructions: trace.instructions, tools: trace.tools }));
let incremental = 0, statelessInputs = 0;
for (let k = 0; k <= N; k++) {
  incremental += Buffer.byteLength(JSON.stringify(k === 0 ? fullInput(trace, 0) : [{ type: "function_call_output", call_id: trace.turns[k - 1].call.call_id, output: trace.turns[k - 1].output }]));
  statelessInputs += Buffer.byteLength(JSON.stringify(fullInput(trace, k)));
}
const composition = [
  "",
  "## What the client→server bytes are made of",
  "",
  `Computed from the trace (JSON sizes of the request fields), not measured: ${N + 1} requests; \`instructions\` + \`tools\` = ${kb(fixed)} per request, sent on every request in every mode (they are not inherited through \`previous_response_id\`), ${kb(fixed * (N + 1))} in all.`,
  `The \`input\` items: ${kb(statelessInputs)} in all in stateless mode (the whole history every turn), ${kb(incremental)} with \`previous_response_id\` (only the new item each turn).`,
  `So previous_response_id / WebSocket mode can at best send (${kb(fixed * (N + 1))} + ${kb(incremental)}) ÷ (${kb(fixed * (N + 1))} + ${kb(statelessInputs)}) = ${((fixed * (N + 1) + incremental) / (fixed * (N + 1) + statelessInputs)).toFixed(3)}× the stateless bytes on this trace, before HTTP/WebSocket framing; the resent instructions and tools are ${wallOf.ws?.bytes_out ? `${(100 * fixed * (N + 1) / wallOf.ws.bytes_out).toFixed(0)}% of the measured WebSocket bytes` : "most of what remains"}.`,
];

// ---- upstream side --------------------------------------------------------------------------
const up = ["", `## Upstream work per replay (wall-time phase, prefill ${P} µs/token, prefix cache ${meta.params.prefix_cache ? "on" : "off"})`, "",
  "| Mode | Requests | Request body bytes received | Prompt tokens | Cached tokens | Prefill slept | Tether's reported usage: input / cached tokens |", "|---|---|---|---|---|---|---|"];
for (const m of MODES) {
  const w = wallOf[m];
  if (!w?.upstream) { up.push(`| ${m} | n/a | | | | | |`); continue; }
  const u = w.upstream;
  up.push(`| ${m} | ${u.requests} | ${fmtN(u.body_bytes_in)} | ${fmtN(u.prompt_tokens)} | ${fmtN(u.cached_tokens)} (${(100 * u.cached_tokens / u.prompt_tokens).toFixed(0)}%) | ${ms(u.prefill_us / 1000, 0)} | ${m === "direct" ? "—" : `${fmtN(w.usage_in)} / ${fmtN(w.usage_cached)}`} |`);
  if (u.context_errors) dirty = true;
}

// ---- per-turn medians ------------------------------------------------------------------------
const tmodes = MODES.filter((m) => turnMed[m]);
const per = ["", "## Per-turn medians, overhead phase (prefill 0)", "",
  `Median over ${meta.params.reps} replays of each turn's time (request written → terminal event received); "+" columns are that minus direct.`, "",
  `| Turn | Answer | Chat context sent upstream | ${tmodes.map((m) => `${m} ms`).join(" | ")} | ${tmodes.filter((m) => m !== "direct" && overheadOf[m]).map((m) => `+${m}`).join(" | ")} |`,
  `|---|---|---|${tmodes.map(() => "---").join("|")}|${tmodes.filter((m) => m !== "direct" && overheadOf[m]).map(() => "---").join("|")}|`];
for (let t = 0; t <= N; t++) {
  const ans = t < N ? trace.turns[t].call.name : "final text";
  const ctx = Buffer.byteLength(JSON.stringify(chatMessages(trace, t)));
  per.push(`| ${t} | ${ans} | ${kb(ctx)} | ${tmodes.map((m) => fmtN(turnMed[m][t], 2)).join(" | ")} | ${tmodes.filter((m) => m !== "direct" && overheadOf[m]).map((m) => fmtN(overheadOf[m].diffs[t], 3)).join(" | ")} |`);
}

// ---- protocol notes, failures, server log -------------------------------------------------------
const notesMd = [];
for (const m of MODES) {
  for (const [phase, ph] of [["overhead", OV], ["wall", WALL]]) {
    const n = modeOf(ph, m).notes;
    if (n && Object.keys(n.counts).length) {
      dirty = true;
      if (!notesMd.length) notesMd.push("", "## Protocol notes (deviations that did not stop the run)", "", "| Mode | Phase | Deviation | Count | First example |", "|---|---|---|---|---|");
      for (const [k, c] of Object.entries(n.counts)) notesMd.push(`| ${m} | ${phase} | ${k} | ${c} | ${String(n.examples[k]).replace(/\|/g, "/").replace(/\n/g, " ")} |`);
    }
  }
}
const failMd = [];
if (fails.length) {
  failMd.push("", "## Failures", "");
  for (const [where, e] of fails) {
    failMd.push(`**${where}**: ${String(e.message ?? e)}`, "");
    if (e.details) failMd.push("```json", JSON.stringify({ during: e.during, ...e.details }, null, 1).slice(0, 6000), "```", "");
  }
}
const logMd = [];
if (!LOG.error && (LOG.suspicious || LOG.died_during)) {
  dirty = true;
  logMd.push("", `Tether log: ${LOG.suspicious} suspicious line(s) (exception/error/warn/stack frame)${LOG.died_during ? `; **the server exited during ${LOG.died_during}**` : ""}. First ones:`, "", "```", ...(LOG.first ?? []).map((l) => l.slice(0, 300)), "```");
}

const p = meta.params;
const md = [
  "# Responses API benchmark: stateless HTTP vs previous_response_id vs WebSocket mode",
  "",
  ...(p.reps < 5 ? [`> **Short run** (${p.reps} replays per mode in the overhead phase; default 5): a smoke test, not a result.`, ""] : []),
  `- Date: ${meta.date} (run took ${meta.elapsed_s} s)`,
  `- Command: \`${meta.command}\``,
  `- Tether: \`${meta.tether_cmd}\` (${meta.tether_rev}); bench scripts at ${meta.bench_rev}`,
  `- Machine: ${meta.nproc} CPUs (nproc), ${meta.cpu}, kernel ${meta.kernel}; load average at start ${meta.loadavg}`,
  `- Pinning: ${meta.pinning}`,
  `- Versions: ${meta.versions}`,
  `- Trace: seed ${p.seed}, ${p.turns} tool-calling turns + final text (${p.turns + 1} requests per replay); instructions ${kb(Buffer.byteLength(trace.instructions))}, 4 function tools ${kb(Buffer.byteLength(JSON.stringify(trace.tools)))}, tool outputs ${kb(trace.turns.reduce((a, t) => a + Buffer.byteLength(t.output), 0))} in all (${kb(Math.min(...trace.turns.map((t) => Buffer.byteLength(t.output))))}–${kb(Math.max(...trace.turns.map((t) => Buffer.byteLength(t.output))))} each); upstream streams ${p.chunk_chars} characters per chunk`,
  `- Phases: warm-up ${p.warmup} untimed replay(s) per mode; overhead phase prefill 0, ${p.reps} replays per mode, interleaved; wall-time phase prefill ${P} µs per uncached prompt token, prefix cache ${p.prefix_cache ? "on" : "off"}, ${p.wall_warmup} untimed + ${p.wall_reps} measured replay(s) per mode. Every replay starts with an empty upstream prefix cache and fresh connections.`,
  "",
  ...rows,
  "",
  `Bytes are measured on the client's sockets (\`socket.bytesWritten\` / \`bytesRead\` over every socket of a replay: HTTP headers, chunked framing, WebSocket handshake and frame headers included; no HTTP compression, and WebSocket frames are compressed only in the permessage-deflate row), median over the wall-time replays. Each request is sent only after the previous response's HTTP body (or terminal WebSocket event) has been received in full. Wall time = first request (connection set-up included) → terminal event of the last turn, median over the wall-time replays. Overhead = median over turns of (this mode's per-turn median − direct's per-turn median), with p90 over turns, from the overhead phase.`,
  ...cpuTable,
  ...splitTable,
  ...targets,
  ...composition,
  ...up,
  ...per,
  ...notesMd,
  ...failMd,
  ...logMd,
  "",
  "Raw outputs (replay JSON, server and upstream logs, meta.json) are in results/raw/ next to this file.",
  "",
].join("\n");

process.stdout.write(md);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, md);
process.exit(failed ? 1 : dirty ? 3 : 0);
