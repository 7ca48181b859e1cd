// Shared helpers for the session benchmarks: one clock, HTTP calls, SSE and WebSocket
// devices that resume exactly from their last offset, percentiles, /proc CPU readings.
import http from "node:http";
import fs from "node:fs";
import WebSocket from "ws";

/**
 * One clock for every process on the machine: CLOCK_MONOTONIC (process.hrtime) is
 * system-wide on Linux, so a time taken in the agent's process and one taken in a device
 * process are directly comparable. Milliseconds as a float.
 */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Parses "--name value" flags (and bare "--flag" as true) into an object. */
export function flags(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const k = argv[i].slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[k] = argv[++i];
    else out[k] = true;
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an ascending-sorted numeric array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** {n, p50, p99, max, mean} of an array of numbers (sorted in place, as a Float64Array). */
export function summary(values) {
  const a = Float64Array.from(values).sort();
  if (a.length === 0) return { n: 0, p50: null, p99: null, max: null, mean: null };
  let sum = 0;
  for (const v of a) sum += v;
  return { n: a.length, p50: percentile(a, 50), p99: percentile(a, 99), max: a[a.length - 1], mean: sum / a.length };
}

/** utime + stime of a process in seconds (from /proc/PID/stat), or null. */
export function cpuSeconds(pid) {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine spent busy (all CPUs, from /proc/stat), or null. */
export function machineBusySeconds() {
  try {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / 100;
  } catch {
    return null;
  }
}

/** This process's own CPU seconds (user + system). */
export const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One HTTP request with a hard timeout; resolves {status, headers, body: Buffer}. */
export function request(baseUrl, method, path, { body, headers = {}, timeoutMs = 30000, agent: a = agent } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, baseUrl);
    let payload;
    if (body !== undefined) {
      payload = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
      headers = { "content-type": "application/json", "content-length": payload.length, ...headers };
    }
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: a },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** A JSON call that must answer with `expect`; returns the parsed body. */
export async function call(baseUrl, method, path, body, expect = [200, 201]) {
  const r = await request(baseUrl, method, path, { body });
  if (!expect.includes(r.status)) {
    throw new Error(`${method} ${path} -> ${r.status} ${r.body.toString().slice(0, 300)}`);
  }
  return r.body.length ? JSON.parse(r.body) : null;
}

export const wsUrl = (baseUrl, sessionId, offset) =>
  `${baseUrl.replace(/^http/, "ws")}/v1/sessions/${sessionId}/ws?offset=${encodeURIComponent(offset)}`;

/**
 * One live device on a session: a WebSocket or an SSE connection. It calls onEntry(entry,
 * arrival) for every log entry, keeps the offset to resume from, and, when the connection drops
 * without close() having been called, reconnects from that offset (counting it), as the contract
 * (rule 1: resume is exact) says a client should.
 *
 * Options: transport "ws"|"sse", offset (initial), onEntry, onReady (first subscribed/control),
 * onError(kind, detail), resume (default true), maxReconnects (default 5).
 */
export class Device {
  constructor(baseUrl, sessionId, opts) {
    this.baseUrl = baseUrl;
    this.sessionId = sessionId;
    this.transport = opts.transport;
    this.offset = opts.offset ?? "now";
    this.onEntry = opts.onEntry ?? (() => {});
    this.onReady = opts.onReady ?? (() => {});
    this.onError = opts.onError ?? (() => {});
    this.onControl = opts.onControl ?? (() => {});
    this.resume = opts.resume ?? true;
    this.maxReconnects = opts.maxReconnects ?? 5;
    this.reconnects = 0;
    this.bytes = 0;
    this.frames = 0;
    this.ready = false;
    this.closing = false;
    this.open = false;
    this.recovered = null;
  }

  connect() {
    if (this.transport === "ws") this.#connectWs();
    else this.#connectSse();
  }

  close() {
    this.closing = true;
    this.open = false;
    if (this.ws) {
      // terminate(): drop the TCP connection at once, as a phone losing its network does;
      // the server sees the close and the device leaves. (A close handshake would also do.)
      try { this.ws.close(1000); } catch {}
      const ws = this.ws;
      setTimeout(() => { try { ws.terminate(); } catch {} }, 2000).unref();
    }
    if (this.req) this.req.destroy();
  }

  #dropped(why) {
    this.open = false;
    if (this.closing) return;
    if (!this.resume || this.reconnects >= this.maxReconnects) {
      this.onError("dropped", why);
      this.closing = true;
      return;
    }
    this.reconnects++;
    this.onError("reconnect", why);
    setTimeout(() => this.connect(), 50);
  }

  #markReady() {
    this.open = true;
    if (!this.ready) {
      this.ready = true;
      this.onReady(this);
    }
  }

  #connectWs() {
    const ws = new WebSocket(wsUrl(this.baseUrl, this.sessionId, this.offset), { perMessageDeflate: false });
    this.ws = ws;
    let gone = false;
    ws.on("message", (data) => {
      const arrival = now();
      this.bytes += data.length;
      this.frames++;
      let f;
      try { f = JSON.parse(data); } catch (e) { this.onError("bad_frame", String(data).slice(0, 200)); return; }
      if (f.type === "subscribed") {
        this.recovered = f.recovered;
        if (f.offset) this.offset = f.offset;
        this.#markReady();
        return;
      }
      if (f.type === "error" || f.type === "reply") {
        if (f.type === "error") this.onError("error_frame", JSON.stringify(f).slice(0, 300));
        return;
      }
      if (f.offset) this.offset = f.offset;
      this.onEntry(f, arrival);
    });
    ws.on("error", (e) => { if (!this.closing) this.onError("ws_error", e.message); });
    ws.on("close", (code, reason) => {
      if (gone) return;
      gone = true;
      this.#dropped(`ws close ${code} ${reason}`);
    });
  }

  #connectSse() {
    const u = new URL(`/v1/sessions/${this.sessionId}/events?live=sse&offset=${encodeURIComponent(this.offset)}`, this.baseUrl);
    let gone = false;
    const req = http.get(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, agent: false, headers: { accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) {
          let b = "";
          res.on("data", (c) => (b += c));
          res.on("end", () => { this.onError("http_status", `${res.statusCode} ${b.slice(0, 200)}`); this.closing = true; });
          return;
        }
        res.setEncoding("utf8");
        let buf = "";
        let event = "message";
        let data = [];
        res.on("data", (text) => {
          const arrival = now();
          this.bytes += Buffer.byteLength(text);
          buf += text;
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            let line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.endsWith("\r")) line = line.slice(0, -1);
            if (line === "") {
              if (data.length) this.#sseEvent(event, data.join("\n"), arrival);
              event = "message";
              data = [];
            } else if (line.startsWith("event:")) {
              event = line.slice(6).trim();
            } else if (line.startsWith("data:")) {
              data.push(line.slice(5).replace(/^ /, ""));
            }
          }
        });
        const end = (why) => { if (!gone) { gone = true; this.#dropped(why); } };
        res.on("end", () => end("sse response ended"));
        res.on("error", (e) => end(`sse error ${e.message}`));
        res.on("close", () => end("sse closed"));
      },
    );
    this.req = req;
    req.on("error", (e) => {
      if (gone) return;
      gone = true;
      if (!this.closing) this.onError("sse_error", e.message);
      this.#dropped(`sse request error ${e.message}`);
    });
  }

  #sseEvent(event, data, arrival) {
    this.frames++;
    if (event === "control") {
      let c;
      try { c = JSON.parse(data); } catch { this.onError("bad_control", data.slice(0, 200)); return; }
      if (c.streamNextOffset) this.offset = c.streamNextOffset;
      this.#markReady();
      this.onControl(c, arrival);
    } else if (event === "data") {
      let arr;
      try { arr = JSON.parse(data); } catch { this.onError("bad_data", data.slice(0, 200)); return; }
      for (const e of arr) this.onEntry(e, arrival);
    }
  }
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  });
  await Promise.all(workers);
}

/** Writes the result object as the last stdout line (what run.sh reads). */
export function emit(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}
