// Compatibility test: the official `openai` npm SDK (pinned in package.json) as the client of a
// Tether server, which fronts the scripted Chat Completions upstream in upstream.mjs.
// Run through run.sh, which starts both servers and sets:
//   TETHER_URL    e.g. http://127.0.0.1:4437  (Tether, without /v1)
//   UPSTREAM_URL  e.g. http://127.0.0.1:4438  (upstream.mjs, without /v1)
// Expected behaviour follows docs of the OpenAI Responses API (see the shared reference notes:
// HTTP + previous_response_id, SSE event order, WebSocket mode, conversations, background).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { ResponsesWS } from 'openai/resources/responses/ws';

const TETHER_URL = process.env.TETHER_URL;
const UPSTREAM_URL = process.env.UPSTREAM_URL;
if (!TETHER_URL || !UPSTREAM_URL) {
  throw new Error('set TETHER_URL and UPSTREAM_URL (run.sh does this)');
}
const MODEL = process.env.TETHER_MODEL ?? 'scripted-model';
const TEST_TIMEOUT = 30_000; // per test: a hang fails the test instead of blocking CI

const client = new OpenAI({
  baseURL: `${TETHER_URL.replace(/\/+$/, '')}/v1`,
  apiKey: 'test-key',
  maxRetries: 0,
  timeout: 20_000, // per request, below the test timeout so a hang reports as an SDK timeout
});

const openSockets = new Set();
after(() => {
  for (const ws of openSockets) {
    try {
      ws.close();
    } catch {}
  }
});

// ---------------------------------------------------------------- helpers

async function upstream(path, method = 'GET') {
  const res = await fetch(`${UPSTREAM_URL}${path}`, { method, signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200, `upstream ${method} ${path} answered HTTP ${res.status}`);
  return res.json();
}
const resetUpstream = () => upstream('/__reset', 'POST');
const upstreamRequests = () => upstream('/__requests');
const upstreamUsages = () => upstream('/__usage');

/** Text of a Chat Completions message content (string or array of parts). */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

/** Compact view of upstream messages, for assertion messages and comparisons. */
const brief = (messages) => messages.map((m) => ({ role: m.role, text: textOf(m.content) }));
const show = (v) => JSON.stringify(v);

/** Runs fn, which must reject with an openai APIError; returns the error. */
async function expectApiError(fn, what) {
  try {
    const value = await fn();
    assert.fail(`${what}: expected an API error, got a success: ${show(value).slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.ok(e instanceof OpenAI.APIError, `${what}: expected an OpenAI.APIError, got ${e?.name}: ${e?.message}`);
    return e;
  }
}

/**
 * Drains an SSE stream from create({stream:true}) into an array of events. A stream that stalls
 * after its headers is aborted after `ms` (the SDK request timeout only covers the headers).
 */
async function collect(stream, label, ms = 15_000) {
  const events = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.controller.abort();
  }, ms);
  try {
    for await (const ev of stream) events.push(ev);
  } catch (e) {
    if (!timedOut) throw e;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    assert.fail(`${label}: stream did not end within ${ms / 1000} s; events so far: ${events.map((e) => e.type).join(',') || 'none'}`);
  }
  return events;
}

/** Awaits promise, calling onTimeout and failing if it does not settle within ms. */
async function within(promise, ms, label, onTimeout = () => {}) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new assert.AssertionError({ message: `${label}: not finished within ${ms / 1000} s` }));
    }, ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The assistant text of a Response's output, computed from output items (not output_text). */
function outputTextOf(response) {
  return (response.output ?? [])
    .filter((i) => i.type === 'message')
    .flatMap((i) => i.content ?? [])
    .filter((c) => c.type === 'output_text')
    .map((c) => c.text)
    .join('');
}

function assertContiguous(events, label) {
  assert.ok(events.length > 0, `${label}: no events`);
  events.forEach((ev, i) =>
    assert.equal(
      ev.sequence_number,
      i,
      `${label}: event #${i} (${ev.type}) has sequence_number ${ev.sequence_number}, expected ${i}; types: ${events.map((e) => e.type).join(',')}`,
    ),
  );
}

const WEATHER_TOOLS = [
  {
    type: 'function',
    name: 'get_weather',
    strict: true,
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
];

// ---------------------------------------------------------------- HTTP

test('responses.create (non-streaming) answers the upstream text with usage', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, input: 'Hello' });
  assert.equal(r.output_text, 'echo: Hello', `output_text; output was ${show(r.output)}`);
  assert.match(r.id, /^resp_/, 'response id prefix');
  assert.equal(r.object, 'response', 'object');
  assert.equal(r.status, 'completed', 'status');
  assert.ok(r.usage, `usage must be present, got ${show(r.usage)}`);
  const [u] = await upstreamUsages();
  assert.ok(u, 'upstream saw exactly this request');
  assert.equal(r.usage.input_tokens, u.prompt_tokens, 'usage.input_tokens = upstream prompt_tokens');
  assert.equal(r.usage.output_tokens, u.completion_tokens, 'usage.output_tokens = upstream completion_tokens');
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens, 'usage.total_tokens = input + output');
  const reqs = await upstreamRequests();
  assert.equal(reqs.length, 1, `upstream requests for one create: ${reqs.length}`);
  assert.deepEqual(brief(reqs[0].messages), [{ role: 'user', text: 'Hello' }], 'upstream messages');
});

