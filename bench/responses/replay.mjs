// Replays the trace against Tether (or the upstream directly) and measures it.
//
//   node replay.mjs --upstream http://127.0.0.1:UPORT/v1 [--tether http://127.0.0.1:TPORT]
//                   [--modes direct,stateless,chained,ws,ws-deflate] [--reps 5] [--warmup 2]
//                   [--seed 42] [--turns 24] [--prefill-us-per-token 0] [--prefix-cache on|off]
//                   [--label NAME] [--out FILE.json] [--turn-timeout-ms 60000]
//                   [--server-pid PID]
//
// Modes (one "replay" = the whole trace, request 0..turns, on fresh connections):
//   direct     POST {upstream}/chat/completions, stream:true, the full chat messages a gateway would send
//   stateless  POST {tether}/v1/responses, stream:true, store:false, the full input every turn
//   chained    POST {tether}/v1/responses, stream:true, store:true, previous_response_id + only the new item
//   ws         one WebSocket to ws://{tether}/v1/responses, response.create frames, store:false,
//              previous_response_id + only the new item; permessage-deflate not offered
//   ws-deflate the same, but the client offers permessage-deflate (as Codex does); whether the
//              server accepted it is recorded (ws_extensions)
// Instructions and tools are sent on every request in every mode (they are not inherited
// through previous_response_id).
//
// Per turn: wall time from just before the request is written (or the frame sent) to the
// arrival of the chunk holding the terminal event (response.completed, or data: [DONE] in
// direct mode), and to the arrival of the first piece of the answer (the first chunk with
// non-empty content or tool-call arguments in direct mode, the first *.delta event through
// Tether), which splits Tether's overhead into what it adds before the answer starts and what
// it adds while streaming; events are parsed and checked after that, so the client's parsing is not
// timed. Per replay: client->server and server->client bytes measured on the sockets
// (socket.bytesWritten / bytesRead of every socket the replay used: headers, chunked
// framing, WebSocket framing and handshake included), and the upstream's counters.
//
// Every turn is checked: the function_call (name, call_id, arguments) or the final text must
// be the trace's; an error event, response.failed, a non-200 status or a wrong answer stops
// that mode (reported with the request and what came back). Smaller protocol deviations
// (sequence_number gaps, missing output_item.added, deltas that do not add up to the final
// item...) are counted as notes. Warm-up replays run first and are not recorded. Modes are
// interleaved, and their order rotates every repetition.
//
// With --server-pid (Tether's JVM), each measured replay through Tether also records the
// server's CPU over the replay (its threads' running time from /proc/PID/task/*/schedstat) and
// the part of it in the JIT's compiler threads: server_cpu_ms, server_jit_ms.
//
// Writes one JSON document to --out (and a one-line summary per replay to stderr).
// Exit code: 0 every mode ran clean, 1 some mode failed.
import fs from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { buildTrace, userItem, outputItem, fullInput, chatMessages, DEFAULT_SEED, DEFAULT_TURNS } from "./trace.mjs";
import { threadNanos, threadNanosBetween } from "../streams/cpu.mjs";

// ---- flags ------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  if (argv[i + 1] === undefined) throw new Error(`--${name} needs a value`);
  return argv[i + 1];
};
const intOpt = (name, def, min = 0) => {
  const v = Number(opt(name, def));
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return v;
};
const cfg = {
  tether: opt("tether", null),
  upstream: opt("upstream", null),
  modes: opt("modes", "direct,stateless,chained,ws").split(",").filter(Boolean),
  reps: intOpt("reps", 5, 1),
  warmup: intOpt("warmup", 2, 0),
  seed: intOpt("seed", DEFAULT_SEED),
  turns: intOpt("turns", DEFAULT_TURNS, 1),
  prefill: Number(opt("prefill-us-per-token", 0)),
  prefixCache: opt("prefix-cache", "on") !== "off",
  label: opt("label", "run"),
  out: opt("out", null),
  turnTimeoutMs: intOpt("turn-timeout-ms", 60000, 1000),
  serverPid: opt("server-pid", null),
};
for (const m of cfg.modes) if (!["direct", "stateless", "chained", "ws", "ws-deflate"].includes(m)) throw new Error(`unknown mode ${m}`);
if (!cfg.upstream) throw new Error("--upstream is required (base URL ending in /v1)");
if (cfg.modes.some((m) => m !== "direct") && !cfg.tether) throw new Error("--tether is required for modes other than direct");

