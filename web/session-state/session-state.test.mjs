// Interop test: a Tether session log (docs: /v1/sessions, the session contract) materialised by
// `createStreamDB` from the official `@durable-streams/state` package (pinned in package.json),
// with no Tether-specific code on the client side.
// Run through run.sh, which starts a Tether server and sets:
//   TETHER_URL  e.g. http://127.0.0.1:4437  (without /v1)
//
// What it proves:
//   1. the session API builds a session (user + agent participants, two user messages, an external
//      agent run with chunks, ended) and its log is State Protocol change messages whose values
//      carry `actor` and `at`;
//   2. `createStreamDB` over GET /v1/sessions/<id>/events and over /v1/stream/sessions/<id>, with
//      live long-poll and live SSE, resolves preload() and holds exactly what a plain fold of the
//      raw log gives (insert/update/upsert replace the entity at (type, key), delete removes it);
//   3. the run's text equals the concatenation of its chunk deltas;
//   4. a message appended while the DBs are live appears in every one of them.
//
// Note on (2): StreamDB applies an update (and an upsert or insert of an existing key) as a
// shallow MERGE into the previous row, not a replace, and sets row[primaryKey] = key. So a log
// materialises unchanged only if every update carries the whole entity (a field that goes away
// is written as null, never dropped) and a value's `id`, if it has one, equals its key. The fold
// below replaces; any difference fails the comparison. StreamDB ignores snapshot-start/-end and
// breaks on a `reset` control message (see the log test), so the log must never hold a reset.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createStreamDB, createStateSchema } from '@durable-streams/state/db';

const TETHER_URL = process.env.TETHER_URL;
if (!TETHER_URL) throw new Error('set TETHER_URL (run.sh does this)');
const BASE = TETHER_URL.replace(/\/+$/, '');
const TEST_TIMEOUT = 30_000; // per test: a hang fails the test instead of blocking CI
const LIVE_WAIT_MS = 10_000; // how long a live DB may take to show an appended entry
const PRELOAD_WAIT_MS = 10_000; // how long createStreamDB's preload() may take

// ---------------------------------------------------------------- helpers

const show = (v) => JSON.stringify(v);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nonce = Math.random().toString(36).slice(2, 8);