test('previous_response_id: only new input is sent, upstream gets full context, cached tokens', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r1 = await client.responses.create({ model: MODEL, instructions: 'Be brief.', input: 'Hello' });
  assert.equal(r1.output_text, 'echo: Hello', 'turn 1 text');
  const r2 = await client.responses.create({
    model: MODEL,
    instructions: 'Be brief.',
    previous_response_id: r1.id,
    input: 'And again?',
  });
  assert.equal(r2.status, 'completed', 'turn 2 status');
  assert.equal(r2.output_text, 'echo: And again?', 'turn 2 text');
  assert.equal(r2.previous_response_id, r1.id, 'turn 2 echoes previous_response_id');
  assert.notEqual(r2.id, r1.id, 'turn 2 has its own id');

  const reqs = await upstreamRequests();
  assert.equal(reqs.length, 2, `upstream requests for two turns: ${reqs.length}`);
  const m2 = brief(reqs[1].messages);
  assert.equal(m2.length, 4, `turn 2 upstream messages: ${show(m2)}`);
  assert.ok(['system', 'developer'].includes(m2[0].role), `instructions become a system/developer message: ${show(m2)}`);
  assert.equal(m2[0].text, 'Be brief.', 'instructions text');
  assert.deepEqual(
    m2.slice(1),
    [
      { role: 'user', text: 'Hello' },
      { role: 'assistant', text: 'echo: Hello' },
      { role: 'user', text: 'And again?' },
    ],
    'turn 2 upstream context = turn-1 input + turn-1 output + new input',
  );

  // Turn 1's messages must be re-sent byte-identically (this is what lets a provider prefix cache hit).
  const s1 = JSON.stringify(reqs[0].messages);
  const s2 = JSON.stringify(reqs[1].messages);
  assert.ok(
    s2.startsWith(s1.slice(0, -1) + ','),
    `turn 2 messages do not start with turn 1 messages byte-for-byte:\n turn1=${s1}\n turn2=${s2}`,
  );
  const usages = await upstreamUsages();
  const cached = r2.usage?.input_tokens_details?.cached_tokens;
  assert.ok(cached > 0, `turn 2 usage.input_tokens_details.cached_tokens must be > 0, got ${show(r2.usage)}`);
  assert.equal(cached, usages[1].prompt_tokens_details.cached_tokens, 'turn 2 cached_tokens = what the upstream reported');
  assert.equal(r2.usage.input_tokens, usages[1].prompt_tokens, 'turn 2 input_tokens = upstream prompt_tokens (full context)');
});

test('streaming create: event order, contiguous sequence numbers, deltas = final text', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const events = await collect(await client.responses.create({ model: MODEL, input: 'Stream me', stream: true }), 'stream');
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', `first event; types: ${types.join(',')}`);
  assert.equal(events[0].sequence_number, 0, 'response.created has sequence_number 0');
  assert.equal(events[0].response?.status, 'in_progress', 'response.created carries an in_progress response');
  assert.equal(types[1], 'response.in_progress', `second event; types: ${types.join(',')}`);
  assertContiguous(events, 'stream');

  const deltas = events.filter((e) => e.type === 'response.output_text.delta');
  assert.ok(deltas.length >= 1, `at least one response.output_text.delta; types: ${types.join(',')}`);
  const text = deltas.map((d) => d.delta).join('');
  assert.equal(text, 'echo: Stream me', 'concatenated deltas');

  // The openai-node stream helpers need item/part "added" events before the deltas.
  const firstDelta = types.indexOf('response.output_text.delta');
  assert.ok(types.indexOf('response.output_item.added') > -1 && types.indexOf('response.output_item.added') < firstDelta, `output_item.added precedes deltas: ${types.join(',')}`);
  assert.ok(types.indexOf('response.content_part.added') > -1 && types.indexOf('response.content_part.added') < firstDelta, `content_part.added precedes deltas: ${types.join(',')}`);
  const textDone = events.find((e) => e.type === 'response.output_text.done');
  assert.equal(textDone?.text, text, 'response.output_text.done.text = concatenated deltas');

  const last = events.at(-1);
  assert.equal(last.type, 'response.completed', `last event; types: ${types.join(',')}`);
  assert.equal(last.response.status, 'completed', 'final status');
  assert.equal(outputTextOf(last.response), text, 'final response text = concatenated deltas');
  assert.equal(last.response.id, events[0].response.id, 'same response id in created and completed');
  assert.ok(last.response.usage, 'response.completed carries usage');
});

