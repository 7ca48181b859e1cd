// @tether/client in Node against a real server (WebSocket from the `ws` package, as Node 20 has none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TetherClient, TetherError } from '@tether/client';
import { URL_BASE, audit, counted, createSession, runApprovedTool, token, until, sleep } from './tether.mjs';

const FAST = { heartbeatMs: 0, backoff: { initialMs: 20, maxMs: 200 } };
const comparable = (e) => JSON.stringify({ type: e.type, key: e.key, value: e.value, headers: e.headers });
const completed = (got, runId) => got.some((e) => e.type === 'run' && e.key === runId && e.value?.status === 'completed');
const textOf = (got, runId) =>
  got.filter((e) => e.type === 'chunk' && e.value.run_id === runId).map((e) => e.value.delta).join('');

/** The entries received equal the stored log, in order, up to the run's final record. */
async function assertExactlyTheLog(sessionId, got, runId, withOffsets) {
  const log = await audit(sessionId);
  const end = log.findIndex((e) => e.type === 'run' && e.key === runId && e.value.status === 'completed');
  assert.ok(end > 0, 'the run completed in the log');
  const prefix = got.slice(0, end + 1);
  assert.deepEqual(prefix.map(comparable), log.slice(0, end + 1).map(comparable), 'no entry twice, none missing');
  if (withOffsets) assert.deepEqual(prefix.map((e) => e.offset), log.slice(0, end + 1).map((e) => e.offset));
}

test('SDK: WebSocket subscription resumes exactly after the socket is killed three times mid-run', async () => {
  const view = await createSession();
  const sockets = [];
  class Tracked extends WebSocket {
    constructor(url) {
      super(url);
      sockets.push(this);
    }
  }
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket: Tracked });
  const session = client.session(view.id);
  const got = [];
  const statuses = [];
  const sub = session.subscribe({ ...FAST, onEntry: (e) => got.push(e), onStatus: (s) => statuses.push(s) });
  await until(() => sub.connection.status === 'open', 5000, 'open');
  const { run } = await session.send('count to 60');
  for (let i = 0; i < 3; i++) {
    await sleep(350);
    sockets.at(-1).terminate();
    await until(() => sub.connection.status === 'open' && sockets.at(-1).readyState === 1, 5000, 'reopened');
  }
  await until(() => completed(got, run.id), 15000, 'run completed');
  sub.close();
  assert.equal(sub.connection.transport, 'websocket');
  assert.ok(statuses.filter((s) => s === 'reconnecting').length >= 3, `reconnected: ${statuses}`);
  assert.equal(textOf(got, run.id), counted(60));
  assert.equal(sub.offset, got.at(-1).offset, 'the cursor is the last entry delivered');
  await assertExactlyTheLog(view.id, got, run.id, true);
});

test('SDK: SSE subscription resumes exactly after the response is cut three times mid-run', async () => {
  const view = await createSession();
  const readers = [];
  const cutting = (url, init = {}) => {
    const controller = new AbortController();
    init.signal?.addEventListener('abort', () => controller.abort());
    if (String(url).includes('/events')) readers.push(controller);
    return fetch(url, { ...init, signal: controller.signal });
  };
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), fetch: cutting });
  const session = client.session(view.id);
  const got = [];
  const sub = session.subscribe({ ...FAST, transport: 'sse', onEntry: (e) => got.push(e) });
  await until(() => sub.connection.status === 'open', 5000, 'open');
  const { run } = await session.send('count to 60');
  for (let i = 0; i < 3; i++) {
    await sleep(350);
    const before = readers.length;
    readers.at(-1).abort(new Error('cut'));
    await until(() => readers.length > before && sub.connection.status === 'open', 5000, 'reopened');
  }
  await until(() => completed(got, run.id), 15000, 'run completed');
  sub.close();
  assert.equal(sub.connection.transport, 'sse');
  assert.ok(readers.length >= 4);
  assert.equal(textOf(got, run.id), counted(60));
  await assertExactlyTheLog(view.id, got, run.id, false);
});

