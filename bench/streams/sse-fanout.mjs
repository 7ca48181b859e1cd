// SSE fan-out: one application/json stream, N SSE subscribers
// (GET ?offset=now&live=sse), one writer appending {"seq":n,"t":<ms>} at a fixed
// rate. Delivery latency per (subscriber, event) = receive time - send time, both
// from performance.now() in this one process. Checks every subscriber saw every
// seq exactly once and in order. Prints one JSON result line on stdout.
// The first --warmup seconds of events are delivered and checked like the rest
// but their latencies are not recorded (cold JIT on either server).
//
// Usage: node sse-fanout.mjs --url URL [--subscribers 100] [--rate 50] [--duration 10] [--warmup 0]
import http from "node:http";
import { performance } from "node:perf_hooks";
import { request, flags, percentile, keepAliveAgent } from "./http.mjs";

const f = flags();
const baseUrl = f.url;
const nSubs = Number(f.subscribers ?? 100);
const rate = Number(f.rate ?? 50);
const durationS = Number(f.duration ?? 10);
const warmupS = Number(f.warmup ?? 0);
const nWarm = Math.round(rate * warmupS);          // seq < nWarm: warm-up, latency not recorded
const nEvents = nWarm + Math.max(1, Math.round(rate * durationS));
const drainMs = 5000; // how long to wait for stragglers after the last append
const streamPath = `/v1/stream/sse-fanout-${Date.now()}`;

const log = (...a) => console.error("[sse]", ...a);
// Time this process spends inside subscribers' data handlers. All subscribers
// share this one event loop, so per event the last subscriber's receive
// timestamp can be late by up to the others' handler time: a client-side floor
// under the measured p99, reported so it can be told apart from the server.
let clientBusyMs = 0;

// ---- subscriber ------------------------------------------------------------

class Subscriber {
  constructor(id) {
    this.id = id;
    this.lastSeq = -1;
    this.received = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.parseErrors = 0;
    this.seen = new Uint8Array(nEvents);
    this.latencies = [];
    this.reconnects = 0;
    this.nextOffset = "now";
    this.ready = null; // resolves on first control event
    this.closed = false;
  }

  connect() {
    let resolveReady;
    const ready = new Promise((r) => (resolveReady = r));
    if (!this.ready) this.ready = ready;
    const u = new URL(`${streamPath}?offset=${encodeURIComponent(this.nextOffset)}&live=sse`, baseUrl);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: "GET", agent: false,
        headers: { accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) {
          this.error = `HTTP ${res.statusCode}`;
          res.resume();
          resolveReady();
          return;
        }
        res.setEncoding("utf8");
        let buf = "";
        let event = null;
        let data = [];
        res.on("data", (chunk) => {
          const now = performance.now(); // one receive timestamp per TCP read
          buf += chunk;
          // Lines may be split across chunks: keep the unterminated tail in buf.
          let start = 0;
          for (;;) {
            let nl = -1;
            for (let i = start; i < buf.length; i++) {
              const c = buf.charCodeAt(i);
              if (c === 10 || c === 13) { nl = i; break; }
            }
            if (nl < 0) break;
            // A CR at the very end of the buffer may be the first half of CRLF.
            if (buf.charCodeAt(nl) === 13 && nl === buf.length - 1) break;
            const line = buf.slice(start, nl);
            start = nl + (buf.charCodeAt(nl) === 13 && buf.charCodeAt(nl + 1) === 10 ? 2 : 1);
            if (line === "") {
              if (event !== null || data.length) this.dispatch(event ?? "message", data.join("\n"), now, resolveReady);
              event = null;
              data = [];
            } else if (line.startsWith(":")) {
              // comment / keep-alive
            } else {
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              let value = colon < 0 ? "" : line.slice(colon + 1);
              if (value.startsWith(" ")) value = value.slice(1); // "data:x" and "data: x" both accepted
              if (field === "event") event = value;
              else if (field === "data") data.push(value);
            }
          }
          buf = buf.slice(start);
          clientBusyMs += performance.now() - now;
        });
        res.on("end", () => this.onEnd());
        res.on("error", () => this.onEnd());
      },
    );
    req.on("error", (e) => { this.error = e.message; resolveReady(); this.onEnd(); });
    req.end();
    this.req = req;
  }

  dispatch(event, payload, now, resolveReady) {
    if (event === "control") {
      try {
        const c = JSON.parse(payload);
        if (c.streamNextOffset) this.nextOffset = c.streamNextOffset;
      } catch { this.parseErrors++; }
      resolveReady();
      return;
    }
    if (event !== "data") return;
    let msgs;
    try { msgs = JSON.parse(payload); } catch { this.parseErrors++; return; }
    if (!Array.isArray(msgs)) msgs = [msgs];
    for (const m of msgs) {
      const seq = m?.seq;
      if (!Number.isInteger(seq) || seq < 0 || seq >= nEvents) { this.parseErrors++; continue; }
      if (this.seen[seq]) { this.duplicates++; continue; }
      this.seen[seq] = 1;
      this.received++;
      if (seq < this.lastSeq) this.outOfOrder++;
      this.lastSeq = Math.max(this.lastSeq, seq);
      if (seq >= nWarm) this.latencies.push(now - m.t);
    }
  }

  onEnd() {
    // A server may end SSE connections (e.g. every ~60 s). Resume from the last
    // control offset, a bounded number of times, until the run is over.
    if (this.closed || this.reconnects >= 20 || this.nextOffset === "now") return;
    this.reconnects++;
    setTimeout(() => !this.closed && this.connect(), 10);
  }

  close() {
    this.closed = true;
    this.req?.destroy();
  }
}