test('function tool round trip (streaming) with previous_response_id', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const events = await collect(
    await client.responses.create({ model: MODEL, input: 'Weather in Paris?', tools: WEATHER_TOOLS, stream: true }),
    'tool-call stream',
  );
  const types = events.map((e) => e.type);
  assertContiguous(events, 'tool-call stream');
  const done = events.find((e) => e.type === 'response.output_item.done' && e.item?.type === 'function_call');
  assert.ok(done, `an output_item.done with a function_call item; types: ${types.join(',')}`);
  const call = done.item;
  assert.equal(call.name, 'get_weather', 'function name');
  assert.ok(typeof call.call_id === 'string' && call.call_id.length > 0, `call_id present: ${show(call)}`);
  let args;
  assert.doesNotThrow(() => (args = JSON.parse(call.arguments)), `arguments is JSON: ${show(call.arguments)}`);
  assert.deepEqual(args, { city: 'Paris' }, 'arguments');
  const argDeltas = events.filter((e) => e.type === 'response.function_call_arguments.delta');
  if (argDeltas.length > 0) {
    assert.equal(argDeltas.map((d) => d.delta).join(''), call.arguments, 'function_call_arguments deltas concatenate to arguments');
  }
  const completed1 = events.at(-1);
  assert.equal(completed1.type, 'response.completed', `last event of turn 1; types: ${types.join(',')}`);
  const rid = completed1.response.id;
  assert.ok(
    completed1.response.output.some((i) => i.type === 'function_call' && i.call_id === call.call_id),
    `final turn-1 output holds the function_call: ${show(completed1.response.output)}`,
  );

  const reqs1 = await upstreamRequests();
  assert.equal(reqs1.length, 1, 'one upstream request for turn 1');
  assert.ok(
    (reqs1[0].tools ?? []).some((t) => t.type === 'function' && t.function?.name === 'get_weather'),
    `upstream got the tool as a Chat Completions function tool: ${show(reqs1[0].tools)}`,
  );

  const s = client.responses.stream({
    model: MODEL,
    previous_response_id: rid,
    tools: WEATHER_TOOLS,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ tempC: 21 }) }],
  });
  const deltas = [];
  s.on('response.output_text.delta', (e) => deltas.push(e.delta));
  const final = await within(s.finalResponse(), 15_000, 'responses.stream() after the tool output', () => s.abort());
  assert.equal(final.status, 'completed', 'turn 2 status');
  assert.equal(outputTextOf(final), 'It is 21C in Paris.', 'turn 2 text');
  assert.equal(deltas.join(''), 'It is 21C in Paris.', 'turn 2 streamed deltas');

  const reqs = await upstreamRequests();
  assert.equal(reqs.length, 2, 'two upstream requests');
  const msgs = reqs[1].messages;
  const ai = msgs.findIndex(
    (m) => m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.some((tc) => tc.id === call.call_id),
  );
  assert.ok(ai >= 0, `upstream turn 2 has an assistant message with tool_calls[id=${call.call_id}]: ${show(msgs)}`);
  const tc = msgs[ai].tool_calls.find((t) => t.id === call.call_id);
  assert.equal(tc.function?.name, 'get_weather', 'tool_calls[].function.name');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Paris' }, 'tool_calls[].function.arguments');
  const toolMsg = msgs[ai + 1];
  assert.equal(toolMsg?.role, 'tool', `the message after the tool call is a tool message: ${show(msgs)}`);
  assert.equal(toolMsg.tool_call_id, call.call_id, 'tool message tool_call_id');
  assert.deepEqual(JSON.parse(textOf(toolMsg.content)), { tempC: 21 }, 'tool message content');
  assert.equal(toolMsg, msgs.at(-1), 'the tool output is the last upstream message');
  assert.deepEqual(brief(msgs.slice(0, ai)), [{ role: 'user', text: 'Weather in Paris?' }], 'context before the tool call');
});

