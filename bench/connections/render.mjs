// Renders the results of measure.mjs (one JSON per kind) as a markdown report.
// Usage: node render.mjs --dir DIR --kinds sse,ws --meta META.json --out FILE
import fs from "node:fs";
import path from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const TARGET_KB = 10;
const meta = JSON.parse(fs.readFileSync(args.meta, "utf8"));
const TITLES = {
  sse: "Idle SSE readers (`GET /v1/stream/<path>?offset=now&live=sse`, one existing stream)",
  ws: "Idle Responses WebSockets (`GET /v1/responses`, `Upgrade: websocket`, no frames sent)",
};
const mb = (kb) => (kb / 1024).toFixed(1);
const per = (d, n) => (n ? (d / n).toFixed(2) : "–");

let failed = false;
const lines = [
  `Date: ${meta.date}  `,
  `Command: \`${meta.command}\`  `,
  `Server: \`${meta.server}\`  `,
  `Versions: ${meta.versions}  `,
  `Host: ${meta.host}; ${meta.load}  `,
  `Parameters: ${meta.params}`,
  "",
  `KB = 1024 bytes. Per connection = (value at n − value at 0) / n, both sampled after \`jcmd GC.run\`. Target: RSS ≤ ${TARGET_KB} KB per connection. RSS = VmRSS; heap pages = resident pages of the Java heap's mappings (/proc/PID/smaps), native = the rest of VmRSS; live heap = total of \`jcmd GC.class_histogram\` (live objects after a full GC); server's connection count = \`tether_connections{kind="http"}\` from /metrics (what \`--max-connections\` is checked against), less the scrape's own connection.`,
];
const summary = [];
for (const kind of args.kinds.split(",")) {
  const file = path.join(args.dir, `${kind}.json`);
  let r;
  try {
    r = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    r = { error: `no result in ${file}` };
  }
  lines.push("", `### ${TITLES[kind]}`, "");
  if (r.error) {
    failed = true;
    lines.push(`**Failed:** ${r.error}`);
    continue;
  }
  const base = r.samples[0];
  const row = (label, s, n, suffix = "") => {
    const d = (k) => (n ? ((s[k] - base[k]) / n).toFixed(2) + suffix : "–");
    return `| ${label} | ${mb(s.rssKB)} | ${n && !suffix ? `**${d("rssKB")}**` : d("rssKB")} | ${d("heapRssKB")} | ${d("nativeRssKB")} | ${mb(s.liveHeapKB)} | ${d("liveHeapKB")} | ${mb(s.heapCommittedKB)} | ${d("heapCommittedKB")} | ${mb(s.rssBeforeGcKB)} | ${s.fds} | ${s.gauges.http - 1} | ${s.threads} | ${s.openS ? s.openS.toFixed(1) : "–"} |`;
  };
  lines.push(
    "| connections | RSS MB | RSS KB/conn | of which heap pages KB/conn | of which native KB/conn | live heap MB | live heap KB/conn | heap committed MB | heap committed KB/conn | RSS before GC MB | server fds | server's connection count | threads | open time s |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const s of r.samples) {
    lines.push(row(String(s.n), s, s.n));
    if (s.n) summary.push({ kind, n: s.n, rssPer: (s.rssKB - base.rssKB) / s.n, livePer: (s.liveHeapKB - base.liveHeapKB) / s.n, committedPer: (s.heapCommittedKB - base.heapCommittedKB) / s.n });
  }
  const c = r.closed;
  lines.push(row(`after closing all (${c.closedTotal} closed)`, c, c.closedTotal, " per closed"));
  if (base.nmtKB) {
    // Native Memory Tracking (investigation runs only): committed KB per category, per connection.
    const top = r.samples.at(-1);
    const cats = Object.keys(top.nmtKB).filter((k) => Math.abs(top.nmtKB[k] - (base.nmtKB[k] ?? 0)) / top.n >= 0.05);
    lines.push(
      "",
      `JVM Native Memory Tracking (committed, KB per connection; \`jcmd VM.native_memory summary\`):`,
      "",
      `| connections | ${cats.join(" | ")} |`,
      `|---:|${cats.map(() => "---:").join("|")}|`,
      ...r.samples.filter((s) => s.n).map((s) => `| ${s.n} | ${cats.map((k) => ((s.nmtKB[k] - (base.nmtKB[k] ?? 0)) / s.n).toFixed(2)).join(" | ")} |`),
    );
  }
  lines.push(
    "",
    r.mode === "ramp"
      ? "Levels reached by adding connections to those already open (`--mode ramp`); all closed at the end."
      : "Each level opened fresh and closed again before the next (`--mode fresh`), so every SSE reader was measured well inside the server's 60 s SSE lifetime.",
  );
  if (r.dropped) {
    failed = true;
    lines.push("", `**${r.dropped} connections were ended by the server during the measurement** (${r.firstDrop}).`);
  }
  if (r.histogram) {
    const h = r.histogram;
    lines.push(
      "",
      `Live heap objects per connection at ${r.histogramAt} (\`jcmd GC.class_histogram\` at ${r.histogramAt} minus at 0): ${h.totalBytesPerConn.toFixed(0)} bytes in total; the largest classes:`,
      "",
      "| class | objects/conn | bytes/conn |",
      "|---|---:|---:|",
      ...h.top.filter((t) => t.bytesPerConn >= 16).slice(0, 15).map(
        (t) => `| \`${t.class}\` | ${t.instancesPerConn.toFixed(2)} | ${t.bytesPerConn.toFixed(0)} |`,
      ),
    );
  }
  const k = r.retained;
  if (k && k.totalBytesPerConn >= 512) {
    lines.push(
      "",
      `**Closed connections stay in the heap:** after all ${c.closedTotal} were closed, the live heap still held ${k.totalBytesPerConn.toFixed(0)} bytes per closed connection (\`GC.class_histogram\` after closing minus at 0); the largest classes:`,
      "",
      "| class | objects/closed conn | bytes/closed conn |",
      "|---|---:|---:|",
      ...k.top.filter((t) => t.bytesPerConn >= 16).slice(0, 12).map(
        (t) => `| \`${t.class}\` | ${t.instancesPerConn.toFixed(2)} | ${t.bytesPerConn.toFixed(0)} |`,
      ),
    );
  }
}
if (summary.length) {
  lines.push("", "### Summary", "", "| kind | connections | RSS KB/conn | ≤ 10 KB | live heap KB/conn | heap committed KB/conn |", "|---|---:|---:|---|---:|---:|");
  for (const s of summary) lines.push(`| ${s.kind} | ${s.n} | ${s.rssPer.toFixed(2)} | ${s.rssPer <= TARGET_KB ? "yes" : "**no**"} | ${s.livePer.toFixed(2)} | ${s.committedPer.toFixed(2)} |`);
}
const text = lines.join("\n") + "\n";
fs.writeFileSync(args.out, text);
process.stdout.write(text);
process.exit(failed ? 3 : 0);
