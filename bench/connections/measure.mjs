// Opens idle connections of one kind to a running Tether server and samples the server's memory
// after `jcmd GC.run` (VmRSS and the heap's resident pages from /proc, heap committed from
// `jcmd GC.heap_info`, the live heap from `jcmd GC.class_histogram`) at 0 connections, at each
// level, and once more after closing them all.
//
// Two ways to reach a level (--mode):
//   fresh  each level opens that many new connections, measures, and closes them all again, so every
//          SSE reader is measured well inside the server's 60 s SSE lifetime (and before its first
//          30 s keep-alive event). The default for SSE.
//   ramp   connections are added level by level and closed only at the end. The default for
//          WebSockets, which have no short lifetime, and whose closed connections the server keeps
//          in memory (see README.md): closing between levels would count them as live ones.
// The last line on stdout is the JSON result; progress goes to stderr.
//
// Usage: node measure.mjs --url http://127.0.0.1:PORT --pid PID --jcmd PATH --kind sse|ws
//          [--levels 1000,2000,5000] [--warmup 100] [--warmup-rounds 5] [--settle 5] [--mode fresh|ramp]
//          [--raw DIR]
//          [--nmt 1]   (the server runs with -XX:NativeMemoryTracking=summary: sample it too)
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import WebSocket from "ws";

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[measure ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const url = new URL(args.url);
const pid = Number(args.pid);
const jcmd = args.jcmd;
const kind = args.kind;
const levels = (args.levels ?? "1000,2000,5000").split(",").map(Number).sort((a, b) => a - b);
const warmup = Number(args.warmup ?? 100);
const warmupRounds = Number(args["warmup-rounds"] ?? 5);
const settleMs = Number(args.settle ?? 5) * 1000;
const rawDir = args.raw ?? null;
const nmt = args.nmt === "1"; // the server runs with -XX:NativeMemoryTracking=summary
const mode = args.mode ?? (kind === "sse" ? "fresh" : "ramp");
const CONCURRENCY = 50; // connects in flight at once: well under the listen backlog
const STREAM = "/v1/stream/bench-connections-idle";
const SSE_LIFETIME_S = 60; // ServerConfig.sseMaxLifetime default: an older reader has been ended
if (!["sse", "ws"].includes(kind) || !["fresh", "ramp"].includes(mode) || !pid || !jcmd) {
  console.error("usage: node measure.mjs --url URL --pid PID --jcmd PATH --kind sse|ws [--levels ...]");
  process.exit(2);
}

/** Connections this client holds open; an entry leaves only through closeAll(). */
const open = new Set();
let dropped = 0; // connections the server ended while we held them: must stay 0
let firstDrop = null;

function request(method, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: p, method, agent: false, headers: { Connection: "close", ...headers } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${p} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** An SSE reader at the tail: established once the first control event (upToDate) arrived. */
function openSse() {
  return new Promise((resolve, reject) => {
    const conn = { established: false, close: () => req.destroy() };
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: `${STREAM}?offset=now&live=sse`,
      agent: false,
      headers: { Accept: "text/event-stream" },
    });
    const lost = (why) => {
      if (!conn.established) return reject(new Error(`SSE connect failed: ${why}`));
      if (open.delete(conn)) {
        dropped++;
        firstDrop ??= `SSE reader ended by the server: ${why}`;
      }
    };
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`SSE connect: status ${res.statusCode}`));
      }
      res.on("data", (chunk) => {
        if (!conn.established && chunk.includes("event: control")) {
          conn.established = true;
          open.add(conn);
          openedTotal++;
          resolve(conn);
        }
      });
      res.on("end", () => lost("response ended"));
      res.on("close", () => lost("connection closed"));
    });
    req.on("error", (e) => lost(e.message));
    req.end();
  });
}

