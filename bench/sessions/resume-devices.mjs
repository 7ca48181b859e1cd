// A worker for resume.mjs (forked; talks over IPC): at the "go" instant, `count` devices start
// reading one session's log from the same offset at once, over the session WebSocket or over
// plain catch-up GETs, and each records when it has read to the tail.
//
// - ws:   GET /v1/sessions/<id>/ws?offset=O; caught up once an entry with offset >= target
//         (the tail before the storm) has arrived. The devices stay connected (each is a device,
//         so presence entries are appended during the storm; the target ignores those).
// - http: GET /v1/sessions/<id>/events?offset=O, then again from Stream-Next-Offset, until a
//         response says Stream-Up-To-Date: true.
//
// Counting: every device counts the message entries it receives (a cheap prefix test per entry);
// one device in `verifyEvery` also parses everything and checks that no message key is repeated.
import { monitorEventLoopDelay } from "node:perf_hooks";
import WebSocket from "ws";
import { now, ownCpu, wsUrl } from "./lib.mjs";

const loop = monitorEventLoopDelay({ resolution: 10 });
const MSG_PREFIX = '{"type":"message",';
const OFFSET_KEY = ',"offset":"';

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
      r.bytes += data.length;
      r.frames++;
      const s = data.toString();
      if (r.firstMs === null) r.firstMs = now() - tGo;
      if (s.startsWith('{"type":"subscribed"')) return;
      if (s.startsWith('{"type":"error"')) { done(`error frame ${s.slice(0, 200)}`); return; }
      if (s.startsWith(MSG_PREFIX)) {
        r.messages++;
        if (keys) {
          const e = JSON.parse(s);
          if (keys.has(e.key)) r.dupKeys++;
          keys.add(e.key);
        }
      }
      const at = s.lastIndexOf(OFFSET_KEY);
      if (at >= 0) last = s.slice(at + OFFSET_KEY.length, s.indexOf('"', at + OFFSET_KEY.length));
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
      const res = await fetch(`${cfg.url}/v1/sessions/${cfg.session}/events?offset=${encodeURIComponent(offset)}`,
        { signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - now()))) });
      const body = await res.text();
      r.requests++;
      r.bytes += Buffer.byteLength(body);
      if (r.firstMs === null) r.firstMs = now() - tGo;
      if (res.status !== 200) throw new Error(`GET -> ${res.status} ${body.slice(0, 200)}`);
      if (keys) {
        for (const e of JSON.parse(body)) {
          if (e.type !== "message") continue;
          r.messages++;
          if (keys.has(e.key)) r.dupKeys++;
          keys.add(e.key);
        }
      } else {
        for (let i = body.indexOf(MSG_PREFIX); i >= 0; i = body.indexOf(MSG_PREFIX, i + 1)) r.messages++;
      }
      const next = res.headers.get("stream-next-offset");
      if (!next) throw new Error("response without Stream-Next-Offset");
      offset = next;
      if (res.headers.get("stream-up-to-date") === "true") {
        r.ok = true;
        r.doneMs = now() - tGo;
        return { r };
      }
    }
    r.error = `not caught up after ${cfg.timeoutMs} ms`;
  } catch (e) {
    r.error = String(e.cause?.code ?? e.message ?? e).slice(0, 200);
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
