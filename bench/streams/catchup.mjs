// Catch-up read: creates one application/octet-stream stream holding N messages
// (N POSTs of the same 256-byte binary payload), then repeatedly reads it from
// the start: GET ?offset=-1, following Stream-Next-Offset until
// Stream-Up-To-Date: true (a server may chunk). One untimed pass first checks
// the bytes, untimed warm-up passes follow for --warmup seconds, then the timed
// passes run back to back on one keep-alive connection.
// Binary streams have no framing, so messages read = bytes / 256.
// Prints one JSON result line on stdout (incl. the stream path, for wrk).
//
// With --server-pid PID --clk-tck HZ it also reports the server's CPU time over the
// timed passes (server_cpu) and its own (load_cpu), see cpu.mjs.
//
// Usage: node catchup.mjs --url URL [--messages 10000] [--duration 10] [--warmup 0]
//                         [--server-pid PID --clk-tck HZ]
import { performance } from "node:perf_hooks";
import { request, flags, percentile, keepAliveAgent, PAYLOAD_256 } from "./http.mjs";
import { cpuWindow } from "./cpu.mjs";

const f = flags();
const baseUrl = f.url;
const nMessages = Number(f.messages ?? 10000);
const durationS = Number(f.duration ?? 10);
const warmupS = Number(f.warmup ?? 0);
const concurrency = 16;
const minIterations = 3;
const maxIterations = 10000;
const populateDeadlineMs = 300000;
const streamPath = `/v1/stream/catchup-${Date.now()}`;
const expectedBytes = nMessages * PAYLOAD_256.length;
const log = (...a) => console.error("[catchup]", ...a);
const fail = (error) => { console.log(JSON.stringify({ error })); process.exit(1); };

const agent = keepAliveAgent(concurrency);
const put = await request(baseUrl, "PUT", streamPath, { headers: { "content-type": "application/octet-stream" }, agent });
if (put.status !== 201 && put.status !== 200) fail(`PUT ${streamPath} -> ${put.status}`);

// ---- populate (bounded in time) ---------------------------------------------
const p0 = performance.now();
let next = 0;
const badStatus = {};
async function writer() {
  while (next < nMessages) {
    if (performance.now() - p0 > populateDeadlineMs) throw new Error(`populate exceeded ${populateDeadlineMs} ms`);
    next++;
    const r = await request(baseUrl, "POST", streamPath, {
      headers: { "content-type": "application/octet-stream" }, body: PAYLOAD_256, agent,
    });
    if (r.status !== 204 && r.status !== 200) badStatus[r.status] = (badStatus[r.status] ?? 0) + 1;
  }
}
try {
  await Promise.all(Array.from({ length: concurrency }, writer));
} catch (e) { fail(e.message); }
if (Object.keys(badStatus).length) fail(`populate: unexpected statuses ${JSON.stringify(badStatus)}`);
const populateSeconds = (performance.now() - p0) / 1000;
log(`populated ${nMessages} x 256 B in ${populateSeconds.toFixed(1)} s`);
agent.destroy();

// ---- catch-up passes ---------------------------------------------------------
const readAgent = keepAliveAgent(1);

/** One full catch-up read; returns {bytes, requests, body?}. */
async function catchUp(keepBody) {
  let offset = "-1";
  let bytes = 0, requests = 0;
  const parts = [];
  for (;;) {
    if (requests > nMessages + 10) throw new Error("catch-up did not reach Stream-Up-To-Date");
    const r = await request(baseUrl, "GET", `${streamPath}?offset=${encodeURIComponent(offset)}`, { agent: readAgent });
    requests++;
    if (r.status !== 200) throw new Error(`GET offset=${offset} -> ${r.status}`);
    bytes += r.body.length;
    if (keepBody) parts.push(r.body);
    const nextOffset = r.headers["stream-next-offset"];
    if (!nextOffset) throw new Error("response without Stream-Next-Offset");
    if (String(r.headers["stream-up-to-date"]).toLowerCase() === "true") break;
    if (nextOffset === offset && r.body.length === 0) throw new Error(`no progress at offset ${offset}`);
    offset = nextOffset;
  }
  return { bytes, requests, body: keepBody ? Buffer.concat(parts) : null };
}

try {
  const check = await catchUp(true);
  if (check.bytes !== expectedBytes) fail(`verification pass read ${check.bytes} bytes, expected ${expectedBytes}`);
  for (let i = 0; i < nMessages; i++) {
    if (check.body.compare(PAYLOAD_256, 0, 256, i * 256, (i + 1) * 256) !== 0) fail(`content mismatch in message ${i}`);
  }

  const w0 = performance.now();
  while (performance.now() - w0 < warmupS * 1000) {
    const r = await catchUp(false);
    if (r.bytes !== expectedBytes) fail(`warm-up pass read ${r.bytes} bytes, expected ${expectedBytes}`);
  }

  const times = [];
  let totalBytes = 0, totalRequests = 0;
  const cpu = cpuWindow(f, "catch-up client (node)");
  cpu.begin();
  const t0 = performance.now();
  while (times.length < maxIterations && (times.length < minIterations || performance.now() - t0 < durationS * 1000)) {
    const s = performance.now();
    const r = await catchUp(false);
    times.push(performance.now() - s);
    if (r.bytes !== expectedBytes) fail(`pass ${times.length} read ${r.bytes} bytes, expected ${expectedBytes}`);
    totalBytes += r.bytes;
    totalRequests += r.requests;
  }
  const seconds = (performance.now() - t0) / 1000;
  const { server_cpu, load_cpu } = cpu.end();
  readAgent.destroy();
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({
    stream: streamPath,
    messages: nMessages,
    message_bytes: 256,
    populate_seconds: populateSeconds,
    populate_appends_per_s: nMessages / populateSeconds,
    iterations: times.length,
    requests_per_catchup: totalRequests / times.length,
    messages_per_s: (nMessages * times.length) / seconds,
    mb_per_s: totalBytes / seconds / 1e6,
    bytes: totalBytes,
    seconds,
    server_cpu,
    load_cpu,
    catchup_ms: { p50: percentile(times, 50), max: times[times.length - 1] },
  }));
} catch (e) { fail(e.message); }
process.exit(0);