/** One JSON request to the session API; returns { status, body, text, headers }. */
async function api(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** Like api(), and the status must be `want` (a number, or an array of allowed numbers). */
async function call(method, path, body, want, what) {
  const r = await api(method, path, body);
  const ok = Array.isArray(want) ? want.includes(r.status) : r.status === want;
  assert.ok(ok, `${what}: ${method} ${path} must answer ${show(want)}, got ${r.status}: ${r.text.slice(0, 500)}`);
  return r;
}

/**
 * The whole log at `url` as a plain Durable Streams JSON read: GET ?offset=-1, then follow
 * Stream-Next-Offset until a response says Stream-Up-To-Date. Returns { entries, nextOffset }.
 */
async function readLog(url) {
  const entries = [];
  let offset = '-1';
  for (let i = 0; i < 1000; i++) {
    const res = await fetch(`${url}?offset=${encodeURIComponent(offset)}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    assert.equal(res.status, 200, `GET ${url}?offset=${offset} (a catch-up read) must answer 200, got ${res.status}: ${text.slice(0, 300)}`);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${url} must be a JSON stream (Content-Type application/json)`);
    const next = res.headers.get('stream-next-offset');
    assert.ok(next, `a read of ${url} must carry Stream-Next-Offset`);
    const batch = text.trim() ? JSON.parse(text) : [];
    assert.ok(Array.isArray(batch), `a JSON read of ${url} must be a JSON array of entries, got ${text.slice(0, 200)}`);
    entries.push(...batch);
    offset = next;
    if (res.headers.has('stream-up-to-date')) return { entries, nextOffset: next };
  }
  assert.fail(`${url} never answered Stream-Up-To-Date in 1000 reads (createStreamDB's preload() waits for it)`);
}

/** The plain fold of a log: Map<type, Map<key, value>>; control messages only act on reset. */
function fold(entries) {
  const state = new Map();
  for (const e of entries) {
    if (e?.headers && 'control' in e.headers) {
      if (e.headers.control === 'reset') state.clear();
      continue;
    }
    if (!state.has(e.type)) state.set(e.type, new Map());
    const byKey = state.get(e.type);
    if (e.headers.operation === 'delete') byKey.delete(e.key);
    else byKey.set(e.key, e.value);
  }
  return state;
}

// ---------------------------------------------------------------- the StreamDB schema

// The entity types of the session contract, each a StreamDB collection keyed by the entry key.
const TYPES = {
  sessions: 'session',
  participants: 'participant',
  presence: 'presence',
  messages: 'message',
  runs: 'run',
  chunks: 'chunk',
  tool_calls: 'tool_call',
  signals: 'signal',
  floors: 'floor',
  deliveries: 'delivery',
};
const PRIMARY_KEY = 'id';
// StreamDB needs a Standard Schema per collection only for its event helpers and local mutations
// (sync writes are not validated); a pass-through validator keeps this test about the log alone.
const passThrough = { '~standard': { version: 1, vendor: 'tether-session-state', validate: (value) => ({ value }) } };
const stateSchema = createStateSchema(
  Object.fromEntries(Object.entries(TYPES).map(([name, type]) => [name, { schema: passThrough, type, primaryKey: PRIMARY_KEY }])),
);

/**
 * A StreamDB row as the log's value: without StreamDB's `_seq` and TanStack DB's virtual `$…`
 * properties. `id` is kept: StreamDB sets it to the entry key, so it must match the value's own
 * `id` when the value has one.
 */
function rowAsValue(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === '_seq' || k.startsWith('$')) continue;
    out[k] = v;
  }
  return out;
}
/** What StreamDB must hold for a folded value at `key`. */
const expectedRow = (key, value) => (PRIMARY_KEY in value ? value : { ...value, [PRIMARY_KEY]: key });

/** Every collection of `db` as { name: { key: value } }, keys sorted. */
function dbContents(db) {
  const out = {};
  for (const name of Object.keys(TYPES)) {
    const rows = [...db.collections[name].entries()].map(([k, row]) => [String(k), rowAsValue(row)]);
    rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out[name] = Object.fromEntries(rows);
  }
  return out;
}
/** The fold in the same shape as dbContents(). */
function foldContents(folded) {
  const out = {};
  for (const [name, type] of Object.entries(TYPES)) {
    const rows = [...(folded.get(type) ?? new Map())].map(([k, v]) => [String(k), expectedRow(k, v)]);
    rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out[name] = Object.fromEntries(rows);
  }
  return out;
}

// ---------------------------------------------------------------- shared state

const s = {
  id: null, // session id
  userMsgIds: [],
  userContents: [],
  runId: null,
  deltas: ['Hel', 'lo', ', ', 'wor', 'ld', '!'],
  dbs: [], // { name, url, live, db }
};
const requireSession = () => assert.ok(s.id, 'the session must have been built (see the first failing test)');

after(() => {
  for (const { db } of s.dbs) {
    try {
      db.close();
    } catch {}
  }
});

// ---------------------------------------------------------------- 1. build a session

