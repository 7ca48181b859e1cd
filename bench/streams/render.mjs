// Renders the markdown results table from the JSON files run.sh collected.
// Usage: node render.mjs --dir WORKDIR --meta meta.json --out FILE
// Reads WORKDIR/<server>-<scenario>.json for server in {tether,node} and
// scenario in {append,noop,sse,catchup,get}. A missing file or {"error":...}
// shows as "failed". Prints the markdown on stdout and writes it to FILE.
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
  for (const sc of ["append", "verify", "noop", "sse", "catchup", "get", "log"]) R[`${s}.${sc}`] = load(s, sc);
  // Appends acknowledged over both wrk runs against the append streams.
  const w = load(s, "append-warmup"), a = R[`${s}.append`], v = R[`${s}.verify`];
  const warmOk = meta.params.warmup === 0 ? 0 : w.error ? null : w.ok;
  if (!v.error && !a.error && warmOk != null) {
    const sockets = (r) => (r && !r.error ? Object.values(r.socket_errors).reduce((x, y) => x + y, 0) : 0);
    v.acked = warmOk + a.ok;
    // wrk stops with up to -c requests in flight per run; the server may still
    // store those (and requests that got a socket error), unacknowledged.
    v.slack = 2 * meta.params.conns + sockets(a) + sockets(w);
    v.missing = Math.max(0, v.acked - v.stored_appends);
    v.extra = v.stored_appends - v.acked;
  } else if (!v.error) {
    v.error = "append wrk runs have no result to compare with";
  }
}

const ms = (us) => (us == null ? null : us / 1000);
const wrkRate = (r) => (r.error ? null : r.ok / (r.duration_us / 1e6));
const wrkErrors = (r) => (r.error ? null : r.bad_status + Object.values(r.socket_errors).reduce((a, b) => a + b, 0));