test('retrieve, inputItems.list, delete, then retrieve -> 404', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, input: 'Keep me' });
  assert.equal(r.output_text, 'echo: Keep me', 'create text');

  const got = await client.responses.retrieve(r.id);
  assert.equal(got.id, r.id, 'retrieved id');
  assert.equal(got.status, 'completed', 'retrieved status');
  assert.equal(got.output_text, 'echo: Keep me', 'retrieved text');
  assert.deepEqual(got.output, r.output, 'retrieved output equals the created output');

  const page = await client.responses.inputItems.list(r.id);
  assert.ok(Array.isArray(page.data), `input_items data: ${show(page)}`);
  assert.equal(page.data.length, 1, `one input item: ${show(page.data)}`);
  const item = page.data[0];
  assert.equal(item.type, 'message', 'input item type');
  assert.equal(item.role, 'user', 'input item role');
  assert.equal(textOf(item.content), 'Keep me', `input item text: ${show(item)}`);
  assert.ok(typeof item.id === 'string' && item.id.length > 0, 'input item has an id');
  assert.equal(page.has_more, false, 'has_more');

  const del = await client.responses.delete(r.id);
  assert.equal(del?.deleted, true, `delete answers {deleted:true}: ${show(del)}`);
  assert.equal(del.id, r.id, 'delete echoes the id');

  const e = await expectApiError(() => client.responses.retrieve(r.id), 'retrieve after delete');
  assert.equal(e.status, 404, `retrieve after delete: status ${e.status} ${e.message}`);
});

test('inputItems.list: several input items, default order desc, order=asc', { timeout: TEST_TIMEOUT }, async () => {
  const r = await client.responses.create({
    model: MODEL,
    input: [
      { role: 'user', content: 'one' },
      { role: 'user', content: 'two' },
    ],
  });
  assert.equal(r.output_text, 'echo: two', 'answer to the last user message');
  const desc = await client.responses.inputItems.list(r.id);
  assert.deepEqual(desc.data.map((i) => textOf(i.content)), ['two', 'one'], 'default order is desc (newest first)');
  const asc = await client.responses.inputItems.list(r.id, { order: 'asc' });
  assert.deepEqual(asc.data.map((i) => textOf(i.content)), ['one', 'two'], 'order=asc');
  const firstOnly = await client.responses.inputItems.list(r.id, { order: 'asc', limit: 1 });
  assert.deepEqual(firstOnly.data.map((i) => textOf(i.content)), ['one'], 'limit=1');
  assert.equal(firstOnly.has_more, true, 'has_more with limit=1 of 2');
  const next = await client.responses.inputItems.list(r.id, { order: 'asc', limit: 1, after: firstOnly.data[0].id });
  assert.deepEqual(next.data.map((i) => textOf(i.content)), ['two'], 'after=<first id> gives the second item');
});

test('previous_response_id of an unknown id -> 400 previous_response_not_found', { timeout: TEST_TIMEOUT }, async () => {
  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, previous_response_id: 'resp_doesnotexist', input: 'Hi' }),
    'unknown previous_response_id',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.code, 'previous_response_not_found', 'code');
  assert.equal(e.param, 'previous_response_id', 'param');
});

test('models.list and models.retrieve: the upstream\'s models; an unknown one -> 404 model_not_found', { timeout: TEST_TIMEOUT }, async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['scripted-model'], 'the upstream\'s GET /models, proxied');
  const m = await client.models.retrieve('scripted-model');
  assert.equal(m.object, 'model', show(m));
  const e = await expectApiError(() => client.models.retrieve('gpt-nope'), 'unknown model');
  assert.equal(e.status, 404, `status (${e.message})`);
  assert.equal(e.code, 'model_not_found', 'code');
});

test('responses.inputTokens.count: a Chat Completions upstream cannot count -> 503 not_supported', { timeout: TEST_TIMEOUT }, async () => {
  const e = await expectApiError(
    () => client.responses.inputTokens.count({ model: MODEL, input: 'Hello' }),
    'input token count on an upstream',
  );
  assert.equal(e.status, 503, `status (${e.message})`);
  assert.equal(e.code, 'not_supported', 'code');
});

test('truncation: auto is echoed; another value -> 400 on truncation', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, input: 'Hello', truncation: 'auto' });
  assert.equal(r.status, 'completed', show(r));
  assert.equal(r.truncation, 'auto', 'echoed');
  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, input: 'Hello', truncation: 'sometimes' }),
    'bad truncation',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.param, 'truncation', 'param');
});

test('text.format json_schema: sent upstream as response_format, echoed on the response', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const r = await client.responses.create({
    model: MODEL,
    input: 'Where?',
    text: { format: { type: 'json_schema', name: 'place', schema, strict: true } },
  });
  assert.equal(r.status, 'completed', show(r));
  assert.equal(r.text?.format?.type, 'json_schema', `echoed: ${show(r.text)}`);
  assert.equal(r.text.format.name, 'place', show(r.text));
  const [req] = await upstreamRequests();
  assert.deepEqual(
    req.response_format,
    { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } },
    'Chat Completions response_format',
  );
});