const trace = buildTrace({ seed: cfg.seed, turns: cfg.turns });
const N = trace.turns.length; // requests 0..N
const log = (...a) => console.error(`[replay ${new Date().toISOString().slice(11, 19)}]`, ...a);

class BenchError extends Error {
  constructor(message, details = {}) { super(message); this.details = details; }
}

// ---- control requests to the upstream (own connection, not measured) -------------------
function control(method, path, body) {
  const u = new URL(cfg.upstream.replace(/\/v1\/?$/, "") + path);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let s = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (s += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(s)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${s}`))));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

// ---- request bodies ------------------------------------------------------------------------
const common = () => ({ model: trace.model, instructions: trace.instructions, tools: trace.tools, tool_choice: "auto", parallel_tool_calls: false });
const newItems = (k) => (k === 0 ? [userItem(trace)] : [outputItem(trace.turns[k - 1])]);
function bodyFor(mode, k, prevId) {
  switch (mode) {
    case "direct":
      return { model: trace.model, messages: chatMessages(trace, k), tools: trace.chatTools, tool_choice: "auto", parallel_tool_calls: false, stream: true, stream_options: { include_usage: true } };
    case "stateless":
      return { ...common(), input: fullInput(trace, k), store: false, stream: true };
    case "chained":
      return { ...common(), ...(k > 0 ? { previous_response_id: prevId } : {}), input: newItems(k), store: true, stream: true };
    case "ws":
    case "ws-deflate":
      return { type: "response.create", ...common(), ...(k > 0 ? { previous_response_id: prevId } : {}), input: newItems(k), store: false, stream: true };
  }
}
/** A short, readable form of a request body for error reports. */
function summarize(body) {
  const s = { ...body };
  if (s.instructions) s.instructions = `<${s.instructions.length} chars>`;
  if (s.tools) s.tools = `<${s.tools.length} tools>`;
  const item = (it) => {
    const c = { ...it };
    for (const f of ["output", "content", "arguments"]) {
      if (typeof c[f] === "string" && c[f].length > 80) c[f] = `<${c[f].length} chars>`;
      else if (Array.isArray(c[f])) c[f] = `<${c[f].length} parts>`;
    }
    return c;
  };
  if (Array.isArray(s.input)) s.input = s.input.length > 6 ? [...s.input.slice(0, 2).map(item), `<${s.input.length - 4} more items>`, ...s.input.slice(-2).map(item)] : s.input.map(item);
  if (Array.isArray(s.messages)) s.messages = `<${s.messages.length} messages>`;
  return s;
}
const clip = (s, n = 1500) => (s.length > n ? s.slice(0, n) + `… (${s.length} chars)` : s);

// ---- HTTP + SSE --------------------------------------------------------------------------
const TERMINAL = new Set(["response.completed", "response.failed", "response.incomplete", "error"]);
const TERMINAL_RE = /"type"\s*:\s*"(response\.completed|response\.failed|response\.incomplete|error)"/;
const FIRST_TYPE_RE = /^\s*\{\s*"type"\s*:\s*"([^"]*)"/;
/** A Chat Completions chunk that carries part of the answer: non-empty content or tool-call arguments. */
const ANSWER_CHUNK_RE = /"(content|arguments)"\s*:\s*"[^"]/;

/** Name of the SSE event in a raw frame, from its event: line, else from its data. */
function frameEvent(frame) {
  if (frame.startsWith("event:")) {
    const nl = frame.indexOf("\n");
    return frame.slice(6, nl < 0 ? undefined : nl).trim();
  }
  const m = TERMINAL_RE.exec(frame);
  return m ? m[1] : null;
}

/**
 * One POST with an SSE answer. Resolves {t0, tFirst, tEnd, frames, status} where tFirst is the arrival
 * time of the chunk holding the first frame isFirst(frame) accepts, and tEnd is the arrival time of
 * the chunk holding the terminal frame (isTerminal(frame) true). Rejects with BenchError on a
 * non-200 status, a socket error, a timeout or a stream that ends without a terminal frame.
 */
function postSse(url, agent, sockets, body, isFirst, isTerminal) {
  const payload = Buffer.from(JSON.stringify(body));
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
      headers: { "content-type": "application/json", "content-length": payload.length, accept: "text/event-stream", authorization: "Bearer bench" },
    });
    req.on("socket", (s) => sockets.add(s));
    req.setTimeout(cfg.turnTimeoutMs, () => req.destroy(new BenchError(`no answer within ${cfg.turnTimeoutMs} ms`)));
    req.on("error", (e) => reject(e instanceof BenchError ? e : new BenchError(`request failed: ${e.message}`)));
    req.on("response", (res) => {
      res.setEncoding("utf8");
      if (res.statusCode !== 200) {
        let s = "";
        res.on("data", (c) => (s += c));
        res.on("end", () => reject(new BenchError(`HTTP ${res.statusCode}: ${clip(s, 600)}`, { status: res.statusCode, content_type: res.headers["content-type"], body: clip(s, 4000) })));
        return;
      }
      const frames = [];
      let buf = "", tEnd = null, tFirst = null;
      res.on("data", (chunk) => {
        const t = performance.now();
        buf += chunk.includes("\r") ? chunk.replace(/\r\n/g, "\n") : chunk;
        let from = 0, i;
        while ((i = buf.indexOf("\n\n", from)) >= 0) {
          const f = buf.slice(from, i);
          from = i + 2;
          if (f.length === 0 || f.startsWith(":")) continue;
          frames.push(f);
          if (tFirst === null && isFirst(f)) tFirst = t;
          if (tEnd === null && isTerminal(f)) tEnd = t;
        }
        buf = buf.slice(from);
      });
      res.on("error", (e) => reject(new BenchError(`response stream error: ${e.message}`)));
      res.on("end", () => {
        if (buf.trim()) frames.push(buf.trim());
        if (tEnd === null) {
          reject(new BenchError("stream ended without a terminal event", { status: 200, content_type: res.headers["content-type"], last_frames: frames.slice(-3).map((f) => clip(f, 800)) }));
        } else {
          resolve({ t0, tFirst: tFirst ?? tEnd, tEnd, frames, status: res.statusCode, contentType: res.headers["content-type"] });
        }
      });
    });
    req.end(payload);
  });
}

function parseSseFrame(f) {
  let event = null;
  const data = [];
  for (const line of f.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { event, data: data.join("\n") };
}

// ---- checks ------------------------------------------------------------------------------
function sameJson(a, b) {
  if (a === b) return true;
  const sort = (v) => (Array.isArray(v) ? v.map(sort) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v);
  try { return JSON.stringify(sort(JSON.parse(a))) === JSON.stringify(sort(JSON.parse(b))); } catch { return false; }
}

/** Collects protocol notes: count per kind, first example of each. */
class Notes {
  constructor() { this.counts = {}; this.examples = {}; }
  add(kind, example) {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    if (!(kind in this.examples)) this.examples[kind] = clip(String(example), 400);
  }
  merge(o) { for (const [k, v] of Object.entries(o.counts)) { this.counts[k] = (this.counts[k] ?? 0) + v; if (!(k in this.examples)) this.examples[k] = o.examples[k]; } }
  toJSON() { return { counts: this.counts, examples: this.examples }; }
}

/**
 * Checks the Responses events of turn k (already JSON-parsed, in arrival order). Throws BenchError
 * when the turn failed or the answer is not the trace's; returns {id, usage}.
 */
function checkResponses(events, k, notes, sentPrev, transport) {
  const at = `turn ${k}`;
  const err = events.find((e) => e.type === "error");
  if (err) throw new BenchError(`${transport} error event: ${clip(JSON.stringify(err), 800)}`, { error_event: err });
  const last = events[events.length - 1];
  if (last.type === "response.failed") throw new BenchError(`response.failed: ${JSON.stringify(last.response?.error)}`, { terminal_event: clipEvent(last) });
  if (last.type === "response.incomplete") throw new BenchError(`response.incomplete: ${JSON.stringify(last.response?.incomplete_details)}`, { terminal_event: clipEvent(last) });
  if (last.type !== "response.completed") throw new BenchError(`last event is ${last.type}, not response.completed`);
  const resp = last.response;
  if (!resp || typeof resp.id !== "string") throw new BenchError("response.completed has no response.id", { terminal_event: clipEvent(last) });
  if (resp.status !== "completed") notes.add("response.completed with status != completed", `${at}: status ${resp.status}`);
  // Ordering and numbering.
  events.forEach((e, i) => { if (e.sequence_number !== i) notes.add("sequence_number not 0,1,2,… within the response", `${at}: event ${i} (${e.type}) has sequence_number ${e.sequence_number}`); });
  if (events[0].type !== "response.created") notes.add("first event is not response.created", `${at}: ${events[0].type}`);
  const created = events.find((e) => e.type === "response.created");
  if (created && created.response?.id !== resp.id) notes.add("response.created and response.completed ids differ", `${at}: ${created.response?.id} vs ${resp.id}`);
  if (sentPrev !== undefined && resp.previous_response_id !== sentPrev) notes.add("response does not echo previous_response_id", `${at}: sent ${sentPrev}, got ${resp.previous_response_id}`);
  // Streamed pieces add up to the final items.
  const added = new Set(), argDeltas = {}, textDeltas = {};
  for (const e of events) {
    if (e.type === "response.output_item.added") added.add(e.item?.id);
    else if (e.type === "response.function_call_arguments.delta") {
      if (!added.has(e.item_id)) notes.add("delta before its output_item.added", `${at}: ${e.type} for ${e.item_id}`);
      argDeltas[e.item_id] = (argDeltas[e.item_id] ?? "") + e.delta;
    } else if (e.type === "response.output_text.delta") {
      if (!added.has(e.item_id)) notes.add("delta before its output_item.added", `${at}: ${e.type} for ${e.item_id}`);
      textDeltas[e.item_id] = (textDeltas[e.item_id] ?? "") + e.delta;
    }
  }
  const output = resp.output ?? [];
  const calls = output.filter((o) => o.type === "function_call");
  const texts = output.filter((o) => o.type === "message");
  const textOf = (m) => (m.content ?? []).filter((p) => p.type === "output_text").map((p) => p.text).join("");
  for (const c of calls) if (c.id in argDeltas && argDeltas[c.id] !== c.arguments) notes.add("arguments deltas do not add up to the final arguments", `${at}: item ${c.id}`);
  for (const m of texts) if (m.id in textDeltas && textDeltas[m.id] !== textOf(m)) notes.add("text deltas do not add up to the final text", `${at}: item ${m.id}`);
  if (k < N) {
    const want = trace.turns[k].call;
    if (calls.length !== 1) throw new BenchError(`expected exactly one function_call (${want.name}) in response.output, got ${calls.length} (output types: ${output.map((o) => o.type).join(",") || "none"})`, { output: clip(JSON.stringify(output), 2000) });
    const c = calls[0];
    if (c.name !== want.name) throw new BenchError(`function_call name ${c.name}, expected ${want.name}`);
    if (c.call_id !== want.call_id) throw new BenchError(`function_call call_id ${c.call_id}, expected the upstream's ${want.call_id}`);
    if (c.arguments !== want.arguments) {
      if (!sameJson(c.arguments, want.arguments)) throw new BenchError(`function_call arguments differ from the trace: ${clip(String(c.arguments), 300)}`);
      notes.add("function_call arguments re-serialized (JSON-equal, not byte-equal)", `${at}`);
    }
    if (!argDeltas[c.id] && want.arguments.length > 0) notes.add("no function_call_arguments.delta events", `${at}: item ${c.id}`);
    for (const m of texts) if (textOf(m)) notes.add("unexpected assistant text in a tool-call turn", `${at}: ${clip(textOf(m), 100)}`);
  } else {
    if (calls.length) throw new BenchError(`final turn: expected text, got function_call ${calls[0].name}`);
    const got = texts.map(textOf).join("");
    if (got !== trace.finalText) throw new BenchError(`final text differs from the trace (${got.length} chars, expected ${trace.finalText.length}): ${clip(got, 200)}`);
  }
  return { id: resp.id, usage: resp.usage ?? null };
}
function clipEvent(e) { return JSON.parse(JSON.stringify(e, (key, v) => (typeof v === "string" && v.length > 300 ? `<${v.length} chars>` : v))); }

