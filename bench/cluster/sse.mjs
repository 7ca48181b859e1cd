// SSE delivery latency across cluster nodes: one application/json stream, created on the writer's
// node; N SSE subscribers (GET ?offset=now&live=sse), subscriber i on --subs[i % len]; one writer
// appending {"seq":n,"t":<performance.now()>} at a fixed rate to --writer. Delivery latency per
// (subscriber, event) = receive time - t, both from performance.now() in this one process. Reports
// all subscribers together, per node, and split into "same node as the writer" and "other node"
// (cross-node). Checks every subscriber saw every seq exactly once and in order. The first
// --warmup seconds of events are delivered and checked like the rest, but their latency is not
// recorded. Prints one JSON result line on stdout.
//
// Usage: node sse.mjs --writer URL --subs URL[,URL...] [--subscribers 100] [--rate 50]
//                     [--duration 10] [--warmup 0] [--name prefix]
import http from "node:http";
import { performance } from "node:perf_hooks";
import { request, flags, percentile, keepAliveAgent } from "../streams/http.mjs";

const f = flags();
const writerUrl = f.writer;
const subUrls = String(f.subs ?? "").split(",").filter(Boolean);
if (!writerUrl || subUrls.length === 0) {
  console.error("usage: sse.mjs --writer URL --subs URL[,URL...] [--subscribers N] [--rate R] [--duration S] [--warmup S]");
  process.exit(2);
}
const nSubs = Number(f.subscribers ?? 100);
const rate = Number(f.rate ?? 50);
const durationS = Number(f.duration ?? 10);
const warmupS = Number(f.warmup ?? 0);
const nWarm = Math.round(rate * warmupS); // seq < nWarm: warm-up, latency not recorded
const nEvents = nWarm + Math.max(1, Math.round(rate * durationS));
const drainMs = 5000; // how long to wait for stragglers after the last append
const streamPath = `/v1/stream/${f.name ?? "cluster-sse"}-${Date.now()}`;

const log = (...a) => console.error("[sse]", ...a);
// Time spent in subscribers' data handlers: all subscribers share this event loop, so a receive
// timestamp can be late by the other handlers' time (a client-side floor under the p99).
let clientBusyMs = 0;

class Subscriber {
  constructor(id, url) {
    this.id = id;
    this.url = url;
    this.lastSeq = -1;
    this.received = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.parseErrors = 0;
    this.seen = new Uint8Array(nEvents);
    this.latencies = [];
    this.reconnects = 0;
    this.nextOffset = "now";
    this.ready = null; // resolves on the first control event
    this.closed = false;
  }