test('include message.output_text.logprobs: the upstream is asked, its entries reach the part and the deltas', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const args = { model: MODEL, input: 'count to 3', include: ['message.output_text.logprobs'], top_logprobs: 2 };
  const r = await client.responses.create(args);
  assert.equal(r.status, 'completed', show(r));
  const [req] = await upstreamRequests();
  assert.equal(req.logprobs, true, show(req));
  assert.equal(req.top_logprobs, 2, show(req));
  const part = r.output[0].content[0];
  assert.deepEqual(part.logprobs.map((l) => l.token), ['1', ' 2', ' 3', '.'], show(part));
  assert.equal(part.logprobs[2].logprob, -0.75, show(part.logprobs[2]));
  assert.equal(part.logprobs[2].top_logprobs.length, 2, show(part.logprobs[2]));

  const stream = client.responses.stream(args);
  const streamed = [];
  for await (const e of stream) if (e.type === 'response.output_text.delta') streamed.push(...(e.logprobs ?? []));
  assert.deepEqual(streamed.map((l) => l.token), ['1', ' 2', ' 3', '.'], 'each delta carries its token');
});

test('item_reference: an item of the chain by id reaches the upstream as that item', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r1 = await client.responses.create({ model: MODEL, input: 'Hello' });
  const answer = r1.output.find((o) => o.type === 'message');
  assert.ok(answer?.id, show(r1.output));
  await resetUpstream();
  const r2 = await client.responses.create({
    model: MODEL,
    previous_response_id: r1.id,
    input: [{ type: 'item_reference', id: answer.id }, { role: 'user', content: 'Again' }],
  });
  assert.equal(r2.status, 'completed', show(r2));
  const [req] = await upstreamRequests();
  assert.deepEqual(
    brief(req.messages),
    [
      { role: 'user', text: 'Hello' },
      { role: 'assistant', text: 'echo: Hello' },
      { role: 'assistant', text: 'echo: Hello' },
      { role: 'user', text: 'Again' },
    ],
    'the referenced answer is sent as itself',
  );
  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, input: [{ type: 'item_reference', id: 'msg_nope' }] }),
    'unknown item_reference',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.param, 'input[0].id', 'param');
});

test('responses.compact: a compaction item then the latest turn; its summary stands for the prefix later', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const input = [
    { role: 'user', content: 'Tell me about rivers' },
    { role: 'assistant', content: 'Rivers flow downhill.' },
    { role: 'user', content: 'And stones?' },
  ];
  const c = await client.responses.compact({ model: MODEL, input });
  assert.equal(c.object, 'response.compaction', show(c));
  assert.equal(c.output.length, 2, show(c.output));
  const [item, kept] = c.output;
  assert.equal(item.type, 'compaction', show(item));
  assert.match(item.id, /^cmp_/, show(item));
  assert.equal(typeof item.encrypted_content, 'string', show(item));
  assert.deepEqual(brief([kept]), [{ role: 'user', text: 'And stones?' }], 'the latest turn is kept verbatim');
  assert.ok(c.usage?.output_tokens > 0, `the summary's usage: ${show(c.usage)}`);
  const [summarising] = await upstreamRequests();
  const sent = brief(summarising.messages);
  assert.match(sent.at(-1).text, /^Summarise the conversation/, show(sent));
  assert.ok(sent.some((m) => m.text === 'Tell me about rivers'), show(sent));
  assert.ok(!sent.some((m) => m.text === 'And stones?'), `the kept turn is not summarised: ${show(sent)}`);

  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, input: [...c.output, { role: 'user', content: 'More' }] });
  assert.equal(r.status, 'completed', show(r));
  const [req] = await upstreamRequests();
  const next = brief(req.messages);
  assert.equal(next[0].role, 'system', show(next));
  assert.match(next[0].text, /^Summary of the earlier conversation: echo: Summarise/, show(next));
  assert.deepEqual(next.slice(1), [{ role: 'user', text: 'And stones?' }, { role: 'user', text: 'More' }], 'no compacted prefix');

  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, input: [{ type: 'compaction', encrypted_content: 'forged' }, { role: 'user', content: 'x' }] }),
    'undecodable encrypted_content',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.param, 'input[0].encrypted_content', 'param');
});

