// @tether/ai-transport in Node: the UI message chunks it makes of a session's runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TetherClient } from '@tether/client';
import { TetherChatTransport } from '@tether/ai-transport';
import { URL_BASE, backend, counted, createSession, runApprovedTool, token, until } from './tether.mjs';

async function read(stream) {
  const chunks = [];
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}
const user = (id, text) => ({ id, role: 'user', parts: [{ type: 'text', text }] });
const textOf = (chunks) => chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('');

test('transport: a run as UI chunks; the same message id again returns that run, finished, without a second run', async () => {
  const view = await createSession();
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket });
  const transport = new TetherChatTransport({ client });
  const send = (messages) => transport.sendMessages({ trigger: 'submit-message', chatId: view.id, messageId: undefined, messages, abortSignal: undefined });
  const first = await read(await send([user('msg_ui1', 'count to 12')]));
  assert.equal(first[0].type, 'start');
  assert.equal(first[1].type, 'text-start');
  assert.equal(textOf(first), counted(12));
  assert.deepEqual(first.slice(-2).map((c) => c.type), ['text-end', 'finish']);
  assert.equal(first.at(-1).finishReason, 'stop');
  for (const c of first.filter((c) => c.type === 'text-delta')) assert.equal(c.id, first[1].id, 'one text part');

  const again = await read(await send([user('msg_ui1', 'count to 12')]));
  assert.equal(again[0].messageId, first[0].messageId, 'the same run');
  assert.equal(textOf(again), counted(12));
  assert.equal(again.at(-1).type, 'finish');
  const runs = (await backend('GET', `/v1/sessions/${view.id}/snapshot`)).filter((e) => e.type === 'run');
  assert.equal(runs.length, 1, 'a retry is not a second message');
});

test('transport: tool calls are provider-executed tool parts, and text after them is a new text part', async () => {
  const view = await createSession();
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket });
  const operator = new TetherClient({ baseUrl: URL_BASE, token: await token('op-1', { operator: true }) });
  const transport = new TetherChatTransport({ client });
  const stream = await transport.sendMessages({
    trigger: 'submit-message', chatId: view.id, messageId: undefined, abortSignal: undefined,
    messages: [user('msg_ui2', 'what is the weather in Paris?')],
  });
  const reading = read(stream);
  const call = await until(async () => {
    const entries = await backend('GET', `/v1/sessions/${view.id}/snapshot`);
    return entries.find((e) => e.type === 'tool_call' && e.value.status === 'approval_required')?.value;
  }, 10000, 'the approval');
  await operator.session(view.id).approve(call.id);
  await runApprovedTool(view.id);
  const chunks = await reading;
  const types = chunks.map((c) => c.type);
  const input = chunks.find((c) => c.type === 'tool-input-available');
  assert.equal(input.toolName, 'get_weather');
  assert.deepEqual(input.input, { city: 'Paris' });
  assert.equal(input.providerExecuted, true);
  const output = chunks.find((c) => c.type === 'tool-output-available');
  assert.equal(output.providerExecuted, true);
  assert.ok(types.indexOf('tool-output-available') < types.lastIndexOf('text-start'), `text after the tool: ${types}`);
  const starts = chunks.filter((c) => c.type === 'text-start');
  const last = starts.at(-1);
  assert.equal(chunks.filter((c) => c.type === 'text-delta' && c.id === last.id).map((c) => c.delta).join(''), 'It is 21C in Paris.');
  assert.equal(types.at(-1), 'finish');
});

test('transport: a page load resumes from the snapshot its history came from, so a run that ends in between shows once', async () => {
  const view = await createSession();
  const client = new TetherClient({ baseUrl: URL_BASE, token: await token('alice', { session: view.id }), WebSocket });
  const { run } = await client.session(view.id).send('count to 15', { id: 'msg_ui3' });
  const runs = async () => (await backend('GET', `/v1/sessions/${view.id}/snapshot`)).filter((e) => e.type === 'run');
  await until(async () => (await runs()).at(-1)?.value.status === 'running', 5000, 'the run going');

  const page = new TetherChatTransport({ client }); // a page loading while the run goes on
  const initial = await page.initialMessages(view.id);
  assert.deepEqual(initial.map((m) => [m.id, m.role]), [['msg_ui3', 'user']], 'an active run is not history: it is resumed');
  await until(async () => (await runs()).at(-1)?.value.status === 'completed', 10000, 'the run ended');

  const stream = await page.reconnectToStream({ chatId: view.id });
  assert.ok(stream, 'the run active at the snapshot is resumed though it has ended since');
  const chunks = await read(stream);
  assert.equal(chunks[0].messageId, run.id);
  assert.equal(textOf(chunks), counted(15), 'its whole text, once');
  assert.equal(chunks.at(-1).type, 'finish');
  assert.equal(await page.reconnectToStream({ chatId: view.id }), null, 'the snapshot serves one resume: later ones look again');

  const later = await new TetherChatTransport({ client }).initialMessages(view.id);
  assert.deepEqual(later.map((m) => m.role), ['user', 'assistant']);
  assert.equal(later[1].parts[0].text, counted(15));
});
