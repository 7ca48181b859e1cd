// A scripted, deterministic OpenAI-compatible Chat Completions server, used as Tether's upstream
// by compat.test.mjs (see run.sh). Plain node:http, no dependencies.
//
//   node upstream.mjs [PORT]        (or UPSTREAM_PORT=...; default 0 = a free port)
//   prints "upstream listening on http://127.0.0.1:PORT" once it accepts connections.
//
// POST /v1/chat/completions   streaming (stream:true) and non-streaming. The answer is decided
//                             from the request's messages:
//   - last message has role "tool"                       -> text "It is 21C in Paris."
//   - request has tools and the last user message
//     mentions "weather"                                 -> one get_weather tool call {"city":"Paris"}
//   - last user message contains "FAIL500"               -> HTTP 500 {"error":{"message":"scripted failure"}}
//   - last user message contains "count to N" (N <= 500) -> text "1 2 3 … N." one number per chunk,
//                                                           COUNT_DELAY_MS (default 40) apart: a long,
//                                                           checkable answer for resume tests
//   - otherwise                                          -> text "echo: <last user message text>"
//   usage: prompt_tokens = ceil(len(JSON.stringify(messages))/4); completion_tokens = number of
//   content (or tool-call argument) chunks; prompt_tokens_details.cached_tokens = floor(L/4), L being
//   the longest common prefix (in characters) of JSON.stringify(messages) with that of any earlier
//   request: a simulated provider prefix cache, > 0 only when earlier turns are re-sent byte-identically.
// GET  /__requests            every chat-completions request body received, as a JSON array
// GET  /__usage               the usage object answered to each of those requests (same order; null
//                             for requests that got an error), so tests can compare Tether's usage
// POST /__reset               forget recorded requests, usages and the simulated prefix cache
import http from 'node:http';

const CHUNK_DELAY_MS = Number(process.env.UPSTREAM_CHUNK_DELAY_MS ?? 5);
const COUNT_DELAY_MS = Number(process.env.COUNT_DELAY_MS ?? 40);