test('context_management compaction: over the threshold the response starts with a compaction item', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r1 = await client.responses.create({ model: MODEL, input: 'granite '.repeat(700) });
  const context_management = [{ type: 'compaction', compact_threshold: 1000 }];
  const r2 = await client.responses.create({ model: MODEL, previous_response_id: r1.id, input: 'Short', context_management });
  assert.equal(r2.status, 'completed', show(r2));
  assert.equal(r2.output[0].type, 'compaction', show(r2.output));
  assert.deepEqual(r2.context_management, context_management, 'echoed');
  await resetUpstream();
  const r3 = await client.responses.create({ model: MODEL, previous_response_id: r2.id, input: 'Again', context_management });
  assert.equal(r3.output[0].type, 'message', `under the threshold again: ${show(r3.output)}`);
  const requests = await upstreamRequests();
  assert.equal(requests.length, 1, 'no second summary');
  assert.ok(!JSON.stringify(requests[0].messages).includes('granite granite'), 'the chain continues from the window');
  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, input: 'x', context_management: [{ type: 'compaction', compact_threshold: 10 }] }),
    'compact_threshold below 1000',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.param, 'context_management[0].compact_threshold', 'param');
});

test('store:false over HTTP: previous_response_id of it -> 400, and it is not retrievable', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, store: false, input: 'Forget me' });
  assert.equal(r.output_text, 'echo: Forget me', 'store:false response still answers');
  assert.equal(r.store, false, 'store:false is echoed');
  const e = await expectApiError(
    () => client.responses.create({ model: MODEL, previous_response_id: r.id, input: 'Remember?' }),
    'previous_response_id of a store:false response over HTTP',
  );
  assert.equal(e.status, 400, `status (${e.message})`);
  assert.equal(e.code, 'previous_response_not_found', 'code');
  assert.equal(e.param, 'previous_response_id', 'param');
  const e2 = await expectApiError(() => client.responses.retrieve(r.id), 'retrieve of a store:false response');
  assert.equal(e2.status, 404, `retrieve status (${e2.message})`);
  const reqs = await upstreamRequests();
  assert.equal(reqs.length, 1, 'the rejected continuation never reached the upstream');
});

test('upstream failure (HTTP 500): non-streaming -> APIError 502 mentioning the upstream', { timeout: TEST_TIMEOUT }, async () => {
  const e = await expectApiError(() => client.responses.create({ model: MODEL, input: 'please FAIL500' }), 'upstream 500');
  assert.equal(e.status, 502, `status (${e.message})`);
  assert.match(e.message, /upstream/i, 'error message mentions the upstream');
});

test('upstream failure (HTTP 500): streaming -> response.failed (or HTTP 502), not a hang', { timeout: TEST_TIMEOUT }, async () => {
  let events;
  try {
    events = await collect(await client.responses.create({ model: MODEL, input: 'stream FAIL500', stream: true }), 'failing stream');
  } catch (e) {
    // Accepted only as an HTTP error before the stream starts (no SSE error event mid-stream).
    assert.ok(e instanceof OpenAI.APIError && e.status === 502, `streaming failure threw ${e?.name} status=${e?.status}: ${e?.message}`);
    assert.match(e.message, /upstream/i, 'error message mentions the upstream');
    return;
  }
  const types = events.map((e) => e.type);
  assertContiguous(events, 'failed stream');
  const last = events.at(-1);
  assert.equal(last.type, 'response.failed', `terminal event; types: ${types.join(',')}`);
  assert.equal(last.response.status, 'failed', 'failed status');
  assert.ok(last.response.error?.code, `response.error.code present: ${show(last.response.error)}`);
  assert.match(last.response.error?.message ?? '', /upstream/i, 'response.error.message mentions the upstream');
});

// ---------------------------------------------------------------- conversations

test('conversations: two responses in a conversation, items listed (desc by default)', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const conv = await client.conversations.create({ metadata: { topic: 't' } });
  assert.match(conv.id, /^conv_/, 'conversation id prefix');
  assert.equal(conv.object, 'conversation', 'object');
  assert.deepEqual(conv.metadata, { topic: 't' }, 'metadata');

  const r1 = await client.responses.create({ model: MODEL, conversation: conv.id, input: 'first' });
  assert.equal(r1.output_text, 'echo: first', 'turn 1 text');
  const r2 = await client.responses.create({ model: MODEL, conversation: conv.id, input: 'second' });
  assert.equal(r2.output_text, 'echo: second', 'turn 2 text');
  assert.equal(r2.conversation?.id, conv.id, `response echoes conversation {id}: ${show(r2.conversation)}`);

  const reqs = await upstreamRequests();
  assert.equal(reqs.length, 2, 'two upstream requests');
  assert.deepEqual(
    brief(reqs[1].messages),
    [
      { role: 'user', text: 'first' },
      { role: 'assistant', text: 'echo: first' },
      { role: 'user', text: 'second' },
    ],
    'turn 2 upstream context has the conversation items',
  );

  const view = (data) => data.map((i) => ({ type: i.type, role: i.role, text: textOf(i.content) }));
  const desc = await client.conversations.items.list(conv.id);
  assert.deepEqual(
    view(desc.data),
    [
      { type: 'message', role: 'assistant', text: 'echo: second' },
      { type: 'message', role: 'user', text: 'second' },
      { type: 'message', role: 'assistant', text: 'echo: first' },
      { type: 'message', role: 'user', text: 'first' },
    ],
    'conversation items, default order (desc = newest first)',
  );
  const asc = await client.conversations.items.list(conv.id, { order: 'asc' });
  assert.deepEqual(view(asc.data), view(desc.data).reverse(), 'order=asc is the reverse of the default');
});

