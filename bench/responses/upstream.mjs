// A scripted OpenAI-compatible Chat Completions upstream that plays the trace.
//
//   node upstream.mjs [--port 0] [--host 127.0.0.1] [--seed 42] [--turns 24]
//                     [--prefill-us-per-token 20] [--no-prefix-cache]
//                     [--chunk-chars 4] [--cache-entries 8] [--verbose]
//
// POST /v1/chat/completions (stream true or false). The turn is the number of
// `tool` role messages in the request: turn k < turns answers with the trace's
// k-th tool call (`tool_calls` deltas, finish_reason "tool_calls"), turn == turns
// with the final text (finish_reason "stop"). Before that, the whole context is
// checked against what the trace says it must be at turn k (system prompt, user
// task, every assistant tool call with its id and arguments, every tool output,
// and the tool definitions); a mismatch is answered with HTTP 400 and counted, so
// a gateway that loses or mangles context cannot produce a passing run.
//
// Prefill cost: it sleeps prefill_us_per_token x uncached prompt tokens before the
// first byte of the answer. Prompt tokens = ceil(chars / 4) of the prompt key
// (JSON of the tools, then one JSON line per message). The prefix cache remembers
// the last --cache-entries prompt keys of all requests (not per connection) and
// counts the longest common prefix with any of them as cached
// (usage.prompt_tokens_details.cached_tokens). --no-prefix-cache turns it off.
//
// Control endpoints for the harness (not part of any OpenAI API):
//   GET  /_bench/stats         cumulative counters (requests, tokens, bytes, context errors)
//   POST /_bench/config        {"prefill_us_per_token":N,"prefix_cache":bool}; also clears the cache
//   POST /_bench/reset-cache   forgets all cached prefixes
// GET /v1/models lists the one model.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { buildTrace, chatMessages, DEFAULT_SEED, DEFAULT_TURNS, MODEL } from "./trace.mjs";

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
  return v;
};
const num = (name, def) => {
  const v = Number(opt(name, def));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
  return v;
};
const cfg = {
  host: opt("host", "127.0.0.1"),
  port: num("port", 0),
  seed: num("seed", DEFAULT_SEED),
  turns: num("turns", DEFAULT_TURNS),
  prefillUsPerToken: num("prefill-us-per-token", 20),
  prefixCache: !argv.includes("--no-prefix-cache"),
  chunkChars: Math.max(1, num("chunk-chars", 4)),
  cacheEntries: Math.max(1, num("cache-entries", 8)),
  verbose: argv.includes("--verbose"),
};

const trace = buildTrace({ seed: cfg.seed, turns: cfg.turns });
const expected = []; // expected[k]: normalized messages of turn k, built lazily
const expectedTools = normTools(trace.chatTools);

const stats = {
  seed: cfg.seed, turns: cfg.turns, model: trace.model,
  requests: 0, streaming: 0, non_streaming: 0, errors: 0,
  context_errors: 0, last_context_error: null,
  body_bytes_in: 0, bytes_out: 0,
  prompt_tokens: 0, cached_tokens: 0, prefill_us: 0,
  by_turn: {}, // turn -> count
};

// ---- prefix cache ---------------------------------------------------------------------
let cache = [];
function commonPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  if (a.startsWith(b.length <= a.length ? b : b.slice(0, n))) return n; // fast path: one is a prefix of the other
  let lo = 0, hi = n; // a[0,lo) == b[0,lo), and the prefix of length hi differs
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (a.slice(0, mid) === b.slice(0, mid)) lo = mid; else hi = mid;
  }
  return lo;
}
function cachedChars(key) {
  if (!cfg.prefixCache) return 0;
  let best = 0;
  for (const prev of cache) {
    if (prev.length <= best) continue;
    best = Math.max(best, commonPrefix(key, prev));
  }
  cache.push(key);
  if (cache.length > cfg.cacheEntries) cache.shift();
  return best;
}

async function sleepUs(us) {
  if (us <= 0) return;
  const deadline = performance.now() + us / 1000;
  if (us > 2500) await sleep(Math.floor((us - 1500) / 1000));
  while (performance.now() < deadline) { /* spin the last ~1.5 ms: setTimeout is too coarse */ }
}

