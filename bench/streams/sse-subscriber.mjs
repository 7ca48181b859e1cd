// The SSE fan-out measurement shared by bench/streams/sse-fanout.mjs (one server) and
// bench/cluster/sse.mjs (several cluster nodes): SSE subscribers that parse the
// event stream and check every {"seq":n,"t":<ms>} event (seen once, in order,
// latency = receive time - t), and the writer that appends those events at a fixed
// rate. Both scripts create the stream, connect, write, drain and report alike;
// they differ in which URL each subscriber and the writer use and in how they
// report.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { request } from "./http.mjs";

/**
 * Event counts from the common flags (--subscribers, --rate, --duration, --warmup).
 * Events seq < nWarm are the warm-up: delivered and checked, latency not recorded.
 */
export function fanoutParams(f) {
  const nSubs = Number(f.subscribers ?? 100);
  const rate = Number(f.rate ?? 50);
  const durationS = Number(f.duration ?? 10);
  const warmupS = Number(f.warmup ?? 0);
  const nWarm = Math.round(rate * warmupS); // seq < nWarm: warm-up, latency not recorded
  const nEvents = nWarm + Math.max(1, Math.round(rate * durationS));
  const drainMs = 5000; // how long to wait for stragglers after the last append
  return { nSubs, rate, durationS, warmupS, nWarm, nEvents, drainMs };
}

/**
 * One SSE reader of `streamPath` on the server at `url` (GET ?offset=now&live=sse).
 * `busy` is an accumulator shared by all subscribers: busy.ms grows by the time
 * spent in this process's data handlers. All subscribers share one event loop,
 * so per event the last subscriber's receive timestamp can be late by up to the
 * others' handler time: a client-side floor under the measured p99, reported so
 * it can be told apart from the server.
 */
export class Subscriber {
  constructor(id, url, { streamPath, nEvents, nWarm, busy }) {
    this.id = id;
    this.url = url;
    this.streamPath = streamPath;
    this.nEvents = nEvents;
    this.nWarm = nWarm;
    this.busy = busy;
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
    const u = new URL(`${this.streamPath}?offset=${encodeURIComponent(this.nextOffset)}&live=sse`, this.url);
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
          this.busy.ms += performance.now() - now;
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
      if (!Number.isInteger(seq) || seq < 0 || seq >= this.nEvents) { this.parseErrors++; continue; }
      if (this.seen[seq]) { this.duplicates++; continue; }
      this.seen[seq] = 1;
      this.received++;
      if (seq < this.lastSeq) this.outOfOrder++;
      this.lastSeq = Math.max(this.lastSeq, seq);
      if (seq >= this.nWarm) this.latencies.push(now - m.t);
    }
  }

  onEnd() {
    // A server may end SSE connections (Tether after 60 s). Resume from the last
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

/** PUTs the application/json stream; on failure prints the error result line and exits 1. */
export async function createJsonStreamOrExit(url, streamPath, agent) {
  const put = await request(url, "PUT", streamPath, { headers: { "content-type": "application/json" }, agent });
  if (put.status !== 201 && put.status !== 200) {
    console.log(JSON.stringify({ error: `PUT ${streamPath} -> ${put.status}` }));
    process.exit(1);
  }
}

/** Connects every subscriber and waits (up to 15 s) for each one's first control event. */
export async function connectAll(subs) {
  for (const s of subs) s.connect();
  const readyTimeout = new Promise((r) => setTimeout(r, 15000, "timeout"));
  const readyResult = await Promise.race([Promise.all(subs.map((s) => s.ready)), readyTimeout]);
  const connected = subs.filter((s) => !s.error && s.nextOffset !== "now").length;
  return { connected, timedOut: readyResult === "timeout" };
}

/**
 * The writer: appends {"seq":n,"t":performance.now()} for n < nEvents to the stream at
 * `url`, one append in flight at a time (so the stream order is the seq order), each
 * scheduled at start + n / rate; a late append goes out immediately.
 */
export async function appendAtRate(url, streamPath, { nEvents, rate, agent }) {
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
      const r = await request(url, "POST", streamPath, {
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
  return { sent, writeErrors, writeLat, writeSeconds };
}

/** Waits (up to drainMs) for every subscriber to have every event, then closes them all. */
export async function drainAndClose(subs, { nEvents, drainMs }) {
  const drainEnd = performance.now() + drainMs;
  while (performance.now() < drainEnd && subs.some((s) => s.received < nEvents)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const s of subs) s.close();
}