// [scenario, label, unit, better ("up"|"down"|"=0"), getter(result), digits]
const rows = [
  ["append", "(a) Append throughput", "appends/s", "up", wrkRate, 0],
  ["append", "(a) Append latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["append", "(a) Append latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["append", "(a) Append errors (non-204 + socket)", "count", "=0", wrkErrors, 0],
  ["verify", "(a) Appends stored / acked (warm-up + measured)", "count", "info", (r) => `${r.stored_appends} / ${r.acked}`, 0],
  ["verify", "(a) Acked appends missing on read-back", "count", "=0", (r) => r.missing, 0],
  ["verify", "(a) Unacked appends stored beyond in-flight slack", "count", "=0", (r) => Math.max(0, r.extra - r.slack), 0],
  ["verify", "(a) Read-back content errors", "count", "=0", (r) => r.content_errors, 0],
  ["noop", "(b) No-op throughput", "req/s", "up", wrkRate, 0],
  ["noop", "(b) No-op latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["noop", "(b) No-op latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["noop", "(b) No-op unexpected status + socket errors", "count", "=0", wrkErrors, 0],
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
  ["catchup", "(d) Catch-up read, messages/s", "msg/s", "up", (r) => r.messages_per_s, 0],
  ["catchup", "(d) Catch-up read, MB/s", "MB/s", "up", (r) => r.mb_per_s, 1],
  ["catchup", "(d) Catch-up of 10k messages, p50", "ms", "down", (r) => r.catchup_ms?.p50, 2],
  ["catchup", "(d) GET requests per catch-up", "count", "info", (r) => r.requests_per_catchup, 1],
  ["catchup", "(d) Populate: 16 concurrent appends", "appends/s", "up", (r) => r.populate_appends_per_s, 0],
  ["get", "(d) wrk GET ?offset=-1", "req/s", "up", wrkRate, 0],
  ["get", "(d) wrk GET ?offset=-1, MB/s of body", "MB/s", "up", (r) => r.body_bytes / (r.duration_us / 1e6) / 1e6, 1],
  ["get", "(d) wrk GET body per response", "KB", "info", (r) => (r.ok ? r.body_bytes / r.ok / 1e3 : null), 0],
  ["get", "(d) wrk GET latency p50", "ms", "down", (r) => ms(r.lat_us?.p50), 2],
  ["get", "(d) wrk GET latency p99", "ms", "down", (r) => ms(r.lat_us?.p99), 2],
  ["get", "(d) wrk GET errors (non-200 + socket)", "count", "=0", wrkErrors, 0],
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
    const v = get(r);
    if (better === "=0" && v) dirty = true;
    return { text: fmt(v, d), v };
  });
  const cells = [name, unit, ...vals.map((x) => x.text)];
  if (both) {
    const [t, n] = vals.map((x) => x.v);
    const ratioOk = (better === "up" || better === "down") && typeof t === "number" && typeof n === "number" && n !== 0;
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
const targets = [];
if (servers.includes("tether")) {
  targets.push("", "## Targets", "", "| Target | This run | Verdict |", "|---|---|---|");
  const ta = R["tether.append"], tn = R["tether.noop"], ts = R["tether.sse"];
  if (servers.includes("node")) {
    const na = R["node.append"];
    const r = !ta.error && !na.error && wrkRate(na) ? wrkRate(ta) / wrkRate(na) : null;
    targets.push(`| Tether append throughput ≥ 3× Node ref (Tether durable, Node in memory) | ${r == null ? "n/a" : r.toFixed(2) + "×"} | ${verdict(r == null ? null : r >= 3)} |`);
  }
  const p99 = ts.error ? null : num(ts.lat_ms?.p99);
  const sseClean = ts.error ? null : ts.lost === 0 && ts.duplicates === 0 && ts.out_of_order === 0;
  targets.push(`| Tether SSE delivery p99 < 5 ms at ${meta.params.subscribers} subscribers, ${meta.params.rate} events/s | ${p99 == null ? "n/a" : p99.toFixed(2) + " ms"} | ${verdict(p99 == null ? null : p99 < 5)} |`);
  targets.push(`| Tether SSE: every subscriber got every event, once, in order | ${ts.error ? "n/a" : `${ts.subscribers_complete} / ${ts.subscribers} subscribers complete, ${ts.lost} lost`} | ${verdict(sseClean)} |`);
  const c = !ta.error && !tn.error && wrkRate(tn) ? wrkRate(ta) / wrkRate(tn) : null;
  targets.push(`| Tether append throughput ≥ 50% of its own no-op ceiling | ${c == null ? "n/a" : (100 * c).toFixed(0) + "%"} | ${verdict(c == null ? null : c >= 0.5)} |`);
}

const cmdQuoted = meta.command;
const md = [
  `# Durable Streams benchmark: Tether vs. Node reference`,
  "",
  ...(meta.params.duration < 10 || meta.params.warmup < 5
    ? [`> **Short run** (${meta.params.warmup} s warm-up, ${meta.params.duration} s phases; full run: 5 s + 10 s): a smoke test of the harness, not a result.`, ""]
    : []),
  `- Date: ${meta.date} (run took ${meta.elapsed_s} s)`,
  `- Command: \`${cmdQuoted}\``,
  `- Machine: ${meta.nproc} CPUs (nproc), ${meta.cpu}, kernel ${meta.kernel}`,
  `- Pinning: server on CPU 0, load generator (wrk / node clients) on CPU 1 (\`taskset\`), same for both servers`,
  `- Versions: ${meta.versions}`,
  `- Tether: \`./tether serve --port PORT --data-dir <fresh temp dir>\` (${meta.tether_fs}); durable SQLite store (WAL; the WAL is fdatasynced before an append is acked; pipelined group commit)`,
  `- Node ref: \`DurableStreamTestServer\` from @durable-streams/server, in-memory store, long-poll 30 s, compression off`,
  `- Shape: ${meta.shape}`,
  "",
  ...lines,
  ...ceiling,
  ...targets,
  ...logNotes,
  "",
  "Ratios are Tether ÷ Node ref for the same metric in the same run; read them with the Better column",
  "(for throughput > 1× favours Tether, for latency < 1× favours Tether). Note the stores differ:",
  "Tether fsyncs before acking an append, the Node ref keeps everything in memory.",
  "Raw outputs (wrk text, client JSON and stderr, server logs) are in results/raw/ next to this file.",
  "",
].join("\n");

process.stdout.write(md);
fs.mkdirSync(path.dirname(f.out), { recursive: true });
fs.writeFileSync(f.out, md);
process.exit(failed ? 1 : dirty ? 3 : 0);