// ---------------------------------------------------------------- WebSocket mode

/**
 * Opens a ResponsesWS socket (ws://<tether>/v1/responses). turn(params, label) sends one
 * response.create (store:false unless overridden) and resolves with {events, last} at the first
 * terminal event (response.completed/failed/incomplete or an error event); it rejects after 10 s.
 */
function openWs() {
  const ws = new ResponsesWS(client);
  openSockets.add(ws);
  const socketErrors = [];
  ws.on('error', (err) => {
    if (err?.error?.type !== 'error') socketErrors.push(err); // API error events are checked per turn
  });
  const turn = (params, label) =>
    new Promise((resolve, reject) => {
      const events = [];
      const finish = (fn, v) => {
        clearTimeout(timer);
        ws.off('event', onEvent);
        fn(v);
      };
      const onEvent = (ev) => {
        events.push(ev);
        if (['response.completed', 'response.failed', 'response.incomplete', 'error'].includes(ev.type)) {
          finish(resolve, { events, last: ev });
        }
      };
      const timer = setTimeout(
        () => finish(reject, new Error(`${label}: no terminal event within 10 s; got ${events.map((e) => e.type).join(',') || 'nothing'}; socket errors: ${socketErrors.map((e) => e.message).join(' | ')}`)),
        10_000,
      );
      ws.on('event', onEvent);
      ws.send({ type: 'response.create', model: MODEL, store: false, ...params });
    });
  const close = () => {
    ws.close();
    openSockets.delete(ws);
  };
  return { ws, turn, socketErrors, close };
}

test('WebSocket mode (ResponsesWS): store:false chain, error event, socket stays usable', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const { turn, socketErrors, close } = openWs();
  try {
    const t1 = await turn({ input: 'hi' }, 'turn 1');
    assert.equal(t1.last.type, 'response.completed', `turn 1 terminal event: ${show(t1.last).slice(0, 500)}`);
    assertContiguous(t1.events, 'turn 1');
    assert.equal(t1.events[0].type, 'response.created', 'turn 1 first event');
    assert.equal(outputTextOf(t1.last.response), 'echo: hi', 'turn 1 text');
    const w1 = t1.last.response;

    const t2 = await turn({ previous_response_id: w1.id, input: 'again' }, 'turn 2');
    assert.equal(t2.last.type, 'response.completed', `turn 2 terminal event: ${show(t2.last).slice(0, 500)}`);
    assertContiguous(t2.events, 'turn 2 (sequence numbers restart at 0 per response)');
    assert.equal(outputTextOf(t2.last.response), 'echo: again', 'turn 2 text');
    assert.equal(t2.last.response.previous_response_id, w1.id, 'turn 2 echoes previous_response_id');
    const reqs = await upstreamRequests();
    assert.equal(reqs.length, 2, 'two upstream requests');
    assert.deepEqual(
      brief(reqs[1].messages),
      [
        { role: 'user', text: 'hi' },
        { role: 'assistant', text: 'echo: hi' },
        { role: 'user', text: 'again' },
      ],
      'turn 2 upstream context (store:false chain served from the connection cache)',
    );

    const t3 = await turn({ previous_response_id: 'resp_unknown', input: 'lost' }, 'turn 3');
    assert.equal(t3.last.type, 'error', `turn 3 yields an error event: ${show(t3.last).slice(0, 500)}`);
    assert.equal(t3.last.error?.code, 'previous_response_not_found', `error.code: ${show(t3.last)}`);
    assert.equal(t3.last.error?.param, 'previous_response_id', 'error.param');
    if (t3.last.status !== undefined) assert.equal(t3.last.status, 400, 'error status');

    const t4 = await turn({ input: 'still there?' }, 'turn 4');
    assert.equal(t4.last.type, 'response.completed', `turn 4 after an error: ${show(t4.last).slice(0, 500)}`);
    assert.equal(outputTextOf(t4.last.response), 'echo: still there?', 'turn 4 text');
    assert.deepEqual(socketErrors.map((e) => e.message), [], 'no socket-level errors');
    const reqs4 = await upstreamRequests();
    assert.equal(reqs4.length, 3, 'the failed turn 3 never reached the upstream');
  } finally {
    close();
  }
});