  connect() {
    let resolveReady;
    const ready = new Promise((r) => (resolveReady = r));
    if (!this.ready) this.ready = ready;
    const u = new URL(`${streamPath}?offset=${encodeURIComponent(this.nextOffset)}&live=sse`, this.url);
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
          let start = 0;
          for (;;) {
            let nl = -1;
            for (let i = start; i < buf.length; i++) {
              const c = buf.charCodeAt(i);
              if (c === 10 || c === 13) { nl = i; break; }
            }
            if (nl < 0) break;
            if (buf.charCodeAt(nl) === 13 && nl === buf.length - 1) break; // maybe half of CRLF
            const line = buf.slice(start, nl);
            start = nl + (buf.charCodeAt(nl) === 13 && buf.charCodeAt(nl + 1) === 10 ? 2 : 1);
            if (line === "") {
              if (event !== null || data.length) this.dispatch(event ?? "message", data.join("\n"), now, resolveReady);
              event = null;
              data = [];
            } else if (!line.startsWith(":")) {
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              let value = colon < 0 ? "" : line.slice(colon + 1);
              if (value.startsWith(" ")) value = value.slice(1);
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
    // A server ends SSE connections (Tether after 60 s): resume from the last control offset.
    if (this.closed || this.reconnects >= 20 || this.nextOffset === "now") return;
    this.reconnects++;
    setTimeout(() => !this.closed && this.connect(), 10);
  }

  close() {
    this.closed = true;
    this.req?.destroy();
  }
}

const agent = keepAliveAgent(2);
const put = await request(writerUrl, "PUT", streamPath, { headers: { "content-type": "application/json" }, agent });
if (put.status !== 201 && put.status !== 200) {
  console.log(JSON.stringify({ error: `PUT ${streamPath} -> ${put.status}` }));
  process.exit(1);
}

const subs = Array.from({ length: nSubs }, (_, i) => new Subscriber(i, subUrls[i % subUrls.length]));
for (const s of subs) s.connect();
const readyTimeout = new Promise((r) => setTimeout(r, 15000, "timeout"));
const readyResult = await Promise.race([Promise.all(subs.map((s) => s.ready)), readyTimeout]);
const connected = subs.filter((s) => !s.error && s.nextOffset !== "now").length;
log(`${connected}/${nSubs} subscribers connected over ${subUrls.length} node(s)${readyResult === "timeout" ? " (timed out waiting)" : ""}`);

// Writer: one append in flight at a time (stream order = seq order), each due at start + n / rate;
// a late append goes out immediately.
const writeLat = [];
const writeErrors = {};
const intervalMs = 1000 / rate;
const t0 = performance.now();
let sent = 0;
for (let n = 0; n < nEvents; n++) {
  const wait = t0 + n * intervalMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const t = performance.now();
  try {
    const r = await request(writerUrl, "POST", streamPath, {
      headers: { "content-type": "application/json" }, body: JSON.stringify({ seq: n, t }), agent, timeoutMs: 10000,
    });
    if (r.status === 204 || r.status === 200) sent++;
    else writeErrors[r.status] = (writeErrors[r.status] ?? 0) + 1;
  } catch (e) {
    writeErrors[e.message] = (writeErrors[e.message] ?? 0) + 1;
  }
  writeLat.push(performance.now() - t);
}
const writeSeconds = (performance.now() - t0) / 1000;

const drainEnd = performance.now() + drainMs;
while (performance.now() < drainEnd && subs.some((s) => s.received < nEvents)) {
  await new Promise((r) => setTimeout(r, 50));
}
for (const s of subs) s.close();
agent.destroy();

const stats = (list) => {
  const lat = [];
  for (const s of list) for (const l of s.latencies) lat.push(l);
  lat.sort((a, b) => a - b);
  return {
    subscribers: list.length,
    samples: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.length ? lat[lat.length - 1] : null,
    lost: list.length * nEvents - list.reduce((a, s) => a + s.received, 0),
  };
};
const byNode = {};
for (const u of subUrls) byNode[u] = stats(subs.filter((s) => s.url === u));
writeLat.sort((a, b) => a - b);
const sum = (k) => subs.reduce((a, s) => a + s[k], 0);
const received = sum("received");
console.log(JSON.stringify({
  writer: writerUrl,
  subscribers: nSubs,
  connected,
  events: nEvents,
  warmup_events: nWarm,
  events_acked: sent,
  write_errors: writeErrors,
  write_rate: sent / writeSeconds,
  expected_deliveries: nSubs * nEvents,
  received,
  lost: nSubs * nEvents - received,
  duplicates: sum("duplicates"),
  out_of_order: sum("outOfOrder"),
  parse_errors: sum("parseErrors"),
  reconnects: sum("reconnects"),
  subscribers_complete: subs.filter((s) => s.received === nEvents && !s.outOfOrder && !s.duplicates).length,
  all: stats(subs),
  same_node: stats(subs.filter((s) => s.url === writerUrl)),
  cross_node: stats(subs.filter((s) => s.url !== writerUrl)),
  by_node: byNode,
  append_lat_ms: { p50: percentile(writeLat, 50), p99: percentile(writeLat, 99) },
  client_handler_ms_per_event: clientBusyMs / nEvents,
}));
process.exit(0);