/** A Responses WebSocket that never sends a frame: established on the 101. */
function openWs() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${url.host}/v1/responses`, { perMessageDeflate: false, handshakeTimeout: 30_000 });
    const conn = { established: false, close: () => ws.terminate() };
    ws.on("open", () => {
      conn.established = true;
      open.add(conn);
      openedTotal++;
      resolve(conn);
    });
    ws.on("unexpected-response", (_req, res) => reject(new Error(`WebSocket upgrade: status ${res.statusCode}`)));
    ws.on("error", (e) => {
      if (!conn.established) reject(new Error(`WebSocket connect failed: ${e.message}`));
    });
    ws.on("close", (code, reason) => {
      if (open.delete(conn)) {
        dropped++;
        firstDrop ??= `WebSocket closed by the server: ${code} ${reason}`;
      }
    });
  });
}

async function openMany(count) {
  const opener = kind === "sse" ? openSse : openWs;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await opener();
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  return (performance.now() - t) / 1000;
}

let openedTotal = 0; // connections opened after the baseline
function closeAll() {
  const all = [...open];
  open.clear(); // ours, not drops
  for (const c of all) c.close();
}

async function gauges() {
  const { status, body } = await request("GET", "/metrics");
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  const g = {};
  for (const m of body.matchAll(/^tether_connections\{kind="(\w+)"\} ([0-9.]+)$/gm)) g[m[1]] = Number(m[2]);
  return g;
}

/** Polls the server's gauge of open connections of our kind until it equals n. */
async function awaitGauge(n, timeoutMs = 60_000) {
  const key = kind === "sse" ? "sse" : "websocket";
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const g = await gauges();
    if (g[key] === n) return g;
    if (Date.now() > deadline) throw new Error(`server reports ${g[key]} open ${key} connections, expected ${n}`);
    await sleep(250);
  }
}

async function jcmdRun(...cmd) {
  const { stdout } = await run(jcmd, [String(pid), ...cmd], { timeout: 120_000, maxBuffer: 64 << 20 });
  return stdout;
}

function procStatus() {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1]);
  return {
    rssKB: kb("VmRSS"),
    rssAnonKB: kb("RssAnon"),
    rssFileKB: kb("RssFile"),
    threads: Number(/^Threads:\s+(\d+)/m.exec(s)?.[1]),
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
  };
}

/** Heap used, committed (KB) and reserved address range per `jcmd GC.heap_info` (G1's format). */
async function heapInfo() {
  const out = await jcmdRun("GC.heap_info");
  const m = /committed (\d+)K, used (\d+)K \[0x([0-9a-f]+), 0x([0-9a-f]+)\)/.exec(out);
  if (!m) throw new Error(`cannot parse GC.heap_info: ${out.slice(0, 300)}`);
  return { heapCommittedKB: Number(m[1]), heapUsedKB: Number(m[2]), range: [BigInt("0x" + m[3]), BigInt("0x" + m[4])] };
}

/** Resident KB of the Java heap's mappings (from /proc/PID/smaps); the rest of VmRSS is native. */
function heapResidentKB([lo, hi]) {
  let kb = 0;
  let inHeap = false;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const vma = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (vma) {
      inHeap = BigInt("0x" + vma[1]) < hi && BigInt("0x" + vma[2]) > lo;
    } else if (inHeap && line.startsWith("Rss:")) {
      kb += Number(/(\d+) kB/.exec(line)[1]);
    }
  }
  return kb;
}

/**
 * Settles, samples RSS, forces a full GC, samples again: VmRSS, the heap's resident pages, and the
 * live heap (the class histogram's total, itself taken right after a full GC).
 */
async function sample(n, histName) {
  await sleep(settleMs);
  const before = procStatus();
  await jcmdRun("GC.run");
  await sleep(1000); // let G1 finish uncommitting after the full GC
  const { range, ...heap } = await heapInfo();
  const after = procStatus();
  const heapRssKB = heapResidentKB(range);
  const hist = await histogram(histName);
  const nmtKB = nmt ? await nativeMemory(histName) : undefined;
  return { nmtKB, n, rssBeforeGcKB: before.rssKB, ...after, ...heap, heapRssKB, nativeRssKB: after.rssKB - heapRssKB, liveHeapKB: Math.round(hist.totalBytes / 1024), hist };
}

/** Committed KB per category of `jcmd VM.native_memory summary` (needs NMT on in the server). */
async function nativeMemory(name) {
  const out = await jcmdRun("VM.native_memory", "summary");
  if (rawDir) fs.writeFileSync(path.join(rawDir, `${kind}-nmt-${name}.txt`), out);
  const kb = {};
  for (const m of out.matchAll(/^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB\)/gm)) kb[m[1].trim()] = Number(m[2]);
  const total = /^Total: reserved=\d+KB, committed=(\d+)KB/m.exec(out);
  if (!total) throw new Error(`cannot parse VM.native_memory: ${out.slice(0, 300)}`);
  kb.Total = Number(total[1]);
  return kb;
}

/** `jcmd GC.class_histogram` (itself after a full GC) as class -> {instances, bytes}. */
async function histogram(name) {
  const out = await jcmdRun("GC.class_histogram");
  if (rawDir) fs.writeFileSync(path.join(rawDir, `${kind}-histogram-${name}.txt`), out);
  const h = new Map();
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)/gm)) h.set(m[3], { instances: +m[1], bytes: +m[2] });
  const total = /^Total\s+(\d+)\s+(\d+)/m.exec(out);
  if (!total) throw new Error(`cannot parse GC.class_histogram: ${out.slice(-300)}`);
  h.totalBytes = Number(total[2]);
  return h;
}

function histogramDiff(h0, h1, n) {
  const rows = [];
  for (const [cls, v] of h1) {
    const b = h0.get(cls) ?? { instances: 0, bytes: 0 };
    rows.push({ class: cls, instancesPerConn: (v.instances - b.instances) / n, bytesPerConn: (v.bytes - b.bytes) / n });
  }
  for (const [cls, b] of h0) if (!h1.has(cls)) rows.push({ class: cls, instancesPerConn: -b.instances / n, bytesPerConn: -b.bytes / n });
  rows.sort((a, b) => b.bytesPerConn - a.bytesPerConn);
  const total = rows.reduce((s, r) => s + r.bytesPerConn, 0);
  return { totalBytesPerConn: total, top: rows.slice(0, 25) };
}

async function main() {
  if (kind === "sse") {
    const { status } = await request("PUT", STREAM, { "Content-Type": "text/plain" });
    if (status !== 201 && status !== 200) throw new Error(`creating ${STREAM}: status ${status}`);
  }
  // Warm-up: class loading and JIT of the connection path, so they are not counted per connection.
  // Few connections at a time: memory the warm-up frees stays in the RSS and would hide part of the
  // levels' cost; several rounds: the JIT compiles what runs often.
  for (let round = 0; warmup > 0 && round < warmupRounds; round++) {
    if (round === 0) log(`${kind}: warm-up, ${warmupRounds} x ${warmup} connections opened and closed`);
    await openMany(warmup);
    await awaitGauge(warmup);
    closeAll();
    await awaitGauge(0);
  }
  openedTotal = 0;
  // A JVM's first full GCs make their own data structures resident (marking bitmaps and the like):
  // two untimed ones now, so the baseline does not grow from them.
  for (let i = 0; i < 2; i++) await jcmdRun("GC.run");
  const samples = [];
  log(`${kind}: baseline (0 connections), settle ${settleMs / 1000}s + GC`);
  const { hist: h0, ...s0 } = await sample(0, "0");
  samples.push({ ...s0, openS: 0, oldestAgeS: 0, gauges: await gauges() });
  const maxN = Math.max(...levels);
  let hN = null;
  let t0 = Date.now(); // when the oldest open connection was opened
  for (const n of levels) {
    if (mode === "fresh" && open.size > 0) {
      closeAll();
      await awaitGauge(0);
    }
    if (open.size === 0) t0 = Date.now();
    log(`${kind}: opening ${n - open.size} connections (${n} open)`);
    const openS = await openMany(n - open.size);
    await awaitGauge(n);
    const { hist, ...s } = await sample(n, String(n));
    const g = await gauges();
    const oldestAgeS = (Date.now() - t0) / 1000;
    samples.push({ ...s, openS, oldestAgeS, gauges: g, held: open.size });
    log(`${kind}: ${n} open (${openS.toFixed(1)}s to open, oldest ${oldestAgeS.toFixed(0)}s old): RSS ${s.rssKB} KB, heap used ${s.heapUsedKB} KB, server gauges ${JSON.stringify(g)}`);
    if (n === maxN) hN = hist;
    if (kind === "sse" && (Date.now() - t0) / 1000 >= SSE_LIFETIME_S) log(`WARNING: SSE readers older than ${SSE_LIFETIME_S}s`);
  }
  // After closing everything the server should be back near its baseline; what stays is held by
  // connections that no longer exist.
  closeAll();
  await awaitGauge(0);
  log(`${kind}: all closed, settle ${settleMs / 1000}s + GC`);
  const { hist: hClosed, ...closedSample } = await sample(0, "closed");
  const closed = { ...closedSample, gauges: await gauges(), closedTotal: openedTotal };
  const result = {
    kind,
    mode,
    warmup,
    warmupRounds,
    settleS: settleMs / 1000,
    samples,
    closed,
    dropped,
    firstDrop,
    histogram: hN ? histogramDiff(h0, hN, maxN) : null,
    histogramAt: maxN,
    retained: histogramDiff(h0, hClosed, closed.closedTotal),
  };
  console.log(JSON.stringify(result));
  process.exit(dropped > 0 ? 3 : 0);
}

main().catch((e) => {
  log(`ERROR: ${e.message}`);
  console.log(JSON.stringify({ kind, error: e.message }));
  process.exit(1);
});