test('the session API builds a session: user and agent join, two messages, an external agent run with chunks', { timeout: TEST_TIMEOUT }, async () => {
  const created = await call('POST', '/v1/sessions', {}, 201, 'creating a session');
  assert.match(String(created.body?.id), /^sess_/, `a new session's id must start with sess_, got ${show(created.body)}`);
  assert.equal(created.body.object, 'session', `a new session must say "object": "session", got ${show(created.body)}`);
  const id = created.body.id;
  const sp = `/v1/sessions/${encodeURIComponent(id)}`;

  await call('POST', `${sp}/participants`, { role: 'user', name: 'Ada' }, 201, 'joining a user participant');
  await call('POST', `${sp}/participants`, { role: 'agent', name: 'Bot' }, 201, 'joining an agent participant');

  for (const [i, content] of ['hello, agent', 'are you there?'].entries()) {
    const clientId = `msg-client-${nonce}-${i}`;
    const r = await call('POST', `${sp}/messages`, { content, id: clientId }, 201, `posting user message ${i + 1}`);
    assert.ok(r.body?.message && typeof r.body.message === 'object', `POST messages must answer {"message": {...}, "run": ...}, got ${r.text}`);
    assert.ok('run' in r.body, `POST messages must answer a "run" field (null when no run starts), got ${r.text}`);
    assert.equal(r.body.run, null, `a session created with {} has no built-in agent, so a user message starts no run, got ${show(r.body.run)}`);
    s.userMsgIds.push(r.body.message.id ?? clientId);
    s.userContents.push(content);
  }
  assert.equal(s.userMsgIds[0], `msg-client-${nonce}-0`, `a message posted with a client id must be keyed by that id, got ${show(s.userMsgIds)}`);

  const started = await call('POST', `${sp}/runs`, { trigger: s.userMsgIds[1] }, 201, 'an external agent starting a run');
  const runId = started.body?.run?.id ?? started.body?.id;
  assert.match(String(runId), /^run_/, `starting a run must answer the run (body.run.id or body.id, run_…), got ${started.text}`);
  for (const delta of s.deltas) {
    await call('POST', `${sp}/runs/${encodeURIComponent(runId)}/chunks`, { delta }, [200, 201, 202, 204], 'appending a chunk');
  }
  await call('POST', `${sp}/runs/${encodeURIComponent(runId)}/end`, { status: 'completed' }, [200, 201, 202, 204], 'ending the run');
  s.runId = runId;
  s.id = id; // the scenario is built: the log tests below can run

  const state = await call('GET', sp, undefined, 200, 'reading the materialised session');
  assert.ok(state.body && 'next_offset' in state.body, `GET ${sp} must carry next_offset, got ${state.text.slice(0, 300)}`);
});

// ---------------------------------------------------------------- 2. the raw log

test('the log is State Protocol change messages whose values carry actor and at, the same at /events and /v1/stream', { timeout: TEST_TIMEOUT }, async () => {
  requireSession();
  const events = await readLog(`${BASE}/v1/sessions/${encodeURIComponent(s.id)}/events`);
  const stream = await readLog(`${BASE}/v1/stream/sessions/${encodeURIComponent(s.id)}`);
  assert.deepEqual(stream.entries, events.entries, 'GET /v1/sessions/<id>/events and /v1/stream/sessions/<id> must serve the same log');
  assert.equal(stream.nextOffset, events.nextOffset, 'both routes must use the same offsets (Stream-Next-Offset of a full read)');
  assert.ok(events.entries.length > 0, 'the log of a session with participants, messages and a run must not be empty');

  const known = new Set(Object.values(TYPES));
  const ops = new Set(['insert', 'update', 'upsert', 'delete']);
  for (const [i, e] of events.entries.entries()) {
    const where = `log entry ${i} ${show(e).slice(0, 300)}`;
    assert.ok(e && typeof e === 'object' && e.headers && typeof e.headers === 'object', `${where}: every entry must be an object with "headers"`);
    if ('control' in e.headers) {
      assert.ok(['snapshot-start', 'snapshot-end'].includes(e.headers.control), `${where}: a control message must be snapshot-start or snapshot-end`
        + ' (never reset: StreamDB 0.3.1 truncates every collection outside a sync transaction on reset, throws NoPendingSyncTransactionWriteError and stops syncing)');
      continue;
    }
    assert.ok(known.has(e.type), `${where}: "type" must be one of the contract's entity types ${show([...known])} (StreamDB drops types it has no collection for)`);
    assert.ok(typeof e.key === 'string' && e.key !== '', `${where}: "key" must be a non-empty string`);
    assert.ok(ops.has(e.headers.operation), `${where}: headers.operation must be insert, update, upsert or delete`);
    assert.ok(typeof e.headers.timestamp === 'string' && !Number.isNaN(Date.parse(e.headers.timestamp)), `${where}: headers.timestamp must be an RFC 3339 time`);
    if (e.headers.operation === 'delete') continue;
    const v = e.value;
    assert.ok(v && typeof v === 'object' && !Array.isArray(v), `${where}: a non-delete value must be a JSON object (StreamDB rejects other values)`);
    assert.ok(v.actor && typeof v.actor.id === 'string' && v.actor.id !== '' && typeof v.actor.role === 'string' && v.actor.role !== '', `${where}: every value must carry actor {"id", "role"}`);
    assert.ok(typeof v.at === 'string' && !Number.isNaN(Date.parse(v.at)), `${where}: every value must carry "at" (server time)`);
    assert.ok(!Object.keys(v).some((k) => k === '_seq' || k.startsWith('$')), `${where}: a value must not use the field names StreamDB/TanStack DB add to rows (_seq, $…)`);
    if (PRIMARY_KEY in v) assert.equal(v[PRIMARY_KEY], e.key, `${where}: a value's "${PRIMARY_KEY}" must equal the entry key (StreamDB overwrites it with the key)`);
  }

  const folded = fold(events.entries);
  const messages = folded.get('message') ?? new Map();
  for (const [i, id] of s.userMsgIds.entries()) {
    const m = messages.get(id);
    assert.ok(m, `the fold must hold user message ${id}, has ${show([...messages.keys()])}`);
    assert.equal(m.content, s.userContents[i], `message ${id} must keep its content`);
  }
  const run = (folded.get('run') ?? new Map()).get(s.runId);
  assert.ok(run, `the fold must hold run ${s.runId}`);
  assert.equal(run.status, 'completed', `run ${s.runId} must be completed after /end, got ${show(run)}`);
  assert.equal(run.trigger, s.userMsgIds[1], `run ${s.runId} must name its trigger message`);
});

