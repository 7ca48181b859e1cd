// Renders results/latest.md from the files bench/cluster/run.sh collected in WORKDIR:
//   <N>n-append[-warmup]-nI.json  wrk BENCH_JSON per node      <N>n-{before,after}.snap   CPU/disk
//   <N>n-{before,after}.redis-info  Redis INFO + commandstats   <N>n-verify.json  read-back
//   <N>n-sse.json, <N>n-cross.json  sse.mjs results             <N>n-log.json     node log scan
// Prints the markdown on stdout and writes it to --out.
// Exit code: 0 = all present and clean, 3 = a correctness check failed, 1 = a scenario failed to run.
// Usage: node render.mjs --dir WORKDIR --meta meta.json --out FILE
import fs from "node:fs";
import path from "node:path";
import { flags } from "../streams/http.mjs";

const f = flags();
const meta = JSON.parse(fs.readFileSync(f.meta, "utf8"));
const sizes = meta.nodes;
const P = meta.params;
const file = (name) => path.join(f.dir, name);
const load = (name) => {
  if (!fs.existsSync(file(name))) return { error: "no result (did not run)" };
  try { return JSON.parse(fs.readFileSync(file(name), "utf8")); } catch (e) { return { error: `unreadable: ${e.message}` }; }
};
const text = (name) => (fs.existsSync(file(name)) ? fs.readFileSync(file(name), "utf8") : null);

// "key value..." lines of a .snap file
const parseSnap = (name) => {
  const t = text(name);
  if (t == null) return null;
  const s = { procs: {} };
  for (const line of t.split("\n")) {
    const w = line.trim().split(/\s+/);
    if (w[0] === "time_ns") s.time_ns = Number(w[1]);
    else if (w[0] === "cpu") {
      const v = w.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
      s.cpu_total = v.reduce((a, b) => a + b, 0);
      s.cpu_idle = v[3] + v[4];
    } else if (w[0] === "proc") s.procs[w[1]] = w[2] === undefined || w[2] === "" ? NaN : Number(w[2]);
    else if (w[0] === "disk") s.disk = { writes: +w[1], sectors: +w[2], flushes: +w[3], flush_ms: +w[4] };
  }
  return s;
};
// Redis INFO "key:value" lines, and commandstats' usec/calls summed over all commands
const parseInfo = (name) => {
  const t = text(name);
  if (t == null) return null;
  const r = { cmd_usec: 0, cmd_calls: 0, cmds: {} };
  for (const line of t.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) { r.cmd_calls += +m[2]; r.cmd_usec += +m[3]; r.cmds[m[1]] = { calls: +m[2], usec: +m[3] }; continue; }
    const i = line.indexOf(":");
    if (i > 0) r[line.slice(0, i)] = line.slice(i + 1);
  }
  return r;
};

const wrkRate = (r) => (r.error ? null : r.ok / (r.duration_us / 1e6));
const sockets = (r) => (r && !r.error ? Object.values(r.socket_errors).reduce((a, b) => a + b, 0) : 0);

// CPU (processes, machine), disk flushes and Redis counters between two snapshots
const usage = (before, after) => {
  const b = parseSnap(`${before}.snap`), a = parseSnap(`${after}.snap`);
  const ib = parseInfo(`${before}.redis-info`), ia = parseInfo(`${after}.redis-info`);
  if (!b || !a) return { error: "no CPU snapshots" };
  const wall = (a.time_ns - b.time_ns) / 1e9, hz = meta.clk_tck;
  const cpu = {};
  for (const k of Object.keys(a.procs)) cpu[k] = (a.procs[k] - b.procs[k]) / hz;
  const busy = (a.cpu_total - a.cpu_idle - (b.cpu_total - b.cpu_idle)) / hz;
  const tether = Object.entries(cpu).filter(([k]) => k !== "redis").map(([, s]) => s);
  const tetherSum = tether.reduce((x, y) => x + y, 0);
  const u = { wall, redis: cpu.redis, tether, tetherSum, busy, other: busy - cpu.redis - tetherSum };
  if (a.disk && b.disk) {
    u.flushes_s = (a.disk.flushes - b.disk.flushes) / wall;
    u.flush_ms_s = (a.disk.flush_ms - b.disk.flush_ms) / wall;
  }
  if (ia && ib && ia.used_cpu_user_main_thread != null) {
    u.redis_main = +ia.used_cpu_user_main_thread + +ia.used_cpu_sys_main_thread
      - +ib.used_cpu_user_main_thread - +ib.used_cpu_sys_main_thread;
    u.redis_cmds = +ia.total_commands_processed - +ib.total_commands_processed;
    u.redis_cmd_s = (ia.cmd_usec - ib.cmd_usec) / 1e6;
    // the busiest commands by time, for the notes
    u.top = Object.entries(ia.cmds).map(([k, x]) => [k, x.calls - (ib.cmds[k]?.calls ?? 0), x.usec - (ib.cmds[k]?.usec ?? 0)])
      .filter((x) => x[1] > 0).sort((x, y) => y[2] - x[2]).slice(0, 4);
  }
  return u;
};

