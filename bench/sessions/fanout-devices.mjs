// A device worker for fanout.mjs (forked; talks over IPC): opens `count` live devices on one
// session (SSE or WebSocket, offset=now), records every chunk each device receives with its
// arrival time, and at "finish" checks each device's text of the run against what the agent sent
// and returns the per-delta latencies.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Device, now, ownCpu, sleep } from "./lib.mjs";

const devices = [];
const errors = {};
const errorSamples = [];
let runId = null;
let cpuStart = 0;
const loop = monitorEventLoopDelay({ resolution: 10 });

function noteError(kind, detail) {
  errors[kind] = (errors[kind] ?? 0) + 1;
  if (errorSamples.length < 5) errorSamples.push(`${kind}: ${detail}`);
}

function makeDevice(url, session, transport) {
  const d = new Device(url, session, { transport, offset: "now", onError: noteError });
  d.chunks = []; // [arrival, run_id, seq, delta]
  d.done = false;
  d.onEntry = (e, arrival) => {
    if (e.type === "chunk") {
      d.chunks.push([arrival, e.value.run_id, e.value.seq, e.value.delta]);
    } else if (e.type === "run" && e.key === runId && e.value.status === "completed") {
      d.done = true;
      d.doneAt = arrival;
    } else if (e.type === "run" && e.value.status === "completed") {
      d.completedRuns = (d.completedRuns ?? []).concat(e.key); // runId not known yet: keep it
    }
  };
  return d;
}

async function connectAll({ url, session, transport, count, concurrency }) {
  const started = now();
  let next = 0;
  let failed = 0;
  await new Promise((resolve) => {
    let inflight = 0;
    let settled = 0;
    const pump = () => {
      while (inflight < concurrency && next < count) {
        const d = makeDevice(url, session, transport);
        devices.push(d);
        next++;
        inflight++;
        let counted = false;
        const settle = (ok) => {
          if (counted) return;
          counted = true;
          inflight--;
          settled++;
          if (!ok) failed++;
          if (settled === count) resolve();
          else pump();
        };
        d.onReady = () => settle(true);
        const origErr = d.onError;
        d.onError = (kind, detail) => { origErr(kind, detail); if (!d.ready && (kind === "dropped" || kind === "http_status")) settle(false); };
        d.connect();
        setTimeout(() => settle(false), 30000).unref();
      }
    };
    pump();
  });
  return { connected: devices.filter((d) => d.ready).length, failed, connectMs: now() - started };
}

async function finish({ runId: rid, expected, t0, waitMs }) {
  runId = rid;
  for (const d of devices) if (d.completedRuns?.includes(rid)) d.done = true;
  const deadline = now() + waitMs;
  while (now() < deadline && devices.some((d) => d.ready && !d.done)) await sleep(20);
  const cpuEnd = ownCpu();
  const latencies = [];
  let textMismatch = 0, missingChunks = 0, dupChunks = 0, outOfOrder = 0, notDone = 0, deltasSeen = 0;
  let bytes = 0, frames = 0, reconnects = 0, chunkEntries = 0;
  const mismatchSamples = [];
  const tokenRe = /\[t=([0-9.]+)\]/g;
  for (const d of devices) {
    bytes += d.bytes;
    frames += d.frames;
    reconnects += d.reconnects;
    if (!d.done) notDone++;
    const mine = d.chunks.filter((c) => c[1] === rid);
    chunkEntries += mine.length;
    const bySeq = new Map();
    let lastSeq = -1;
    for (const [arrival, , seq, delta] of mine) {
      if (bySeq.has(seq)) { dupChunks++; continue; }
      if (seq < lastSeq) outOfOrder++;
      lastSeq = Math.max(lastSeq, seq);
      bySeq.set(seq, delta);
      for (const m of delta.matchAll(tokenRe)) {
        latencies.push(Math.round((arrival - (t0 + Number(m[1]))) * 1000) / 1000);
        deltasSeen++;
      }
    }
    const maxSeq = mine.length ? Math.max(...bySeq.keys()) : -1;
    let text = "";
    for (let s = 0; s <= maxSeq; s++) {
      if (!bySeq.has(s)) { missingChunks++; continue; }
      text += bySeq.get(s);
    }
    if (text !== expected) {
      textMismatch++;
      if (mismatchSamples.length < 3) mismatchSamples.push({ got: text.length, want: expected.length, head: text.slice(0, 80) });
    }
  }
  for (const d of devices) d.close();
  return {
    devices: devices.length, ready: devices.filter((d) => d.ready).length, notDone,
    textMismatch, missingChunks, dupChunks, outOfOrder, deltasSeen, chunkEntries,
    reconnects, bytes, frames, errors, errorSamples, mismatchSamples,
    latencies, cpuS: cpuEnd - cpuStart,
    loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
  };
}

process.on("message", async (m) => {
  try {
    if (m.cmd === "connect") {
      loop.enable();
      process.send({ ev: "ready", ...(await connectAll(m)) });
    } else if (m.cmd === "start") {
      loop.reset();
      cpuStart = ownCpu();
    } else if (m.cmd === "finish") {
      const r = await finish(m);
      process.send({ ev: "result", ...r }, () => setTimeout(() => process.exit(0), 100));
    }
  } catch (e) {
    process.send({ ev: "fatal", error: String(e?.stack ?? e) });
  }
});
process.on("disconnect", () => process.exit(0));