// ---------------------------------------------------------------- 3. createStreamDB

const VARIANTS = [
  { name: '/events, live long-poll', path: (id) => `/v1/sessions/${encodeURIComponent(id)}/events`, live: 'long-poll' },
  { name: '/v1/stream, live long-poll', path: (id) => `/v1/stream/sessions/${encodeURIComponent(id)}`, live: 'long-poll' },
  { name: '/events, live SSE', path: (id) => `/v1/sessions/${encodeURIComponent(id)}/events`, live: 'sse' },
  { name: '/v1/stream, live SSE', path: (id) => `/v1/stream/sessions/${encodeURIComponent(id)}`, live: 'sse' },
];

/**
 * Waits until `db` has consumed the log up to the end of a fresh raw read (the server may append
 * on its own, e.g. presence), then asserts every collection equals the fold of that read.
 */
async function assertMatchesFold(db, label) {
  const url = `${BASE}/v1/sessions/${encodeURIComponent(s.id)}/events`;
  let log;
  const deadline = Date.now() + LIVE_WAIT_MS;
  for (;;) {
    log = await readLog(url);
    if (db.offset === log.nextOffset || Date.now() > deadline) break;
    await sleep(100);
  }
  assert.equal(db.offset, log.nextOffset, `${label}: the DB must reach the log's end offset (Stream-Next-Offset of a full read) within ${LIVE_WAIT_MS} ms`);
  const actual = dbContents(db);
  const expected = foldContents(fold(log.entries));
  for (const name of Object.keys(TYPES)) {
    assert.deepEqual(Object.keys(actual[name]), Object.keys(expected[name]), `${label}: collection ${name} (type ${TYPES[name]}) must hold exactly the keys the fold of the raw log holds`);
    for (const [key, want] of Object.entries(expected[name])) {
      const got = actual[name][key];
      const kept = Object.keys(got).filter((f) => !(f in want));
      const hint = kept.length
        ? ` StreamDB still shows field(s) ${show(kept)} that a later update dropped: StreamDB merges an update into the previous row, so every update must carry the whole entity (write a field that goes away as null).`
        : '';
      assert.deepEqual(got, want, `${label}: ${TYPES[name]} ${key} must equal its value in the plain fold of the raw log (insert/update/upsert replace, delete removes).${hint}`);
    }
  }
  return log;
}