function checkDirect(frames, k) {
  let callId = null, name = null, args = "", text = "", finish = null, usage = null;
  for (const f of frames) {
    const { data } = parseSseFrame(f);
    if (data === "[DONE]") continue;
    const c = JSON.parse(data);
    if (c.error) throw new BenchError(`upstream error chunk: ${JSON.stringify(c.error)}`);
    if (c.usage) usage = c.usage;
    for (const ch of c.choices ?? []) {
      const d = ch.delta ?? {};
      if (typeof d.content === "string") text += d.content;
      for (const tc of d.tool_calls ?? []) {
        if (tc.id) callId = tc.id;
        if (tc.function?.name) name = tc.function.name;
        if (tc.function?.arguments) args += tc.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  if (k < N) {
    const want = trace.turns[k].call;
    if (callId !== want.call_id || name !== want.name || args !== want.arguments || finish !== "tool_calls") {
      throw new BenchError(`direct: turn ${k} tool call ${callId}/${name}/${args.length} chars/${finish}, expected ${want.call_id}/${want.name}/${want.arguments.length} chars/tool_calls`);
    }
  } else if (text !== trace.finalText || finish !== "stop") {
    throw new BenchError(`direct: final text differs (${text.length} chars, finish ${finish})`);
  }
  return { usage };
}

// ---- WebSocket -------------------------------------------------------------------------------
function wsUrl() {
  const u = new URL(cfg.tether);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = "/v1/responses";
  return u.toString();
}
function openWs(deflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(), { perMessageDeflate: deflate, headers: { authorization: "Bearer bench" }, handshakeTimeout: 10000 });
    let socket = null;
    ws.on("upgrade", (res) => { socket = res.socket; });
    ws.once("open", () => resolve({ ws, socket: socket ?? ws._socket }));
    ws.once("unexpected-response", (req, res) => {
      let s = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (s += c));
      res.on("end", () => reject(new BenchError(`WebSocket upgrade refused: HTTP ${res.statusCode} ${clip(s, 600)}`, { status: res.statusCode, body: clip(s, 2000) })));
    });
    ws.once("error", (e) => reject(new BenchError(`WebSocket connect failed: ${e.message}`)));
  });
}
/** Sends one response.create and resolves {t0, tFirst, tEnd, messages} at the terminal event. */
function wsTurn(conn, frame) {
  const { ws } = conn;
  return new Promise((resolve, reject) => {
    const messages = [];
    let done = false, tFirst = null;
    const finish = (fn) => { done = true; clearTimeout(timer); ws.off("message", onMsg); ws.off("close", onClose); fn(); };
    const timer = setTimeout(() => finish(() => reject(new BenchError(`no terminal event within ${cfg.turnTimeoutMs} ms`, { last_messages: messages.slice(-3).map((m) => clip(m, 800)) }))), cfg.turnTimeoutMs);
    const onMsg = (data, isBinary) => {
      const t = performance.now();
      if (done) return;
      if (isBinary) return finish(() => reject(new BenchError("binary frame from the server (events must be text frames)")));
      const s = data.toString("utf8");
      messages.push(s);
      const m = FIRST_TYPE_RE.exec(s);
      const type = m ? m[1] : TERMINAL_RE.exec(s)?.[1];
      if (tFirst === null && type?.endsWith(".delta")) tFirst = t;
      if (type && TERMINAL.has(type)) finish(() => resolve({ t0, tFirst: tFirst ?? t, tEnd: t, messages }));
    };
    const onClose = (code, reason) => finish(() => reject(new BenchError(`WebSocket closed by the server before the terminal event (code ${code} ${reason})`, { last_messages: messages.slice(-3).map((x) => clip(x, 800)) })));
    ws.on("message", onMsg);
    ws.on("close", onClose);
    const t0 = performance.now();
    ws.send(JSON.stringify(frame));
  });
}
function closeWs(ws) {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const t = setTimeout(() => { ws.terminate(); resolve(); }, 2000);
    ws.once("close", () => { clearTimeout(t); resolve(); });
    ws.close(1000, "bench done");
  });
}