// ---- run -------------------------------------------------------------------

const agent = keepAliveAgent(2);
const put = await request(baseUrl, "PUT", streamPath, { headers: { "content-type": "application/json" }, agent });
if (put.status !== 201 && put.status !== 200) {
  console.log(JSON.stringify({ error: `PUT ${streamPath} -> ${put.status}` }));
  process.exit(1);
}

const subs = Array.from({ length: nSubs }, (_, i) => new Subscriber(i));
for (const s of subs) s.connect();
const readyTimeout = new Promise((r) => setTimeout(r, 15000, "timeout"));
const readyResult = await Promise.race([Promise.all(subs.map((s) => s.ready)), readyTimeout]);
const connected = subs.filter((s) => !s.error && s.nextOffset !== "now").length;
log(`${connected}/${nSubs} subscribers connected${readyResult === "timeout" ? " (timed out waiting)" : ""}`);

// Writer: one append in flight at a time (so the stream order is the seq order),
// each scheduled at start + n / rate; a late append goes out immediately.
const writeLat = [];
const writeErrors = {};
const intervalMs = 1000 / rate;
const t0 = performance.now();
let sent = 0;
for (let n = 0; n < nEvents; n++) {
  const due = t0 + n * intervalMs;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const t = performance.now();
  try {
    const r = await request(baseUrl, "POST", streamPath, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ seq: n, t }), agent, timeoutMs: 10000,
    });
    if (r.status === 204 || r.status === 200) sent++;
    else writeErrors[r.status] = (writeErrors[r.status] ?? 0) + 1;
  } catch (e) {
    writeErrors[e.message] = (writeErrors[e.message] ?? 0) + 1;
  }
  writeLat.push(performance.now() - t);
}
const writeSeconds = (performance.now() - t0) / 1000;

// Wait (bounded) for every subscriber to have every event.
const drainEnd = performance.now() + drainMs;
while (performance.now() < drainEnd && subs.some((s) => s.received < nEvents)) {
  await new Promise((r) => setTimeout(r, 50));
}
for (const s of subs) s.close();
agent.destroy();

const all = [];
let received = 0, duplicates = 0, outOfOrder = 0, parseErrors = 0, reconnects = 0, subsComplete = 0;
for (const s of subs) {
  for (const l of s.latencies) all.push(l);
  received += s.received;
  duplicates += s.duplicates;
  outOfOrder += s.outOfOrder;
  parseErrors += s.parseErrors;
  reconnects += s.reconnects;
  if (s.received === nEvents && s.outOfOrder === 0 && s.duplicates === 0) subsComplete++;
}
all.sort((a, b) => a - b);
writeLat.sort((a, b) => a - b);
const expected = nSubs * nEvents;
const result = {
  subscribers: nSubs,
  connected,
  events: nEvents,
  warmup_events: nWarm,
  latency_samples: all.length,
  events_acked: sent,
  write_errors: writeErrors,
  write_rate: sent / writeSeconds,
  expected_deliveries: expected,
  received,
  lost: expected - received,
  duplicates,
  out_of_order: outOfOrder,
  parse_errors: parseErrors,
  reconnects,
  subscribers_complete: subsComplete,
  lat_ms: { p50: percentile(all, 50), p99: percentile(all, 99), max: all.length ? all[all.length - 1] : null },
  append_lat_ms: { p50: percentile(writeLat, 50), p99: percentile(writeLat, 99) },
  client_handler_ms_per_event: clientBusyMs / nEvents,
};
console.log(JSON.stringify(result));
process.exit(0);
