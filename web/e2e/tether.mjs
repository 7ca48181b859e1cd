// Test helpers: the server the run script started (TETHER_URL, TETHER_KEY), backend-side calls
// with the key, and tokens minted for users and operators through /v1/auth/tokens.
export const URL_BASE = process.env.TETHER_URL;
export const KEY = process.env.TETHER_KEY;
if (!URL_BASE || !KEY) throw new Error('run through web/e2e/run.sh (TETHER_URL and TETHER_KEY)');

/** A call as the backend (the key). */
export async function backend(method, path, body) {
  const res = await fetch(URL_BASE + path, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export const WEATHER_TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'the weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A session with the built-in agent (the scripted upstream answers): get_weather needs approval. */
export async function createSession(policy = {}) {
  return backend('POST', '/v1/sessions', {
    agent: { model: 'scripted', instructions: 'Be brief.', tools: [WEATHER_TOOL], require_approval: ['get_weather'] },
    policy: { rollup_ms: 20, ...policy },
  });
}

const USER_OPS = ['read', 'join', 'publish', 'cancel', 'steer'];
const OPERATOR_OPS = ['read', 'join', 'publish', 'cancel', 'steer', 'approve', 'floor', 'audit'];

/** A JWT for `sub`: a user of one session, or an operator of every session. */
export async function token(sub, { session, operator = false, ttl = '1h' } = {}) {
  const capabilities = operator ? { 'sessions/*': OPERATOR_OPS } : { [`sessions/${session}`]: USER_OPS };
  return (await backend('POST', '/v1/auth/tokens', { sub, ttl, capabilities })).token;
}

/** The audit export as entries (each with its offset). */
export async function audit(id) {
  const res = await fetch(`${URL_BASE}/v1/sessions/${id}/audit?format=jsonl`, { headers: { authorization: `Bearer ${KEY}` } });
  if (!res.ok) throw new Error(`audit: ${res.status}`);
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** "1 2 … n." — what the scripted upstream answers to "count to n". */
export const counted = (n) => Array.from({ length: n }, (_, i) => i + 1).join(' ') + '.';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` (async, truthy = done) every 50 ms for up to `ms`. On a timeout, `state` (async),
 * when given, says what was there instead.
 */
export async function until(check, ms = 10000, what = 'condition', state) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await sleep(50);
  }
  const seen = state ? await state().catch((e) => `(unreadable: ${e.message})`) : last;
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(seen)})`);
}

/**
 * Plays the tool's executor (a backend worker): once get_weather is approved in the session, posts
 * its output; resolves with the call.
 */
export async function runApprovedTool(sessionId) {
  const call = await until(async () => {
    const entries = await backend('GET', `/v1/sessions/${sessionId}/snapshot`);
    return entries.find((e) => e.type === 'tool_call' && e.value.status === 'approved')?.value;
  }, 10000, 'an approved tool call');
  await backend('POST', `/v1/sessions/${sessionId}/tool_calls/${call.id}/output`, { output: '{"temp_c": 21}' });
  return call;
}