// ---- context check -----------------------------------------------------------------------
function text(content) {
  if (content == null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p?.text ?? "")).join("");
  return JSON.stringify(content);
}
function sameJson(a, b) {
  if (a === b) return true;
  try { return JSON.stringify(sortKeys(JSON.parse(a))) === JSON.stringify(sortKeys(JSON.parse(b))); } catch { return false; }
}
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
function normTools(tools) {
  return JSON.stringify(sortKeys((tools ?? []).map((t) => ({ name: t.function?.name, parameters: t.function?.parameters ?? null }))));
}
function describe(m) {
  const s = JSON.stringify(m);
  return s.length > 160 ? s.slice(0, 160) + "…" : s;
}
/** null if `messages` is exactly the trace's context for turn k (modulo harmless rendering differences), else why not. */
function checkContext(messages, tools, k) {
  const want = (expected[k] ??= chatMessages(trace, k));
  if (messages.length !== want.length) {
    return `turn ${k}: expected ${want.length} messages (system, user, then ${k} assistant tool call + tool output pairs), got ${messages.length}: roles ${messages.map((m) => m.role).join(",")}`;
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i], g = messages[i];
    const role = g.role === "developer" ? "system" : g.role;
    if (role !== w.role) return `turn ${k}: message ${i} role ${g.role}, expected ${w.role}`;
    if (w.role === "tool") {
      if (g.tool_call_id !== w.tool_call_id) return `turn ${k}: message ${i} (tool) tool_call_id ${g.tool_call_id}, expected ${w.tool_call_id}`;
      if (text(g.content) !== w.content) return `turn ${k}: message ${i} (tool output of ${w.tool_call_id}) content differs from the trace (${text(g.content).length} chars, expected ${w.content.length})`;
    } else if (w.role === "assistant") {
      if (text(g.content) !== "") return `turn ${k}: message ${i} (assistant) has text ${describe(g.content)}, expected none`;
      const calls = g.tool_calls ?? [];
      if (calls.length !== 1) return `turn ${k}: message ${i} (assistant) has ${calls.length} tool_calls, expected 1: ${describe(g)}`;
      const wc = w.tool_calls[0], gc = calls[0];
      if (gc.id !== wc.id || gc.function?.name !== wc.function.name || !sameJson(gc.function?.arguments, wc.function.arguments)) {
        return `turn ${k}: message ${i} (assistant) tool call ${describe(gc)} differs from the trace's ${describe(wc)}`;
      }
    } else if (text(g.content) !== w.content) {
      return `turn ${k}: message ${i} (${w.role}) content differs from the trace (${text(g.content).length} chars, expected ${w.content.length})`;
    }
  }
  if (normTools(tools) !== expectedTools) return `turn ${k}: tools differ from the trace's four function tools: ${describe(tools)}`;
  return null;
}

// ---- chat completion output ---------------------------------------------------------------
function pieces(s, n) {
  const out = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}