// ---- one replay ---------------------------------------------------------------------------------
async function replay(mode, notes) {
  const turnMs = [], firstMs = [], usage = [];
  const before = await control("GET", "/_bench/stats");
  await control("POST", "/_bench/reset-cache");
  const sockets = new Set();
  let agent = null, conn = null, prevId, bytesOut = 0, bytesIn = 0, extensions = null;
  const isWs = mode === "ws" || mode === "ws-deflate";
  const tStart = performance.now();
  let tLast = tStart;
  try {
    if (isWs) {
      conn = await openWs(mode === "ws-deflate");
      extensions = conn.ws.extensions || "";
      sockets.add(conn.socket);
    } else {
      agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    }
    for (let k = 0; k <= N; k++) {
      const body = bodyFor(mode, k, prevId);
      const sentPrev = mode !== "direct" && mode !== "stateless" && k > 0 ? prevId : undefined;
      try {
        if (mode === "direct") {
          const r = await postSse(cfg.upstream.replace(/\/$/, "") + "/chat/completions", agent, sockets, body, (f) => ANSWER_CHUNK_RE.test(f), (f) => f === "data: [DONE]");
          turnMs.push(r.tEnd - r.t0);
          firstMs.push(r.tFirst - r.t0);
          tLast = r.tEnd;
          usage.push(checkDirect(r.frames, k).usage);
        } else if (isWs) {
          const r = await wsTurn(conn, body);
          turnMs.push(r.tEnd - r.t0);
          firstMs.push(r.tFirst - r.t0);
          tLast = r.tEnd;
          let events;
          try { events = r.messages.map((s) => JSON.parse(s)); } catch (e) { throw new BenchError(`a WebSocket frame is not JSON: ${e.message}`, { frames: r.messages.slice(0, 3).map((s) => clip(s, 400)) }); }
          const c = checkResponses(events, k, notes, sentPrev, "WebSocket");
          prevId = c.id;
          usage.push(c.usage);
        } else {
          const r = await postSse(cfg.tether.replace(/\/$/, "") + "/v1/responses", agent, sockets, body, (f) => frameEvent(f)?.endsWith(".delta"), (f) => TERMINAL.has(frameEvent(f)));
          turnMs.push(r.tEnd - r.t0);
          firstMs.push(r.tFirst - r.t0);
          tLast = r.tEnd;
          if (!String(r.contentType).startsWith("text/event-stream")) notes.add("SSE response without Content-Type text/event-stream", `turn ${k}: ${r.contentType}`);
          const events = [];
          for (const f of r.frames) {
            const { event, data } = parseSseFrame(f);
            let e;
            try { e = JSON.parse(data); } catch (x) { throw new BenchError(`SSE data is not JSON: ${clip(data, 300)}`); }
            if (event && e.type !== event && event !== "error") notes.add("SSE event: line differs from data.type", `turn ${k}: event ${event}, type ${e.type}`);
            if (event === "error" && e.type === undefined) e.type = "error";
            events.push(e);
          }
          const c = checkResponses(events, k, notes, sentPrev, "SSE");
          prevId = c.id;
          usage.push(c.usage);
        }
      } catch (e) {
        if (e instanceof BenchError) {
          e.details = { mode, turn: k, request: summarize(body), ...e.details };
          e.message = `${mode}: turn ${k}: ${e.message}`;
        }
        throw e;
      }
    }
    for (const s of sockets) { bytesOut += s.bytesWritten; bytesIn += s.bytesRead; }
  } finally {
    if (conn) await closeWs(conn.ws);
    if (agent) agent.destroy();
  }
  const after = await control("GET", "/_bench/stats");
  const d = (k) => after[k] - before[k];
  return {
    turn_ms: turnMs,
    first_ms: firstMs,
    total_ms: tLast - tStart,
    bytes_out: bytesOut,
    bytes_in: bytesIn,
    sockets: sockets.size,
    ...(isWs ? { ws_extensions: extensions } : {}),
    upstream: { requests: d("requests"), body_bytes_in: d("body_bytes_in"), prompt_tokens: d("prompt_tokens"), cached_tokens: d("cached_tokens"), prefill_us: d("prefill_us"), context_errors: d("context_errors") },
    usage_input_tokens: usage.reduce((a, u) => a + (u?.input_tokens ?? u?.prompt_tokens ?? 0), 0),
    usage_cached_tokens: usage.reduce((a, u) => a + (u?.input_tokens_details?.cached_tokens ?? u?.prompt_tokens_details?.cached_tokens ?? 0), 0),
  };
}

