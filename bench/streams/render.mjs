// Renders the markdown results table from the JSON files run.sh collected.
// Usage: node render.mjs --dir WORKDIR --meta meta.json --out FILE
// Reads WORKDIR/<server>-<scenario>.json for server in {tether,node} and
// scenario in {append,noop,sse,catchup,catchupc,get}. A missing file or {"error":...}
// shows as "failed". Each measured phase's result carries server_cpu / load_cpu
// (CPU time of the server process and of the load generator over that phase; see
// cpu.mjs and run.sh). Prints the markdown on stdout and writes it to FILE.
// Exit code: 0 = all present and clean, 3 = a correctness check failed
// (non-2xx, lost/duplicate/out-of-order events), 1 = a scenario failed to run.
import fs from "node:fs";
import path from "node:path";
import { flags } from "./http.mjs";

const f = flags();
const meta = JSON.parse(fs.readFileSync(f.meta, "utf8"));
const servers = meta.servers; // e.g. ["tether", "node"]

const load = (srv, scen) => {
  const p = path.join(f.dir, `${srv}-${scen}.json`);
  if (!fs.existsSync(p)) return { error: "no result (scenario did not run)" };
  try { return JSON.parse(fs.readFileSync(p, "utf8")); } catch (e) { return { error: `unreadable result: ${e.message}` }; }
};
const R = {};
for (const s of servers) {
  for (const sc of ["append", "verify", "noop", "sse", "catchup", "catchupc", "get", "log"]) R[`${s}.${sc}`] = load(s, sc);
  // Appends acknowledged over every wrk run against the append streams (the server's
  // warm-up, the phase's warm-up and the measured run).
  const sw = load(s, "server-warmup"), w = load(s, "append-warmup"), a = R[`${s}.append`], v = R[`${s}.verify`];
  R[`${s}.server-warmup`] = sw;
  R[`${s}.server-warmup-sse`] = load(s, "server-warmup-sse");
  const runOk = (secs, r) => (!secs ? 0 : r.error ? null : r.ok);
  const warmOk = runOk(meta.params.warmup, w), serverWarmOk = runOk(meta.params.server_warmup, sw);
  if (!v.error && !a.error && warmOk != null && serverWarmOk != null) {
    const sockets = (r) => (r && !r.error ? Object.values(r.socket_errors).reduce((x, y) => x + y, 0) : 0);
    v.acked = serverWarmOk + warmOk + a.ok;
    // wrk stops with up to -c requests in flight per run; the server may still
    // store those (and requests that got a socket error), unacknowledged.
    v.slack = 3 * meta.params.conns + sockets(a) + sockets(w) + sockets(sw);
    v.missing = Math.max(0, v.acked - v.stored_appends);
    v.extra = v.stored_appends - v.acked;
  } else if (!v.error) {
    v.error = "append wrk runs have no result to compare with";
  }
}

const ms = (us) => (us == null ? null : us / 1000);
const wrkRate = (r) => (r.error ? null : r.ok / (r.duration_us / 1e6));
const wrkErrors = (r) => (r.error ? null : r.bad_status + Object.values(r.socket_errors).reduce((a, b) => a + b, 0));
// Server CPU over a measured phase (null when it could not be read).
const srvCpu = (r) => (r.server_cpu && r.server_cpu.cpu_s > 0 ? r.server_cpu.cpu_s : null);
const perCpu = (count) => (r) => (srvCpu(r) == null || count(r) == null ? null : count(r) / srvCpu(r));
const cpuUsed = (r) => (srvCpu(r) == null ? null
  : { v: r.server_cpu.cpu_s, text: `${r.server_cpu.cpu_s.toFixed(2)} (${r.server_cpu.cores.toFixed(2)} cores)` });