let seq = 0;
function answer(k) {
  const id = `chatcmpl-bench${(++seq).toString(36).padStart(8, "0")}`;
  if (k < trace.turns.length) {
    const c = trace.turns[k].call;
    return { id, k, kind: "tool", call: c, completionChars: c.name.length + c.arguments.length };
  }
  return { id, k, kind: "text", text: trace.finalText, completionChars: trace.finalText.length };
}
function usage(promptTokens, cached, completionChars) {
  const completion = Math.ceil(completionChars / 4);
  return {
    prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}
function chunkFrames(a, created, model, u, includeUsage) {
  const base = (delta, finish) => ({ id: a.id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_bench", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const frames = [];
  if (a.kind === "tool") {
    frames.push(base({ role: "assistant", content: null, tool_calls: [{ index: 0, id: a.call.call_id, type: "function", function: { name: a.call.name, arguments: "" } }], refusal: null }, null));
    for (const p of pieces(a.call.arguments, cfg.chunkChars)) frames.push(base({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null));
    frames.push(base({}, "tool_calls"));
  } else {
    frames.push(base({ role: "assistant", content: "", refusal: null }, null));
    for (const p of pieces(a.text, cfg.chunkChars)) frames.push(base({ content: p }, null));
    frames.push(base({}, "stop"));
  }
  if (includeUsage) frames.push({ id: a.id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_bench", choices: [], usage: u });
  return frames.map((f) => `data: ${JSON.stringify(f)}\n\n`);
}
function completion(a, created, model, u) {
  const message = a.kind === "tool"
    ? { role: "assistant", content: null, tool_calls: [{ id: a.call.call_id, type: "function", function: { name: a.call.name, arguments: a.call.arguments } }], refusal: null }
    : { role: "assistant", content: a.text, refusal: null };
  return { id: a.id, object: "chat.completion", created, model, system_fingerprint: "fp_bench", choices: [{ index: 0, message, logprobs: null, finish_reason: a.kind === "tool" ? "tool_calls" : "stop" }], usage: u };
}

// ---- HTTP ----------------------------------------------------------------------------
function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  stats.bytes_out += Buffer.byteLength(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
function fail(res, status, message, type = "invalid_request_error") {
  stats.errors++;
  if (cfg.verbose) console.error(`[upstream] ${status} ${message}`);
  sendJson(res, status, { error: { message: `bench upstream: ${message}`, type, param: null, code: null } });
}

async function chatCompletions(req, res, raw) {
  stats.requests++;
  stats.body_bytes_in += raw.length;
  let body;
  try { body = JSON.parse(raw.toString("utf8")); } catch (e) { return fail(res, 400, `request body is not JSON: ${e.message}`); }
  const messages = body.messages;
  if (!Array.isArray(messages)) return fail(res, 400, "messages must be an array");
  const k = messages.filter((m) => m?.role === "tool").length;
  if (k > trace.turns.length) return fail(res, 400, `request has ${k} tool messages, the trace has only ${trace.turns.length} turns`);
  const why = checkContext(messages, body.tools, k);
  if (why) {
    stats.context_errors++;
    stats.last_context_error = why;
    return fail(res, 400, `context mismatch: ${why}`);
  }
  stats.by_turn[k] = (stats.by_turn[k] ?? 0) + 1;
  const key = JSON.stringify(body.tools ?? []) + "\n" + messages.map((m) => JSON.stringify(m)).join("\n");
  const promptTokens = Math.ceil(key.length / 4);
  const cached = Math.min(promptTokens, Math.floor(cachedChars(key) / 4));
  const prefill = Math.round(cfg.prefillUsPerToken * (promptTokens - cached));
  stats.prompt_tokens += promptTokens;
  stats.cached_tokens += cached;
  stats.prefill_us += prefill;
  await sleepUs(prefill);
  const a = answer(k);
  const created = Math.floor(Date.now() / 1000);
  const model = typeof body.model === "string" ? body.model : MODEL;
  const u = usage(promptTokens, cached, a.completionChars);
  if (cfg.verbose) console.error(`[upstream] turn ${k} ${body.stream ? "stream" : "json"} prompt ${promptTokens} cached ${cached} prefill ${prefill} us`);
  if (body.stream === true) {
    stats.streaming++;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const frames = chunkFrames(a, created, model, u, body.stream_options?.include_usage === true);
    frames.push("data: [DONE]\n\n");
    for (const f of frames) { stats.bytes_out += Buffer.byteLength(f); res.write(f); }
    res.end();
  } else {
    stats.non_streaming++;
    sendJson(res, 200, completion(a, created, model, u));
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("error", () => {});
  req.on("end", () => {
    const raw = Buffer.concat(chunks);
    const path = req.url.split("?")[0];
    const route = `${req.method} ${path}`;
    if (route === "POST /v1/chat/completions") {
      chatCompletions(req, res, raw).catch((e) => { if (!res.headersSent) fail(res, 500, e.stack, "server_error"); else res.destroy(); });
    } else if (route === "GET /v1/models") {
      sendJson(res, 200, { object: "list", data: [{ id: trace.model, object: "model", created: 0, owned_by: "bench" }] });
    } else if (route === "GET /_bench/stats") {
      sendJson(res, 200, { ...stats, prefill_us_per_token: cfg.prefillUsPerToken, prefix_cache: cfg.prefixCache, chunk_chars: cfg.chunkChars });
    } else if (route === "POST /_bench/config") {
      let c;
      try { c = JSON.parse(raw.toString("utf8") || "{}"); } catch { return fail(res, 400, "config body is not JSON"); }
      if (c.prefill_us_per_token != null) cfg.prefillUsPerToken = Number(c.prefill_us_per_token);
      if (c.prefix_cache != null) cfg.prefixCache = Boolean(c.prefix_cache);
      cache = [];
      sendJson(res, 200, { prefill_us_per_token: cfg.prefillUsPerToken, prefix_cache: cfg.prefixCache });
    } else if (route === "POST /_bench/reset-cache") {
      cache = [];
      sendJson(res, 200, { ok: true });
    } else {
      fail(res, 404, `no route ${route}`, "not_found");
    }
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.listen(cfg.port, cfg.host, () => {
  const { port } = server.address();
  console.log(`bench upstream listening on http://${cfg.host}:${port}/v1 (seed ${cfg.seed}, ${cfg.turns} turns, prefill ${cfg.prefillUsPerToken} us/token, prefix cache ${cfg.prefixCache ? "on" : "off"}, ${cfg.chunkChars} chars per chunk)`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