let requests = []; // request bodies, in arrival order
let usages = []; // usage answered to requests[i], or null
let seenPrefixes = []; // JSON.stringify(messages) of every earlier request
let counter = 0; // makes ids unique across the process lifetime

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function commonPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Splits s into `parts` roughly equal non-empty pieces (fewer if s is short). */
function split(s, parts) {
  const out = [];
  const size = Math.max(1, Math.ceil(s.length / parts));
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

/** Decides the scripted answer for a request body. */
function plan(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const userText = lastUser ? textOf(lastUser.content) : '';
  if (userText.includes('FAIL500')) return { kind: 'fail' };
  if (last?.role === 'tool') {
    return { kind: 'text', text: 'It is 21C in Paris.', chunks: split('It is 21C in Paris.', 3) };
  }
  if (Array.isArray(body.tools) && body.tools.length > 0 && /weather/i.test(userText)) {
    return {
      kind: 'tool',
      callId: `call_weather${String(counter).padStart(4, '0')}`,
      name: 'get_weather',
      argChunks: ['{"city":', '"Par', 'is"}'],
    };
  }
  const count = /count to (\d+)/i.exec(userText);
  if (count && last?.role !== 'tool' && Number(count[1]) <= 500) {
    const chunks = Array.from({ length: Number(count[1]) }, (_, i) => `${i === 0 ? '' : ' '}${i + 1}`);
    chunks.push('.');
    return { kind: 'text', text: chunks.join(''), chunks, delayMs: COUNT_DELAY_MS };
  }
  const text = `echo: ${userText}`;
  return { kind: 'text', text, chunks: split(text, 3) };
}

function usageFor(body, completionTokens) {
  const serialized = JSON.stringify(body.messages ?? null);
  let longest = 0;
  for (const earlier of seenPrefixes) longest = Math.max(longest, commonPrefix(serialized, earlier));
  seenPrefixes.push(serialized);
  const prompt = Math.ceil(serialized.length / 4);
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_tokens_details: { cached_tokens: Math.floor(longest / 4) },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function tokenLogprob(token, logprob, top) {
  const bytes = [...Buffer.from(token, 'utf8')];
  const alternatives = Array.from({ length: top }, (_, i) => ({
    token: i === 0 ? token : `alt${i}`,
    logprob: logprob - i,
    bytes: i === 0 ? bytes : [...Buffer.from(`alt${i}`, 'utf8')],
  }));
  return { token, logprob, bytes, top_logprobs: alternatives };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sendJson(res, status, value) {
  const data = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

async function chatCompletions(body, res) {
  requests.push(body);
  usages.push(null);
  const slot = usages.length - 1;
  counter++;
  const p = plan(body);
  if (p.kind === 'fail') {
    sendJson(res, 500, { error: { message: 'scripted failure', type: 'server_error' } });
    return;
  }
  const id = `chatcmpl-${String(counter).padStart(6, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === 'string' && body.model ? body.model : 'scripted-model';
  const nChunks = p.kind === 'text' ? p.chunks.length : p.argChunks.length;
  const usage = usageFor(body, nChunks);
  usages[slot] = usage;
  const finish = p.kind === 'text' ? 'stop' : 'tool_calls';

  if (!body.stream) {
    const message =
      p.kind === 'text'
        ? { role: 'assistant', content: p.text }
        : {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: p.callId, type: 'function', function: { name: p.name, arguments: p.argChunks.join('') } },
            ],
          };
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage,
    });
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const chunk = (choices, extra = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  const choice = (delta, finishReason = null) => [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
  const delay = p.delayMs ?? CHUNK_DELAY_MS;
  const write = async (s) => {
    if (res.destroyed) throw new Error('client went away');
    res.write(s);
    if (delay > 0) await sleep(delay);
  };
  try {
    if (p.kind === 'text') {
      await write(chunk(choice({ role: 'assistant', content: '' })));
      for (const [i, c] of p.chunks.entries()) {
        const delta = choice({ content: c });
        // As OpenAI does when asked: each chunk (a token here) with its log-probability.
        if (body.logprobs === true) delta[0].logprobs = { content: [tokenLogprob(c, -0.25 * (i + 1), body.top_logprobs ?? 0)] };
        await write(chunk(delta));
      }
    } else {
      await write(
        chunk(
          choice({
            role: 'assistant',
            content: null,
            tool_calls: [{ index: 0, id: p.callId, type: 'function', function: { name: p.name, arguments: '' } }],
          }),
        ),
      );
      for (const c of p.argChunks) {
        await write(chunk(choice({ tool_calls: [{ index: 0, function: { arguments: c } }] })));
      }
    }
    await write(chunk(choice({}, finish)));
    if (body.stream_options?.include_usage) await write(chunk([], { usage }));
    res.end('data: [DONE]\n\n');
  } catch {
    res.destroy();
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const path = new URL(req.url, 'http://x').pathname;
    try {
      if (req.method === 'GET' && path === '/__requests') return sendJson(res, 200, requests);
      if (req.method === 'GET' && path === '/__usage') return sendJson(res, 200, usages);
      if (req.method === 'POST' && path === '/__reset') {
        requests = [];
        usages = [];
        seenPrefixes = [];
        return sendJson(res, 200, { ok: true });
      }
      if (req.method === 'GET' && path === '/v1/models') {
        return sendJson(res, 200, { object: 'list', data: [{ id: 'scripted-model', object: 'model', owned_by: 'test' }] });
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (e) {
          return sendJson(res, 400, { error: { message: `invalid JSON body: ${e.message}`, type: 'invalid_request_error' } });
        }
        if (!body || typeof body !== 'object' || !Array.isArray(body.messages)) {
          requests.push(body);
          usages.push(null);
          return sendJson(res, 400, { error: { message: "'messages' must be an array", type: 'invalid_request_error' } });
        }
        return await chatCompletions(body, res);
      }
      sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}`, type: 'invalid_request_error' } });
    } catch (e) {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `upstream script crashed: ${e.message}` } });
      else res.destroy();
    }
  });
});

const port = Number(process.argv[2] ?? process.env.UPSTREAM_PORT ?? 0);
server.listen(port, '127.0.0.1', () => {
  console.log(`upstream listening on http://127.0.0.1:${server.address().port}`);
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