// [scenario, label, unit, better ("up"|"down"|"=0"|"info"|"ratio"), getter(result), digits]
// "ratio": no better direction, but the Tether / Node ratio is shown. A getter returns a
// number, a string, or {v: number, text} (v for the ratio, text for the cell).
const rows = [
  ["append", "(a) Append throughput", "appends/s", "up", wrkRate, 0],
  ["append", "(a) Append latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["append", "(a) Append latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["append", "(a) Append errors (non-204 + socket)", "count", "=0", wrkErrors, 0],
  ["append", "(a) Server CPU used", "CPU-s (cores)", "ratio", cpuUsed, 2],
  ["append", "(a) Appends per server CPU-second", "appends/CPU-s", "up", perCpu((r) => r.ok), 0],
  ["verify", "(a) Appends stored / acked (warm-ups + measured)", "count", "info", (r) => `${r.stored_appends} / ${r.acked}`, 0],
  ["verify", "(a) Acked appends missing on read-back", "count", "=0", (r) => r.missing, 0],
  ["verify", "(a) Unacked appends stored beyond in-flight slack", "count", "=0", (r) => Math.max(0, r.extra - r.slack), 0],
  ["verify", "(a) Read-back content errors", "count", "=0", (r) => r.content_errors, 0],
  ["noop", "(b) No-op throughput", "req/s", "up", wrkRate, 0],
  ["noop", "(b) No-op latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["noop", "(b) No-op latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["noop", "(b) No-op unexpected status + socket errors", "count", "=0", wrkErrors, 0],
  ["noop", "(b) No-op requests per server CPU-second", "req/CPU-s", "up", perCpu((r) => r.ok), 0],
  ["sse", "(c) SSE delivery latency p50", "ms", "down", (r) => r.lat_ms?.p50, 2],
  ["sse", "(c) SSE delivery latency p99", "ms", "down", (r) => r.lat_ms?.p99, 2],
  ["sse", "(c) SSE delivery latency max", "ms", "down", (r) => r.lat_ms?.max, 2],
  ["sse", "(c) SSE writer append latency p50", "ms", "down", (r) => r.append_lat_ms?.p50, 2],
  ["sse", "(c) SSE client handler time per event, all subscribers", "ms", "info", (r) => r.client_handler_ms_per_event, 2],
  ["sse", "(c) SSE writer rate achieved", "events/s", "info", (r) => r.write_rate, 1],
  ["sse", "(c) SSE subscribers connected", "count", "info", (r) => r.connected, 0],
  ["sse", "(c) SSE deliveries received / expected", "count", "info", (r) => (r.expected_deliveries == null ? null : `${r.received} / ${r.expected_deliveries}`), 0],
  ["sse", "(c) SSE lost deliveries", "count", "=0", (r) => r.lost, 0],
  ["sse", "(c) SSE duplicate deliveries", "count", "=0", (r) => r.duplicates, 0],
  ["sse", "(c) SSE out-of-order deliveries", "count", "=0", (r) => r.out_of_order, 0],
  ["sse", "(c) SSE writer errors + parse errors", "count", "=0", (r) => (r.write_errors ? Object.values(r.write_errors).reduce((a, b) => a + b, 0) + r.parse_errors : null), 0],
  ["sse", "(c) Server CPU during SSE (cores)", "cores", "down", (r) => (srvCpu(r) == null ? null : r.server_cpu.cores), 3],
  ["catchup", "(d) Catch-up read (node client), messages/s", "msg/s", "up", (r) => r.messages_per_s, 0],
  ["catchup", "(d) Catch-up read (node client), MB/s", "MB/s", "up", (r) => r.mb_per_s, 1],
  ["catchup", "(d) Catch-up of 10k messages (node client), p50", "ms", "down", (r) => r.catchup_ms?.p50, 2],
  ["catchup", "(d) Catch-up (node client) MB per server CPU-second", "MB/CPU-s", "up", perCpu((r) => (r.bytes == null ? null : r.bytes / 1e6)), 1],
  ["catchupc", "(d) Catch-up read (C client), MB/s", "MB/s", "up", (r) => r.mb_per_s, 1],
  ["catchupc", "(d) Catch-up of 10k messages (C client), p50", "ms", "down", (r) => r.catchup_ms?.p50, 2],
  ["catchupc", "(d) Catch-up (C client) MB per server CPU-second", "MB/CPU-s", "up", perCpu((r) => (r.bytes == null ? null : r.bytes / 1e6)), 1],
  ["catchup", "(d) GET requests per catch-up", "count", "info", (r) => r.requests_per_catchup, 1],
  ["catchup", "(d) Populate: 16 concurrent appends", "appends/s", "up", (r) => r.populate_appends_per_s, 0],
  ["get", "(d) wrk GET ?offset=-1", "req/s", "up", wrkRate, 0],
  ["get", "(d) wrk GET ?offset=-1, MB/s of body", "MB/s", "up", (r) => r.body_bytes / (r.duration_us / 1e6) / 1e6, 1],
  ["get", "(d) wrk GET body per response", "KB", "info", (r) => (r.ok ? r.body_bytes / r.ok / 1e3 : null), 0],
  ["get", "(d) wrk GET latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["get", "(d) wrk GET latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["get", "(d) wrk GET errors (non-200 + socket)", "count", "=0", wrkErrors, 0],
  ["get", "(d) wrk GET MB of body per server CPU-second", "MB/CPU-s", "up", perCpu((r) => r.body_bytes / 1e6), 1],
  ["log", "Server log: exception/error/warning lines", "count", "=0", (r) => r.suspicious, 0],
  ["log", "Server exited before the end of its run (after scenario)", "", "=0", (r) => r.died_during ?? 0, 0],
];

const fmt = (v, d) => {
  if (v == null) return "n/a";
  if (typeof v === "string") return v;
  return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
};

let failed = false, dirty = false;
const label = { tether: "Tether", node: "Node ref" };
const head = ["Metric", "Unit", ...servers.map((s) => label[s])];
const both = servers.length === 2;
if (both) head.push("Tether / Node", "Better");
const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
for (const [scen, name, unit, better, get, d] of rows) {
  const vals = servers.map((s) => {
    const r = R[`${s}.${scen}`];
    if (r.error) { failed = true; return { text: `failed: ${r.error}`.replace(/\|/g, "/"), v: null }; }
    const got = get(r);
    const v = got != null && typeof got === "object" ? got.v : got;
    if (better === "=0" && v) dirty = true;
    return { text: got != null && typeof got === "object" ? got.text : fmt(v, d), v };
  });
  const cells = [name, unit, ...vals.map((x) => x.text)];
  if (both) {
    const [t, n] = vals.map((x) => x.v);
    const ratioOk = (better === "up" || better === "down" || better === "ratio") && typeof t === "number" && typeof n === "number" && n !== 0;
    cells.push(ratioOk ? `${(t / n).toFixed(2)}×` : "—");
    cells.push(better === "up" ? "higher" : better === "down" ? "lower" : better === "=0" ? "must be 0" : "");
  }
  lines.push(`| ${cells.join(" | ")} |`);
}

// Append vs. no-op ceiling, per server: how close storage gets to bare HTTP.
const ceiling = ["", "| Server | Append appends/s ÷ no-op req/s | No-op request used |", "|---|---|---|"];
for (const s of servers) {
  const a = R[`${s}.append`], n = R[`${s}.noop`];
  const ratio = !a.error && !n.error && wrkRate(n) ? (wrkRate(a) / wrkRate(n)).toFixed(2) : "n/a";
  ceiling.push(`| ${label[s]} | ${ratio} | ${meta.noop[s]} |`);
}

// CPU per measured phase: the server's, and the load generator's (wrk, or the node client).
const phases = [
  ["server-warmup-sse", "server warm-up (untimed SSE fan-out)"],
  ["server-warmup", "server warm-up (untimed appends), wrk"],
  ["append", "(a) append, wrk"],
  ["sse", `(c) SSE, measured events (${meta.params.sse_client === "c" ? "C" : "node"} client)`],
  ["noop", "(b) no-op, wrk"],
  ["catchup", "(d) catch-up passes (node client)"],
  ["catchupc", "(d) catch-up passes (C client)"],
  ["get", "(d) wrk GET ?offset=-1"],
];
const cpuCell = (c, key) => (c && typeof c[key] === "number" ? c[key].toFixed(2) : "n/a");
const cpuTable = ["", "CPU per measured phase, in the order they ran (server: utime + stime of the server process; of which JIT: the JVM's C1/C2 compiler threads, n/a for Node, whose V8 compiles on threads it shares with other work; load generator: wrk's or the client's own CPU; cores = CPU-s ÷ wall s):", ""];
{
  const h = ["Phase", "Wall s", ...servers.flatMap((s) => [`${label[s]} server CPU-s`, `${label[s]} of which JIT`, `${label[s]} server cores`, `${label[s]} load gen. cores`])];
  cpuTable.push(`| ${h.join(" | ")} |`, `|${h.map(() => "---").join("|")}|`);
  for (const [scen, name] of phases) {
    const rs = servers.map((s) => R[`${s}.${scen}`] ?? {});
    if (rs.every((r) => !r.server_cpu && !r.load_cpu)) continue; // the phase did not run
    const wall = rs.map((r) => r.server_cpu?.wall_s ?? r.load_cpu?.wall_s).find((w) => typeof w === "number");
    cpuTable.push(`| ${[name, wall == null ? "n/a" : wall.toFixed(1),
      ...rs.flatMap((r) => [cpuCell(r.server_cpu, "cpu_s"), cpuCell(r.server_cpu, "jit_s"), cpuCell(r.server_cpu, "cores"), cpuCell(r.load_cpu, "cores")])].join(" | ")} |`);
  }
  cpuTable.push("", meta.pin === "off"
    ? "Not pinned: server and load generator share all CPUs, so either may use more than one core, and they compete."
    : "Pinned: the server has CPU 0 and the load generator CPU 1, so 1.00 core is each one's ceiling; a load generator near 1.00 means the client, not the server, may have set the pace.");
}

// Server log lines worth a look, quoted under the tables.
const logNotes = [];
for (const s of servers) {
  const r = R[`${s}.log`];
  if (!r.error && r.first?.length) {
    logNotes.push("", `${label[s]} log, first suspicious lines (of ${r.suspicious}):`, "", "```", ...r.first.map((l) => l.slice(0, 300)), "```");
  }
}

// The issue's targets, checked against this run's numbers.
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const verdict = (ok) => (ok == null ? "n/a" : ok ? "**met**" : "**not met**");
const f0 = (v) => fmt(v, 0), f1 = (v) => fmt(v, 1);
const targets = [];
if (servers.includes("tether")) {
  targets.push("", "## Targets", "", "| Target | This run | Verdict |", "|---|---|---|");
  const ta = R["tether.append"], tn = R["tether.noop"], ts = R["tether.sse"];
  // Tether vs. Node: "Tether X vs. Node Y unit = r×", verdict r >= min.
  const vsNode = (what, unit, get, fmtv, min) => {
    if (!servers.includes("node")) return targets.push(`| ${what} | n/a (no Node ref in this run) | n/a |`);
    const t = get("tether"), n = get("node");
    const r = num(t) != null && num(n) ? t / n : null;
    targets.push(`| ${what} | ${r == null ? "n/a" : `${fmtv(t)} vs. ${fmtv(n)} ${unit} = ${r.toFixed(2)}×`} | ${verdict(r == null ? null : r >= min)} |`);
  };
  const get = (scen, g) => (s) => (R[`${s}.${scen}`].error ? null : g(R[`${s}.${scen}`]));
  vsNode("Tether appends per server CPU-second ≥ 3× Node ref", "appends/CPU-s", get("append", perCpu((r) => r.ok)), f0, 3);
  vsNode("Tether append throughput ≥ 3× Node ref (Tether durable, Node in memory)", "appends/s", get("append", wrkRate), f0, 3);
  const p99 = ts.error ? null : num(ts.lat_ms?.p99);
  targets.push(`| Tether SSE delivery p99 < 5 ms at ${meta.params.subscribers} subscribers, ${meta.params.rate} events/s, right after the append load | ${p99 == null ? "n/a" : p99.toFixed(2) + " ms"} | ${verdict(p99 == null ? null : p99 < 5)} |`);
  vsNode("Tether catch-up read MB/s ≥ 2× Node ref (C client)", "MB/s", get("catchupc", (r) => r.mb_per_s), f1, 2);
  vsNode("Tether catch-up read MB/s ≥ 2× Node ref (node client, near its own ceiling: README)", "MB/s", get("catchup", (r) => r.mb_per_s), f1, 2);
  const sseClean = ts.error ? null : ts.lost === 0 && ts.duplicates === 0 && ts.out_of_order === 0;
  targets.push(`| Tether SSE: every subscriber got every event, once, in order | ${ts.error ? "n/a" : `${ts.subscribers_complete} / ${ts.subscribers} subscribers complete, ${ts.lost} lost`} | ${verdict(sseClean)} |`);
  const c = !ta.error && !tn.error && wrkRate(tn) ? wrkRate(ta) / wrkRate(tn) : null;
  targets.push(`| Tether append throughput ≥ 50% of its own no-op ceiling | ${c == null ? "n/a" : (100 * c).toFixed(0) + "%"} | ${verdict(c == null ? null : c >= 0.5)} |`);
}

const cmdQuoted = meta.command;
const store = meta.store ?? "sqlite";
const storeText = {
  sqlite: "durable SQLite store (WAL; the WAL is fdatasynced before an append is acked; group commit)",
  log: "log store (append-only segment files; one fdatasync per group commit before an append is acked; the default)",
  memory: "in-memory store (nothing kept on exit, no fsync)",
}[store] ?? `store ${store}`;
const javaOpts = meta.java_opts ? `TETHER_JAVA_OPTS=${JSON.stringify(meta.java_opts)} ` : "";
const pinning = meta.pin === "off"
  ? `off (\`--pin off\`): no \`taskset\`; server and load generators (wrk / node clients) share all ${meta.nproc} CPUs, same for both servers`
  : "on: server on CPU 0, load generator (wrk / node and C clients) on CPU 1 (`taskset`), same for both servers";
const rawRel = meta.raw_dir ? path.relative(path.dirname(path.resolve(f.out)), meta.raw_dir) || "." : "raw";
const md = [
  `# Durable Streams benchmark: Tether vs. Node reference${meta.label ? ` — ${meta.label}` : ""}`,
  "",
  ...(meta.params.duration < 10 || meta.params.warmup < 5 || (meta.params.server_warmup ?? 30) < 30
    ? [`> **Short run** (${meta.params.server_warmup ?? 0} s server warm-up, ${meta.params.warmup} s warm-up, ${meta.params.duration} s phases; full run: 30 s, then 5 s + 10 s): a smoke test of the harness, not a result.`, ""]
    : []),
  `- Date: ${meta.date} (run took ${meta.elapsed_s} s)`,
  `- Command: \`${cmdQuoted}\``,
  `- Machine: ${meta.nproc} CPUs (nproc), ${meta.cpu}, kernel ${meta.kernel}`,
  `- Pinning: ${pinning}`,
  `- Versions: ${meta.versions}`,
  `- Tether: \`${javaOpts}./tether serve --port PORT --data-dir <fresh temp dir> --store ${store}${meta.server_args ? " " + meta.server_args : ""}\` (${meta.tether_fs}); ${storeText}`,
  `- Node ref: \`DurableStreamTestServer\` from @durable-streams/server, in-memory store, long-poll 30 s, compression off`,
  `- Shape: ${meta.shape}`,
  "",
  ...lines,
  ...ceiling,
  ...cpuTable,
  ...targets,
  ...logNotes,
  "",
  "Ratios are Tether ÷ Node ref for the same metric in the same run; read them with the Better column",
  "(for throughput > 1× favours Tether, for latency < 1× favours Tether). Note the stores differ:",
  store === "memory"
    ? "here both keep everything in memory (Tether with --store memory)."
    : "Tether fsyncs before acking an append, the Node ref keeps everything in memory.",
  `Raw outputs (wrk text, client JSON and stderr, server logs) are in ${rawRel}/ next to this file.`,
  "",
].join("\n");

process.stdout.write(md);
fs.mkdirSync(path.dirname(f.out), { recursive: true });
fs.writeFileSync(f.out, md);
process.exit(failed ? 1 : dirty ? 3 : 0);