// Everything per cluster size
const C = {};
for (const n of sizes) {
  const tag = `${n}n`;
  const c = (C[n] = { n });
  const wrks = [], warms = [];
  for (let i = 1; i <= n; i++) {
    wrks.push(load(`${tag}-append-n${i}.json`));
    warms.push(P.warmup === 0 ? { ok: 0, socket_errors: {} } : load(`${tag}-append-warmup-n${i}.json`));
  }
  const werr = wrks.find((r) => r.error);
  c.append = werr ? { error: werr.error } : {
    rate: wrks.reduce((a, r) => a + wrkRate(r), 0),
    per_node: wrks.map(wrkRate),
    ok: wrks.reduce((a, r) => a + r.ok, 0),
    errors: wrks.reduce((a, r) => a + r.bad_status + sockets(r), 0),
    p50: Math.max(...wrks.map((r) => r.lat_us.p50)) / 1000,
    p99: Math.max(...wrks.map((r) => r.lat_us.p99)) / 1000,
    seconds: Math.max(...wrks.map((r) => r.duration_us / 1e6)),
  };
  const v = load(`${tag}-verify.json`);
  if (!v.error && !c.append.error && !warms.some((r) => r.error)) {
    v.acked = c.append.ok + warms.reduce((a, r) => a + r.ok, 0);
    // each wrk stops with its connections' requests in flight; the server may still store them
    v.slack = 2 * P.conns + wrks.reduce((a, r) => a + sockets(r), 0) + warms.reduce((a, r) => a + sockets(r), 0);
    v.missing = Math.max(0, v.acked - v.stored_appends);
    v.extra = Math.max(0, v.stored_appends - v.acked - v.slack);
  } else if (!v.error) v.error = "append runs have no result to compare with";
  c.verify = v;

  // CPU and disk over the measured append run, and over the whole SSE fan-out run
  c.cpu = usage(`${tag}-before`, `${tag}-after`);
  c.sseCpu = usage(`${tag}-sse-before`, `${tag}-sse-after`);
  c.sse = load(`${tag}-sse.json`);
  c.cross = n >= 2 ? load(`${tag}-cross.json`) : { na: true };
  c.log = load(`${tag}-log.json`);
}

const fmt = (v, d = 0) => {
  if (v == null || (typeof v === "number" && !Number.isFinite(v))) return "n/a";
  if (typeof v === "string") return v;
  return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
};
const pct = (x) => (x == null || !Number.isFinite(x) ? "n/a" : `${(100 * x).toFixed(0)}%`);
const pair = (a, b, d = 2) => `${fmt(a, d)} / ${fmt(b, d)}`;
const sum = (o) => (o ? Object.values(o).reduce((a, b) => a + b, 0) : null);

