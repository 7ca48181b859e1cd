// The chaos test's load and its checks (run by scripts/chaos/cluster.sh, which kills a node and
// restarts Redis while this runs). Until $STOP_FILE appears it drives, against the nodes in $NODES
// (comma-separated base URLs):
//   - idempotent producers: one JSON stream each, appends {p, seq} with Producer-Id/Epoch/Seq, a
//     failed or unanswered append retried with the same seq on the next node until it is answered;
//   - SSE readers: one per stream, pinned to a node in $READ_NODES (the ones that survive), each
//     resuming from its last Stream-Next-Offset whenever its connection breaks;
//   - sessions with the built-in agent: a message every ~1.5 s ("count to 100", about 2 s of
//     answer, so a run is always under way; each message interrupts the run before), retried with
//     its id.
// Then it checks: every acknowledged append is in its stream exactly once and in order, and
// nothing is there that was never sent; every reader received exactly its stream, without a gap
// or a repeat; no session has a run left running. Exits 1 with the reasons when a check fails.
import { existsSync } from 'node:fs';

const NODES = process.env.NODES.split(',');
const READ_NODES = (process.env.READ_NODES || process.env.NODES).split(',');
const STOP_FILE = process.env.STOP_FILE;
const PRODUCERS = Number(process.env.PRODUCERS || 6);
const SESSIONS = Number(process.env.SESSIONS || 3);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stopped = () => existsSync(STOP_FILE);
const log = (m) => console.log(`[chaos-load ${new Date().toISOString().slice(11, 19)}] ${m}`);
const stats = { retries: 0, answered: 0, readerReconnects: 0, messages: 0 };

/** One request, tried on each node in turn until one answers with a status below 500. */
async function call(method, path, { headers = {}, body, start = 0, giveUpMs = 120_000 } = {}) {
  const end = Date.now() + giveUpMs;
  for (let i = start; ; i++) {
    const base = NODES[i % NODES.length];
    try {
      const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(8000) });
      if (res.status < 500) return { res, text: await res.text() };
      await res.text();
    } catch {
      // refused, reset or timed out: the node is down, or Redis is
    }
    stats.retries++;
    if (Date.now() > end) throw new Error(`${method} ${path}: no node answered for ${giveUpMs} ms`);
    await sleep(100);
  }
}

async function producer(p) {
  const path = `/v1/stream/chaos/p${p}`;
  await call('PUT', path, { headers: { 'content-type': 'application/json' } });
  const acked = [];
  let seq = 0;
  while (!stopped()) {
    const body = JSON.stringify({ p, seq });
    const { res, text } = await call('POST', path, {
      start: seq + p,
      headers: { 'content-type': 'application/json', 'producer-id': `p${p}`, 'producer-epoch': '0', 'producer-seq': String(seq) },
      body,
    });
    if (res.status !== 200 && res.status !== 204) throw new Error(`producer ${p} seq ${seq}: ${res.status} ${text}`);
    acked.push(seq);
    stats.answered++;
    seq++;
  }
  return { p, path, acked, attempted: seq };
}

/** Follows a stream over SSE on one node, resuming from the last offset after every break. */
function reader(p, node) {
  const path = `/v1/stream/chaos/p${p}`;
  const got = [];
  let offset = '-1';
  let done = false;
  const abort = new AbortController();
  const run = (async () => {
    while (!done) {
      try {
        const res = await fetch(`${node}${path}?offset=${encodeURIComponent(offset)}&live=sse`, { signal: abort.signal });
        if (res.status !== 200) {
          await res.text();
          throw new Error(`status ${res.status}`);
        }
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: ?(.*)$/m.exec(frame)?.[1];
            const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (event === 'data') got.push(...JSON.parse(data));
            else if (event === 'control') offset = JSON.parse(data).streamNextOffset ?? offset;
          }
          if (done) break;
        }
      } catch {
        // the node or Redis went away: resume from the last control event's offset
      }
      if (!done) {
        stats.readerReconnects++;
        await sleep(200);
      }
    }
  })();
  return { p, node, got, stop: async () => { done = true; abort.abort(); await run; } };
}

