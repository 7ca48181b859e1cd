// A worker for resume.mjs (forked; talks over IPC): at the "go" instant, `count` devices start
// reading one session's log from the same offset at once, over the session WebSocket or over
// plain catch-up GETs, and each records when it has read to the tail.
//
// - ws:   GET /v1/sessions/<id>/ws?offset=O; caught up once an entry with offset >= target
//         (the tail before the storm) has arrived. The devices stay connected (each is a device,
//         so presence entries are appended during the storm; the target ignores those).
// - http: GET (node:http keep-alive, one connection per device) /v1/sessions/<id>/events?offset=O, then again from Stream-Next-Offset, until a
//         response says Stream-Up-To-Date: true.
//
// Counting: every device counts the message entries it receives (a cheap prefix test per entry);
// one device in `verifyEvery` also parses everything and checks that no message key is repeated.
import { monitorEventLoopDelay } from "node:perf_hooks";
import http from "node:http";
import WebSocket from "ws";
import { now, ownCpu, wsUrl } from "./lib.mjs";

const loop = monitorEventLoopDelay({ resolution: 10 });
const MSG = Buffer.from('{"type":"message",');
const SUBSCRIBED = Buffer.from('{"type":"subscribed"');
const ERROR = Buffer.from('{"type":"error"');
const OFFSET = Buffer.from(',"offset":"');
const QUOTE = 0x22;
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** One GET on a keep-alive connection; resolves {status, headers, body: Buffer}. */
function get(url, path, timeoutMs) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent: httpAgent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

function wsDevice(cfg, idx, tGo) {
  return new Promise((resolve) => {
    const verify = idx % cfg.verifyEvery === 0;
    const r = { ok: false, bytes: 0, frames: 0, messages: 0, dupKeys: 0, firstMs: null, doneMs: null, error: null, verified: verify };
    const keys = verify ? new Set() : null;
    let last = "";
    let finished = false;
    const ws = new WebSocket(wsUrl(cfg.url, cfg.session, cfg.from), { perMessageDeflate: false });
    const done = (err) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (err) r.error = err;
      resolve({ r, ws });
    };
    const timer = setTimeout(() => done(`not caught up after ${cfg.timeoutMs} ms (last offset ${last})`), cfg.timeoutMs);
    ws.on("message", (data) => {
      // Buffers only: no per-frame string decoding (the client is the bottleneck otherwise).
      r.bytes += data.length;
      r.frames++;
      if (r.firstMs === null) r.firstMs = now() - tGo;
      if (data.indexOf(SUBSCRIBED) === 0) return;
      if (data.indexOf(ERROR) === 0) { done(`error frame ${data.toString().slice(0, 200)}`); return; }
      if (data.indexOf(MSG) === 0) {
        r.messages++;
        if (keys) {
          const e = JSON.parse(data);
          if (keys.has(e.key)) r.dupKeys++;
          keys.add(e.key);
        }
      }
      const at = data.lastIndexOf(OFFSET);
      if (at >= 0) {
        const startAt = at + OFFSET.length;
        last = data.toString("latin1", startAt, data.indexOf(QUOTE, startAt));
      }
      if (!r.ok && last >= cfg.target) {
        r.ok = true;
        r.doneMs = now() - tGo;
        done(null);
      }
    });
    ws.on("error", (e) => done(`ws error ${e.message}`));
    ws.on("close", (code) => done(`ws closed ${code} before the tail`));
  });
}

async function httpDevice(cfg, idx, tGo) {
  const verify = idx % cfg.verifyEvery === 0;
  const r = { ok: false, bytes: 0, requests: 0, messages: 0, dupKeys: 0, firstMs: null, doneMs: null, error: null, verified: verify };
  const keys = verify ? new Set() : null;
  let offset = cfg.from;
  const deadline = tGo + cfg.timeoutMs;
  try {
    while (now() < deadline) {
      const res = await get(cfg.url, `/v1/sessions/${cfg.session}/events?offset=${encodeURIComponent(offset)}`,
        Math.max(1, Math.ceil(deadline - now())));
      const body = res.body;
      r.requests++;
      r.bytes += body.length;
      if (r.firstMs === null) r.firstMs = now() - tGo;
      if (res.status !== 200) throw new Error(`GET -> ${res.status} ${body.toString().slice(0, 200)}`);
      if (keys) {
        for (const e of JSON.parse(body)) {
          if (e.type !== "message") continue;
          r.messages++;
          if (keys.has(e.key)) r.dupKeys++;
          keys.add(e.key);
        }
      } else {
        for (let i = body.indexOf(MSG); i >= 0; i = body.indexOf(MSG, i + MSG.length)) r.messages++;
      }
      const next = res.headers["stream-next-offset"];
      if (!next) throw new Error("response without Stream-Next-Offset");
      offset = next;
      if (res.headers["stream-up-to-date"] === "true") {
        r.ok = true;
        r.doneMs = now() - tGo;
        return { r };
      }
    }
    r.error = `not caught up after ${cfg.timeoutMs} ms`;
  } catch (e) {
    r.error = String(e.code ?? e.message ?? e).slice(0, 200);
  }
  return { r };
}

process.on("message", async (m) => {
  if (m.cmd !== "go") return;
  try {
    const cfg = m;
    loop.enable();
    while (now() < cfg.tGo) { /* wait for the common start instant */ }
    const cpu0 = ownCpu();
    const runs = [];
    for (let i = 0; i < cfg.count; i++) {
      const idx = cfg.firstIndex + i;
      runs.push(cfg.transport === "ws" ? wsDevice(cfg, idx, cfg.tGo) : httpDevice(cfg, idx, cfg.tGo));
    }
    const out = await Promise.all(runs);
    const cpuS = ownCpu() - cpu0;
    for (const o of out) if (o.ws) o.ws.terminate();
    process.send({ ev: "result", devices: out.map((o) => o.r), cpuS, loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } },
      () => setTimeout(() => process.exit(0), 100));
  } catch (e) {
    process.send({ ev: "fatal", error: String(e?.stack ?? e) });
  }
});
process.on("disconnect", () => process.exit(0));