// [label, unit, better, source key, getter]; better: "up" | "down" | "=0" | ""
const rows = [
  ["(1) Appends/s, all nodes", "appends/s", "up", "append", (c) => fmt(c.append.rate)],
  ["(1) Appends/s per node (n1 / n2 / …)", "appends/s", "", "append", (c) => c.append.per_node.map((x) => fmt(x)).join(" / ")],
  ["(1) Append latency p50 / p99 (worst node's wrk)", "ms", "down", "append", (c) => pair(c.append.p50, c.append.p99)],
  ["(1) Append errors (non-204 + socket)", "count", "=0", "append", (c) => c.append.errors],
  ["(1) Acked appends missing on read-back", "count", "=0", "verify", (c) => c.verify.missing],
  ["(1) Unacked appends stored beyond in-flight slack", "count", "=0", "verify", (c) => c.verify.extra],
  ["(1) Read-back content errors", "count", "=0", "verify", (c) => c.verify.content_errors],
  ["(1) Redis CPU, whole process (% of one core)", "s", "", "cpu", (c) => `${fmt(c.cpu.redis, 1)} (${pct(c.cpu.redis / c.cpu.wall)})`],
  ["(1) Redis main thread CPU (% of one core)", "s", "", "cpu", (c) => `${fmt(c.cpu.redis_main, 1)} (${pct(c.cpu.redis_main / c.cpu.wall)})`],
  ["(1) Tether CPU per node (n1 / n2 / …)", "s", "", "cpu", (c) => c.cpu.tether.map((x) => fmt(x, 1)).join(" / ")],
  ["(1) Tether CPU, all nodes (% of one core)", "s", "", "cpu", (c) => `${fmt(c.cpu.tetherSum, 1)} (${pct(c.cpu.tetherSum / c.cpu.wall)})`],
  ["(1) Machine CPU busy (% of all cores)", "s", "", "cpu", (c) => `${fmt(c.cpu.busy, 1)} (${pct(c.cpu.busy / (c.cpu.wall * meta.nproc))})`],
  ["(1) of which not Redis/Tether (wrk, kernel, other)", "s", "", "cpu", (c) => fmt(c.cpu.other, 1)],
  ["(1) Redis commands per acked append", "count", "", "cpu", (c) => fmt(c.cpu.redis_cmds / c.append.ok, 2)],
  ["(1) Redis command execution time per acked append", "µs", "", "cpu", (c) => fmt((1e6 * c.cpu.redis_cmd_s) / c.append.ok, 1)],
  ["(1) Disk flushes (fsyncs) per second / ms flushing per second", "1/s, ms/s", "", "cpu", (c) => pair(c.cpu.flushes_s, c.cpu.flush_ms_s, 0)],
  ["(1) Appends per disk flush", "count", "", "cpu", (c) => fmt(c.append.rate / c.cpu.flushes_s, 1)],
  ["(2) SSE fan-out latency p50", "ms", "down", "sse", (c) => fmt(c.sse.all.p50, 2)],
  ["(2) SSE fan-out latency p99", "ms", "down", "sse", (c) => fmt(c.sse.all.p99, 2)],
  ["(2) SSE fan-out latency max", "ms", "down", "sse", (c) => fmt(c.sse.all.max, 2)],
  ["(2) p50 / p99, subscribers on the writer's node", "ms", "down", "sse", (c) => pair(c.sse.same_node.p50, c.sse.same_node.p99)],
  ["(2) p50 / p99, subscribers on other nodes", "ms", "down", "sse", (c) => (c.sse.cross_node.subscribers ? pair(c.sse.cross_node.p50, c.sse.cross_node.p99) : "—")],
  ["(2) Writer append latency p50 / p99", "ms", "down", "sse", (c) => pair(c.sse.append_lat_ms.p50, c.sse.append_lat_ms.p99)],
  ["(2) Writer rate achieved", "events/s", "", "sse", (c) => fmt(c.sse.write_rate, 1)],
  ["(2) Subscribers connected / complete", "count", "", "sse", (c) => `${c.sse.connected} / ${c.sse.subscribers_complete} of ${c.sse.subscribers}`],
  ["(2) Tether CPU, all nodes / Redis main thread, during the fan-out run", "% of one core", "", "sseCpu", (c) => `${pct(c.sseCpu.tetherSum / c.sseCpu.wall)} / ${pct(c.sseCpu.redis_main / c.sseCpu.wall)}`],
  ["(2) Redis commands per appended event (fan-out run)", "count", "", "sseCpu", (c) => fmt(c.sseCpu.redis_cmds / c.sse.events, 1)],
  ["(2) Client handler time per event, all subscribers", "ms", "", "sse", (c) => fmt(c.sse.client_handler_ms_per_event, 2)],
  ["(2) Lost + duplicate + out-of-order deliveries", "count", "=0", "sse", (c) => c.sse.lost + c.sse.duplicates + c.sse.out_of_order],
  ["(2) Writer errors + parse errors", "count", "=0", "sse", (c) => sum(c.sse.write_errors) + c.sse.parse_errors],
  ["(3) Cross-node delivery latency p50", "ms", "down", "cross", (c) => fmt(c.cross.cross_node.p50, 2)],
  ["(3) Cross-node delivery latency p99", "ms", "down", "cross", (c) => fmt(c.cross.cross_node.p99, 2)],
  ["(3) Cross-node delivery latency max", "ms", "down", "cross", (c) => fmt(c.cross.cross_node.max, 2)],
  ["(3) Same-node reader p50 / p99 (same run, for comparison)", "ms", "down", "cross", (c) => pair(c.cross.same_node.p50, c.cross.same_node.p99)],
  ["(3) Cross-node samples (events × other-node readers)", "count", "", "cross", (c) => c.cross.cross_node.samples],
  ["(3) Lost + duplicate + out-of-order + writer errors", "count", "=0", "cross", (c) => c.cross.lost + c.cross.duplicates + c.cross.out_of_order + sum(c.cross.write_errors) + c.cross.parse_errors],
  ["Node logs: exception/error/warning lines", "count", "=0", "log", (c) => c.log.suspicious],
  ["A node exited before the end of its run", "", "=0", "log", (c) => c.log.died_during ?? 0],
];