test('SDK: auto transport falls back to SSE when the WebSocket cannot connect', async () => {
  const view = await createSession();
  class Unreachable extends WebSocket {
    constructor(url) {
      super(url.replace(/^ws:\/\/[^/]+/, 'ws://127.0.0.1:1'));
    }
  }
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket: Unreachable });
  const got = [];
  const sub = client.session(view.id).subscribe({ ...FAST, onEntry: (e) => got.push(e) });
  await until(() => got.some((e) => e.type === 'session'), 10000, 'the session entry');
  assert.equal(sub.connection.transport, 'sse');
  sub.close();
});

test('SDK: a token source is asked again when the server refuses the token, on HTTP and on the WebSocket', async () => {
  const view = await createSession();
  const good = await token('alice', { session: view.id });
  let calls = 0;
  const source = () => (++calls === 1 ? 'expired.or.revoked' : good);
  const client = new TetherClient({ baseUrl: URL_BASE, token: source, WebSocket });
  const session = client.session(view.id);
  const got = [];
  const sub = session.subscribe({ ...FAST, onEntry: (e) => got.push(e) });
  await until(() => sub.connection.status === 'open', 5000, 'open');
  assert.equal(sub.connection.transport, 'websocket', 'one refused upgrade does not fall back');
  assert.equal(calls, 2);

  calls = 0;
  const http = new TetherClient({ baseUrl: URL_BASE, token: source });
  const { message } = await http.session(view.id).send('hello');
  assert.equal(message.actor.id, 'alice');
  assert.equal(calls, 2, 'a 401 asks for a fresh token once and retries');
  sub.close();
});

test('SDK: signals, approvals, floor and acks over the WebSocket, refusals as TetherError', async () => {
  const view = await createSession();
  const user = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket });
  const operator = new TetherClient({ baseUrl: URL_BASE, token: await token('op-1', { operator: true }), WebSocket });
  const us = user.session(view.id);
  const ops = operator.session(view.id);
  const state = us.follow(() => {}, FAST);
  await until(() => state.subscription.isSocketOpen(), 5000, 'open');

  // cancel over the socket; a second cancel is a 409
  const { run } = await us.send('count to 300');
  await until(() => state.state.runText(run.id).length > 0, 5000, 'streaming');
  const signal = await us.cancel(run.id);
  assert.equal(signal.outcome, 'applied');
  await until(() => state.state.runs.get(run.id)?.status === 'cancelled', 5000, 'cancelled');
  await assert.rejects(us.cancel(run.id), (e) => e instanceof TetherError && e.status === 409);

  // approval: the user may not approve (403), the operator may; then the tool's executor answers
  const asked = await us.send('what is the weather in Paris?');
  const call = await until(() => state.state.toolCallsOf(asked.run.id).find((c) => c.status === 'approval_required'), 10000, 'approval');
  await assert.rejects(us.approve(call.id), (e) => e instanceof TetherError && e.status === 403);
  await ops.approve(call.id);
  await runApprovedTool(view.id);
  await until(() => state.state.runs.get(asked.run.id)?.status === 'completed', 10000, 'completed');
  assert.equal(state.state.runText(asked.run.id), 'It is 21C in Paris.');

  // floor: while a human holds it a message starts no run
  await ops.floor('take');
  const quiet = await us.send('anyone there?');
  assert.equal(quiet.run, null);
  await until(() => state.state.floor?.mode === 'human', 5000, 'floor human');
  await ops.floor('return');

  // ack
  const seen = state.subscription.offset;
  const delivery = await us.ack(seen);
  assert.equal(delivery.offset, seen);
  assert.equal(delivery.participant, 'alice');
  state.close();
});

test('SDK: heartbeats keep the presence status last set (away stays away)', async () => {
  const view = await createSession();
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket });
  const session = client.session(view.id);
  const sub = session.subscribe({ heartbeatMs: 100, onEntry: () => {} });
  await until(() => sub.isSocketOpen(), 5000, 'open');
  await session.presence('away');
  await sleep(600); // six heartbeats
  const { presence } = await session.view();
  assert.equal(presence.find((p) => p.participant === 'alice').status, 'away');
  await session.presence('online');
  await sleep(300);
  assert.equal((await session.view()).presence.find((p) => p.participant === 'alice').status, 'online');
  sub.close();
});
