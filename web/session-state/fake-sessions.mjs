// A stand-in for Tether's /v1/sessions API, used ONLY to check this test itself before (or apart
// from) the real server implementation: `SESSION_STATE_FAKE=1 run.sh`. It is not the server under
// test and proves nothing about it.
//
//   node fake-sessions.mjs <port> <tether base url>
//
// It keeps each session's log in a plain Durable Streams JSON stream on the real Tether server
// (/v1/stream/fake-sessions/<id>), writes the contract's change messages there, and proxies
// GET /v1/sessions/<id>/events and /v1/stream/sessions/<id> to that stream (plain, long-poll and
// SSE reads pass through unchanged). Updates always carry the whole entity, as StreamDB needs.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 0);
const upstream = (process.argv[3] ?? '').replace(/\/+$/, '');
if (!upstream) throw new Error('usage: node fake-sessions.mjs <port> <tether base url>');

const sessions = new Map(); // id -> { entities: Map<"type\0key", value> }
const rid = (prefix) => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
const streamUrl = (id) => `${upstream}/v1/stream/fake-sessions/${encodeURIComponent(id)}`;
const ACTOR = { id: 'local', role: 'user' }; // open mode: one principal

async function append(id, entries) {
  const sess = sessions.get(id);
  const now = new Date().toISOString();
  const body = entries.map(({ type, key, value, op }) => {
    const full = { ...value, actor: value.actor ?? ACTOR, at: now };
    sess.entities.set(`${type}\0${key}`, full);
    return { type, key, value: full, headers: { operation: op, timestamp: now } };
  });
  const res = await fetch(streamUrl(id), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`append to ${streamUrl(id)}: HTTP ${res.status} ${await res.text()}`);
}
const get = (id, type, key) => sessions.get(id).entities.get(`${type}\0${key}`);

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
async function proxy(req, res, target) {
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  try {
    const up = await fetch(target, { method: req.method, headers: { accept: req.headers.accept ?? '*/*' }, signal: ac.signal });
    const headers = {};
    up.headers.forEach((v, k) => {
      if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(k)) headers[k] = v;
    });
    res.writeHead(up.status, headers);
    if (up.body) for await (const c of up.body) res.write(c);
    res.end();
  } catch (e) {
    if (!res.headersSent) send(res, 502, { error: { message: String(e) } });
    else res.destroy();
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (p[0] !== 'v1') return send(res, 404, { error: { message: 'not found' } });
    if (p[1] === 'stream' && p[2] === 'sessions' && p.length === 4 && req.method === 'GET') {
      return proxy(req, res, `${streamUrl(p[3])}${url.search}`);
    }
    if (p[1] !== 'sessions') return send(res, 404, { error: { message: 'not found' } });
    if (p.length === 2 && req.method === 'POST') {
      await readBody(req);
      const id = rid('sess');
      const put = await fetch(streamUrl(id), { method: 'PUT', headers: { 'content-type': 'application/json' } });
      if (put.status !== 201) throw new Error(`PUT ${streamUrl(id)}: HTTP ${put.status}`);
      sessions.set(id, { entities: new Map() });
      const policy = { multitask: 'enqueue', rollup_ms: 40, presence_timeout_ms: 10000, approval_timeout_ms: 60000, on_unwatched: null };
      await append(id, [
        { type: 'session', key: id, op: 'insert', value: { status: 'open', agent: null, policy } },
        { type: 'floor', key: 'floor', op: 'insert', value: { holder: null, mode: 'agent', previous: null } },
      ]);
      return send(res, 201, { id, object: 'session', status: 'open' });
    }
    const id = p[2];
    if (!sessions.has(id)) return send(res, 404, { error: { message: `no session ${id}` } });
    if (p.length === 3 && req.method === 'GET') {
      const head = await fetch(streamUrl(id), { method: 'HEAD' });
      return send(res, 200, { id, object: 'session', next_offset: head.headers.get('stream-next-offset') });
    }
    if (p[3] === 'events' && p.length === 4 && req.method === 'GET') return proxy(req, res, `${streamUrl(id)}${url.search}`);
    if (req.method !== 'POST') return send(res, 405, { error: { message: 'method not allowed' } });
    const body = await readBody(req);
    if (p[3] === 'participants' && p.length === 4) {
      const pid = `${body.role}-${body.name}`;
      const actor = { id: pid, role: body.role };
      const value = { role: body.role, name: body.name ?? pid, joined_at: new Date().toISOString(), left_at: null, actor };
      const presence = { status: 'online', agent_status: body.role === 'agent' ? 'idle' : null, devices: 1, last_seen_at: new Date().toISOString(), actor };
      await append(id, [
        { type: 'participant', key: pid, op: 'upsert', value },
        { type: 'presence', key: pid, op: 'upsert', value: presence },
      ]);
      return send(res, 201, { id: pid, ...value });
    }
    if (p[3] === 'messages' && p.length === 4) {
      const key = body.id ?? rid('msg');
      const existing = get(id, 'message', key);
      if (existing) return send(res, 201, { message: { id: key, ...existing }, run: null });
      const value = { role: 'user', content: body.content, visibility: body.visibility ?? 'all', run_id: null };
      await append(id, [{ type: 'message', key, op: 'insert', value }]);
      return send(res, 201, { message: { id: key, ...value }, run: null });
    }
    if (p[3] === 'runs' && p.length === 4) {
      const key = rid('run');
      const actor = { id: 'agent-Bot', role: 'agent' };
      const run = { trigger: body.trigger, status: 'running', agent: 'agent-Bot', response_id: null, text: '', error: null, usage: null, seq: 0, actor };
      await append(id, [
        { type: 'run', key, op: 'insert', value: run },
        { type: 'presence', key: 'agent-Bot', op: 'update', value: { ...get(id, 'presence', 'agent-Bot'), agent_status: 'streaming', actor } },
      ]);
      return send(res, 201, { run: { id: key, ...run } });
    }
    if (p[3] === 'runs' && p.length === 6) {
      const key = p[4];
      const run = get(id, 'run', key);
      if (!run) return send(res, 404, { error: { message: `no run ${key}` } });
      const actor = run.actor;
      if (p[5] === 'chunks') {
        const deltas = Array.isArray(body) ? body.map((b) => b.delta) : [body.delta];
        const entries = [];
        let { seq, text } = run;
        for (const delta of deltas) {
          entries.push({ type: 'chunk', key: `${key}:${seq}`, op: 'insert', value: { run_id: key, seq, delta, actor } });
          seq++;
          text += delta;
        }
        entries.push({ type: 'run', key, op: 'update', value: { ...run, seq, text } });
        await append(id, entries);
        return send(res, 201, { run_id: key, seq });
      }
      if (p[5] === 'end') {
        await append(id, [
          { type: 'run', key, op: 'update', value: { ...run, status: body.status ?? 'completed', error: body.error ?? null } },
          { type: 'presence', key: 'agent-Bot', op: 'update', value: { ...get(id, 'presence', 'agent-Bot'), agent_status: 'idle', actor } },
        ]);
        return send(res, 200, { id: key, ...get(id, 'run', key) });
      }
    }
    return send(res, 404, { error: { message: 'not found' } });
  } catch (e) {
    if (!res.headersSent) send(res, 500, { error: { message: String(e?.stack ?? e) } });
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`fake-sessions listening on http://127.0.0.1:${server.address().port} (log streams on ${upstream})`);
});