let failed = false, dirty = false;
const head = ["Metric", "Unit", ...sizes.map((n) => (n === 1 ? "1 node" : `${n} nodes`)), "Better"];
const table = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i >= 2 && i < head.length - 1 ? "---:" : "---")).join("|")}|`];
for (const [label, unit, better, key, get] of rows) {
  const cells = sizes.map((n) => {
    const c = C[n];
    const src = c[key];
    if (src?.na) return "—";
    if (src?.error) { failed = true; return `failed: ${src.error}`.replace(/\|/g, "/").slice(0, 120); }
    if ((key === "cpu" && c.append.error) || (key === "sseCpu" && c.sse.error)) return "n/a";
    let v;
    try { v = get(c); } catch { v = null; }
    if (better === "=0" && v !== 0 && v !== "0") { if (v == null) failed = true; else dirty = true; }
    return typeof v === "number" ? fmt(v) : v ?? "n/a";
  });
  table.push(`| ${[label, unit, ...cells, better === "up" ? "higher" : better === "down" ? "lower" : better === "=0" ? "must be 0" : ""].join(" | ")} |`);
}

// What bounds append throughput, per cluster size, from the CPU figures
const bounds = ["", "## What bounds append throughput", ""];
for (const n of sizes) {
  const c = C[n], u = c.cpu;
  if (u.error || c.append.error) { bounds.push(`- **${n} node${n > 1 ? "s" : ""}**: n/a`); continue; }
  const machine = u.busy / (u.wall * meta.nproc), redisMain = (u.redis_main ?? u.redis) / u.wall;
  const facts = `machine CPUs ${pct(machine)} busy (Tether ${pct(u.tetherSum / u.busy)}, Redis ${pct(u.redis / u.busy)}, rest ${pct(u.other / u.busy)} of the busy time); ` +
    `Redis main thread ${pct(redisMain)} of one core; ${fmt(u.flushes_s)} disk flushes/s, ${fmt(u.flush_ms_s)} ms flushing per s`;
  let verdict;
  if (redisMain >= 0.85) verdict = "**Redis's single main thread** is (nearly) saturated";
  else if (machine >= 0.9) verdict = `**the machine's ${meta.nproc} CPUs** are saturated (shared by ${n} JVM${n > 1 ? "s" : ""}, Redis and the load generator)`;
  else if (u.flush_ms_s >= 800) verdict = "**the disk's flushes** (Redis fsyncs the AOF before replying; the device spends most of each second flushing)";
  else verdict = "**neither CPU nor Redis's main thread is saturated**: latency-bound (round trips node↔Redis and AOF fsyncs per Redis event-loop pass, with 64 requests in flight at most)";
  bounds.push(`- **${n} node${n > 1 ? "s" : ""}**: ${verdict}. ${facts}.`);
  if (u.top?.length) bounds.push(`  Busiest Redis commands: ${u.top.map(([k, calls, us]) => `${k} ${fmt(calls)} calls, ${fmt(us / 1e6, 2)} s`).join("; ")}.`);
}

const notes = [];
for (const n of sizes) {
  const r = C[n].log;
  if (!r.error && r.first?.length) {
    notes.push("", `${n} node${n > 1 ? "s" : ""}, first suspicious node log lines (of ${r.suspicious}):`, "", "```", ...r.first.map((l) => l.slice(0, 300)), "```");
  }
}
const redisLog = text("redis.log");
if (redisLog) {
  const w = redisLog.split("\n").filter((l) => /WARNING|error/i.test(l));
  if (w.length) notes.push("", `redis-server log, warning lines (informational, ${w.length}):`, "", "```", ...w.slice(0, 5).map((l) => l.slice(0, 300)), "```");
}

const md = [
  "# Tether cluster benchmark: 1..N nodes on one Redis",
  "",
  ...(P.duration < 10 || P.warmup < 5
    ? [`> **Short run** (${P.warmup} s warm-up, ${P.duration} s phases; full run: 5 s + 10 s): a smoke test of the harness, not a result.`, ""]
    : []),
  `- Date: ${meta.date} (run took ${meta.elapsed_s} s)`,
  `- Command: \`${meta.command}\``,
  `- Machine: ${meta.host}; ${meta.load}`,
  `- Versions: ${meta.versions}`,
  `- Redis: one \`${meta.redis}\``,
  `- Nodes: \`${meta.node}\``,
  `- Shape: ${meta.shape}`,
  "",
  ...table,
  ...bounds,
  ...notes,
  "",
  "CPU seconds are over the measured append run only (utime + stime from /proc/PID/stat, all threads; the",
  "machine's from /proc/stat; Redis's main thread from its INFO). Latencies: wrk's per request (closed loop);",
  "SSE per delivered event per subscriber, receive time − send time on one clock (one Node process).",
  "Raw outputs (wrk text, client JSON and stderr, node and Redis logs, snapshots) are in raw/ next to this file.",
  "",
].join("\n");

process.stdout.write(md);
fs.mkdirSync(path.dirname(f.out), { recursive: true });
fs.writeFileSync(f.out, md);
process.exit(failed ? 1 : dirty ? 3 : 0);