// ---- main ----------------------------------------------------------------------------------------
/** Tether's threads' running time so far (threadNanos), or null without --server-pid. */
function serverCpu() {
  if (!cfg.serverPid) return null;
  const t = threadNanos(cfg.serverPid);
  if (!t) throw new Error(`cannot read /proc/${cfg.serverPid}/task (--server-pid)`);
  return t;
}

async function main() {
  const st = await control("GET", "/_bench/stats");
  if (st.seed !== cfg.seed || st.turns !== cfg.turns) throw new Error(`upstream plays seed ${st.seed} / ${st.turns} turns, replay wants ${cfg.seed} / ${cfg.turns}`);
  await control("POST", "/_bench/config", { prefill_us_per_token: cfg.prefill, prefix_cache: cfg.prefixCache });
  const result = {
    label: cfg.label, seed: cfg.seed, turns: N, requests_per_replay: N + 1,
    prefill_us_per_token: cfg.prefill, prefix_cache: cfg.prefixCache, reps: cfg.reps, warmup: cfg.warmup,
    modes: {},
  };
  const notes = {};
  for (const m of cfg.modes) { result.modes[m] = { runs: [], error: null }; notes[m] = new Notes(); }
  const live = new Set(cfg.modes);
  const runOne = async (m, measured, rep) => {
    const n = new Notes();
    try {
      const cpu = measured && m !== "direct" ? serverCpu() : null;
      const r = await replay(m, n);
      if (cpu) {
        const used = threadNanosBetween(cpu, serverCpu());
        r.server_cpu_ms = used.total / 1e6;
        r.server_jit_ms = used.jit == null ? null : used.jit / 1e6;
      }
      if (measured) { result.modes[m].runs.push(r); notes[m].merge(n); }
      const turns = [...r.turn_ms].sort((a, b) => a - b);
      log(`${cfg.label} ${measured ? "rep" : "warm-up"} ${rep} ${m.padEnd(9)} total ${r.total_ms.toFixed(1)} ms, median turn ${turns[turns.length >> 1].toFixed(2)} ms, out ${r.bytes_out} B, in ${r.bytes_in} B`);
    } catch (e) {
      live.delete(m);
      notes[m].merge(n);
      result.modes[m].error = { message: e.message, details: e.details ?? { stack: e.stack }, during: measured ? `rep ${rep}` : `warm-up ${rep}` };
      log(`${cfg.label} ${m} FAILED: ${e.message}`);
    }
  };
  for (let w = 1; w <= cfg.warmup; w++) for (const m of cfg.modes) if (live.has(m)) await runOne(m, false, w);
  for (let r = 1; r <= cfg.reps; r++) {
    const order = cfg.modes.map((_, i) => cfg.modes[(i + r - 1) % cfg.modes.length]);
    for (const m of order) if (live.has(m)) await runOne(m, true, r);
  }
  for (const m of cfg.modes) result.modes[m].notes = notes[m].toJSON();
  const json = JSON.stringify(result, null, 1);
  if (cfg.out) fs.writeFileSync(cfg.out, json);
  else process.stdout.write(json + "\n");
  return cfg.modes.some((m) => result.modes[m].error) ? 1 : 0;
}

main().then((rc) => process.exit(rc), (e) => {
  log(`fatal: ${e.stack ?? e}`);
  if (cfg.out) fs.writeFileSync(cfg.out, JSON.stringify({ label: cfg.label, error: String(e.message ?? e) }));
  process.exit(1);
});