async function readAll(path) {
  const out = [];
  let offset = '-1';
  for (;;) {
    const { res, text } = await call('GET', `${path}?offset=${encodeURIComponent(offset)}`, { start: 1 });
    if (res.status !== 200) throw new Error(`read ${path}: ${res.status} ${text}`);
    out.push(...JSON.parse(text));
    offset = res.headers.get('stream-next-offset');
    if (res.headers.get('stream-up-to-date') === 'true') return out;
  }
}

async function sessions() {
  const ids = [];
  for (let s = 0; s < SESSIONS; s++) {
    const { res, text } = await call('POST', '/v1/sessions', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: { model: 'scripted', instructions: 'Count.' }, policy: { multitask: 'interrupt' } }),
    });
    if (res.status !== 201) throw new Error(`create session: ${res.status} ${text}`);
    ids.push(JSON.parse(text).id);
  }
  let n = 0;
  while (!stopped()) {
    for (const id of ids) {
      const { res, text } = await call('POST', `/v1/sessions/${id}/messages`, {
        start: n,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: `msg_chaos_${n}_${id.slice(-6)}`, content: 'count to 100' }),
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`message to ${id}: ${res.status} ${text}`);
      stats.messages++;
    }
    n++;
    await sleep(1500);
  }
  return ids;
}

const failures = [];
const readers = [];
for (let p = 0; p < PRODUCERS; p++) readers.push(reader(p, READ_NODES[p % READ_NODES.length]));
const ticker = setInterval(() => log(`appends answered ${stats.answered}, retries ${stats.retries}, reader reconnects ${stats.readerReconnects}, session messages ${stats.messages}`), 2000);
const [produced, sessionIds] = await Promise.all([
  Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p))),
  sessions(),
]);
log('load stopped; checking');
for (const { p, path, acked, attempted } of produced) {
  const stored = (await readAll(path)).map((m) => m.seq);
  const expected = Array.from({ length: stored.length }, (_, i) => i);
  if (JSON.stringify(stored) !== JSON.stringify(expected)) failures.push(`p${p}: the stream is not 0..n once each in order: ${stored.join(',')}`);
  const lastAck = acked.at(-1) ?? -1;
  if (stored.length <= lastAck) failures.push(`p${p}: acknowledged seq ${lastAck} is missing (stream holds ${stored.length})`);
  if (stored.length > attempted) failures.push(`p${p}: the stream holds ${stored.length} appends, only ${attempted} were sent`);
  const r = readers[p];
  const deadline = Date.now() + 15_000;
  while (r.got.length < stored.length && Date.now() < deadline) await sleep(100);
  await r.stop();
  const seen = r.got.map((m) => m.seq);
  if (JSON.stringify(seen) !== JSON.stringify(stored)) {
    failures.push(`p${p}: the SSE reader on ${r.node} saw ${seen.length} appends, not exactly the stream's ${stored.length}: ${seen.join(',')}`);
  }
  log(`p${p}: ${stored.length} appends stored, ${acked.length} acknowledged, reader on ${r.node} saw ${seen.length}`);
}
for (const id of sessionIds) {
  const deadline = Date.now() + 45_000;
  let view;
  for (;;) {
    const { res, text } = await call('GET', `/v1/sessions/${id}`);
    view = JSON.parse(text);
    if (res.status === 200 && view.runs.length === 0) break;
    if (Date.now() > deadline) {
      failures.push(`session ${id}: runs still active 45 s after the load stopped: ${JSON.stringify(view.runs)}`);
      break;
    }
    await sleep(500);
  }
  const { text } = await call('GET', `/v1/sessions/${id}/events?offset=-1`);
  const runs = new Map();
  for (const e of JSON.parse(text)) if (e.type === 'run') runs.set(e.key, e.value?.status ?? e.headers?.operation);
  const counts = {};
  for (const s of runs.values()) counts[s] = (counts[s] || 0) + 1;
  log(`session ${id}: runs by final status ${JSON.stringify(counts)}`);
  for (const [key, s] of runs) if (['queued', 'running', 'waiting_approval'].includes(s)) failures.push(`session ${id}: run ${key} ended the test ${s}`);
}
clearInterval(ticker);
log(`totals: ${JSON.stringify(stats)}`);
if (failures.length) {
  for (const f of failures) log(`FAILED: ${f}`);
  process.exit(1);
}
log('every check passed');
process.exit(0);