test('WebSocket mode: function tool round trip with store:false and previous_response_id', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const { turn, socketErrors, close } = openWs();
  try {
    const t1 = await turn({ input: 'Weather in Paris?', tools: WEATHER_TOOLS }, 'tool turn 1');
    assert.equal(t1.last.type, 'response.completed', `turn 1 terminal event: ${show(t1.last).slice(0, 500)}`);
    assertContiguous(t1.events, 'tool turn 1');
    const call = t1.last.response.output.find((i) => i.type === 'function_call');
    assert.ok(call, `turn 1 output has a function_call: ${show(t1.last.response.output)}`);
    assert.equal(call.name, 'get_weather', 'function name');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' }, 'arguments');

    const t2 = await turn(
      {
        previous_response_id: t1.last.response.id,
        tools: WEATHER_TOOLS,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ tempC: 21 }) }],
      },
      'tool turn 2',
    );
    assert.equal(t2.last.type, 'response.completed', `turn 2 terminal event: ${show(t2.last).slice(0, 500)}`);
    assert.equal(outputTextOf(t2.last.response), 'It is 21C in Paris.', 'turn 2 text');
    const msgs = (await upstreamRequests()).at(-1).messages;
    assert.deepEqual(
      msgs.map((m) => m.role),
      ['user', 'assistant', 'tool'],
      `upstream turn 2 roles: ${show(msgs)}`,
    );
    assert.equal(msgs[1].tool_calls?.[0]?.id, call.call_id, 'assistant tool_calls[0].id');
    assert.equal(msgs[2].tool_call_id, call.call_id, 'tool message tool_call_id');
    assert.deepEqual(socketErrors.map((e) => e.message), [], 'no socket-level errors');
  } finally {
    close();
  }
});

test('WebSocket mode: store:false state stays on its connection (zero retention)', { timeout: TEST_TIMEOUT }, async () => {
  const a = openWs();
  const b = openWs();
  try {
    const t1 = await a.turn({ input: 'private' }, 'socket A turn 1');
    assert.equal(t1.last.type, 'response.completed', `socket A turn 1: ${show(t1.last).slice(0, 500)}`);
    const rid = t1.last.response.id;

    const other = await b.turn({ previous_response_id: rid, input: 'steal' }, 'socket B continuation');
    assert.equal(other.last.type, 'error', `another connection must not see a store:false response: ${show(other.last).slice(0, 500)}`);
    assert.equal(other.last.error?.code, 'previous_response_not_found', 'error.code on socket B');

    const e = await expectApiError(() => client.responses.retrieve(rid), 'HTTP retrieve of a WebSocket store:false response');
    assert.equal(e.status, 404, `HTTP retrieve status (${e.message})`);

    const bg = await a.turn({ background: true, input: 'bg' }, 'background over WebSocket');
    assert.equal(bg.last.type, 'error', `background:true is rejected over WebSocket with an error event: ${show(bg.last).slice(0, 500)}`);

    const t2 = await a.turn({ previous_response_id: rid, input: 'mine' }, 'socket A turn 2');
    assert.equal(t2.last.type, 'response.completed', `socket A still continues its own chain: ${show(t2.last).slice(0, 500)}`);
    assert.equal(outputTextOf(t2.last.response), 'echo: mine', 'socket A turn 2 text');
  } finally {
    a.close();
    b.close();
  }
});

// ---------------------------------------------------------------- background

test('background: create returns queued/in_progress, polling reaches completed', { timeout: TEST_TIMEOUT }, async () => {
  await resetUpstream();
  const r = await client.responses.create({ model: MODEL, background: true, input: 'Hello' });
  assert.match(r.id, /^resp_/, 'id');
  assert.ok(['queued', 'in_progress'].includes(r.status), `initial status is queued or in_progress, got ${r.status}`);
  assert.equal(r.background, true, 'background is echoed');
  const deadline = Date.now() + 10_000;
  let cur = r;
  const seen = [r.status];
  while (cur.status === 'queued' || cur.status === 'in_progress') {
    if (Date.now() > deadline) assert.fail(`background response ${r.id} still ${cur.status} after 10 s (statuses seen: ${seen.join(',')})`);
    await new Promise((ok) => setTimeout(ok, 100));
    cur = await client.responses.retrieve(r.id);
    seen.push(cur.status);
  }
  assert.equal(cur.status, 'completed', `final status (seen: ${seen.join(',')}); error: ${show(cur.error)}`);
  assert.equal(cur.output_text, 'echo: Hello', 'background text');
  assert.ok(cur.usage, 'usage on the completed background response');
});