for (const v of VARIANTS) {
  test(`createStreamDB over ${v.name} resolves preload() and equals the fold of the raw log`, { timeout: TEST_TIMEOUT }, async () => {
    requireSession();
    const url = `${BASE}${v.path(s.id)}`;
    const db = createStreamDB({ streamOptions: { url, contentType: 'application/json' }, state: stateSchema, live: v.live });
    s.dbs.push({ name: v.name, url, live: v.live, db });
    // preload() resolves on the first response carrying Stream-Up-To-Date, and only then
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new assert.AssertionError({
        message: `${v.name}: db.preload() must resolve within ${PRELOAD_WAIT_MS} ms (it waits for a read answered with the Stream-Up-To-Date header)`,
      })), PRELOAD_WAIT_MS);
    });
    try {
      await Promise.race([db.preload(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    await assertMatchesFold(db, v.name);

    const msgs = db.collections.messages;
    for (const [i, id] of s.userMsgIds.entries()) {
      const m = msgs.get(id);
      assert.ok(m, `${v.name}: the DB must hold user message ${id}`);
      assert.equal(m.content, s.userContents[i], `${v.name}: message ${id} must keep its content`);
      assert.ok(m.actor?.id && m.actor?.role, `${v.name}: message ${id} must carry actor {id, role}, got ${show(m.actor)}`);
      assert.ok(!Number.isNaN(Date.parse(m.at)), `${v.name}: message ${id} must carry "at", got ${show(m.at)}`);
    }
    assert.ok(db.collections.participants.size >= 1, `${v.name}: the DB must hold the joined participants`);
    assert.ok(db.collections.sessions.get(s.id), `${v.name}: the DB must hold the session entity keyed by the session id`);

    const run = db.collections.runs.get(s.runId);
    assert.ok(run, `${v.name}: the DB must hold run ${s.runId}`);
    assert.equal(run.status, 'completed', `${v.name}: run ${s.runId} must be completed`);
    const chunks = [...db.collections.chunks.values()].filter((c) => c.run_id === s.runId).sort((a, b) => a.seq - b.seq);
    assert.ok(chunks.length >= 1, `${v.name}: run ${s.runId} must have chunks`);
    assert.deepEqual(chunks.map((c) => c.seq), chunks.map((_, i) => i), `${v.name}: chunk seqs must be contiguous from 0`);
    for (const c of chunks) assert.equal(c.id, `${s.runId}:${c.seq}`, `${v.name}: a chunk must be keyed <run_id>:<seq>`);
    const joined = chunks.map((c) => c.delta).join('');
    assert.equal(run.text, joined, `${v.name}: the run's text must equal the concatenation of its chunk deltas`);
    assert.equal(joined, s.deltas.join(''), `${v.name}: the chunk deltas must add up to what the agent sent (rollup may merge, never change them)`);
  });
}

// ---------------------------------------------------------------- 4. live

test('a message appended while the DBs are live appears in every DB, which still equals the fold', { timeout: TEST_TIMEOUT }, async () => {
  requireSession();
  assert.equal(s.dbs.length, VARIANTS.length, 'every createStreamDB variant must have been opened (see the failing test above)');
  const id = `msg-client-${nonce}-live`;
  const content = 'posted while the DBs are live';
  await call('POST', `/v1/sessions/${encodeURIComponent(s.id)}/messages`, { content, id }, 201, 'posting a live message');

  for (const { name, db } of s.dbs) {
    const deadline = Date.now() + LIVE_WAIT_MS;
    while (!db.collections.messages.get(id) && Date.now() < deadline) await sleep(50);
    const m = db.collections.messages.get(id);
    assert.ok(m, `${name}: a message appended after preload() must appear in the live DB within ${LIVE_WAIT_MS} ms`);
    assert.equal(m.content, content, `${name}: the live message must keep its content`);
    assert.ok(m.actor?.id && !Number.isNaN(Date.parse(m.at)), `${name}: the live message must carry actor and at`);
    await assertMatchesFold(db, `${name} (after the live message)`);
  }
});
