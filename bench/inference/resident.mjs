// How much resident sessions slow each other down in the embedded engine. llama.cpp b4916 keeps
// one unified KV cache and every decode step attends over the whole occupied range, so a
// session's step gets slower as other sessions hold KV cells. For each K in --sessions (1,2,4,8)
// K distinct stored sessions of ~H tokens are made resident (added incrementally, never evicted),
// then one of them decodes a streamed turn of N tokens at temperature 0, --reps times per K,
// alternating which resident session is measured:
//   decode tok/s = (output tokens - 1) / (time of the last text delta - time of the first)
//   TTFT         = time to the first text delta (the history is cached: a few new tokens + 1 step)
// Every measured turn continues its session from the session's first response
// (previous_response_id), so sessions do not grow between reps: the occupancy stays K x H.
// Last, all resident sessions run one such turn at once: the aggregate tok/s.
//
// Usage: node resident.mjs BASE_URL [--sessions 1,2,4,8] [--reps 3] [--history-words N]
//   [--output N] [--bytes-per-token B] [--server-log FILE] [--kv-dir DIR] [--json FILE]
//   [--md FILE --command CMD --rev REV --size S --context C --budget B]
// Progress on stderr; the JSON result to --json FILE (or stdout), the markdown table to --md FILE.
import { log, median, streamTurn, user, words } from "./client.mjs";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const base = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const KS = [...new Set(String(opt("--sessions", "1,2,4,8")).split(",").map(Number))].sort((a, b) => a - b);
const REPS = Number(opt("--reps", 3));
const HISTORY_WORDS = Number(opt("--history-words", 390));
const OUTPUT = Number(opt("--output", 64));
const BYTES_PER_TOKEN = Number(opt("--bytes-per-token", 0));
const SERVER_LOG = opt("--server-log", null);
const KV_DIR = opt("--kv-dir", null);
const MAX_SESSIONS = 8; // EmbeddedSettings.sequences: a ninth session would evict one
if (!base || KS.some((k) => !Number.isInteger(k) || k < 1 || k > MAX_SESSIONS) || !(REPS >= 1) || !(OUTPUT >= 2)) {
  console.error(`usage: node resident.mjs BASE_URL [--sessions 1,2,4,8 (each 1..${MAX_SESSIONS})] [--reps N>=1] ` +
    "[--history-words N] [--output N>=2] ...");
  process.exit(2);
}

const INSTRUCTIONS = "You are a coding agent. Answer briefly.";

let requests = 0; // every POST /v1/responses, in order: the server logs one turn line for each

/** One streamed response, with the times of its first and last text deltas. */
async function turn(body) {
  requests++;
  const { final, first, last, deltas, total } = await streamTurn(base, {
    model: "m", store: true, temperature: 0, instructions: INSTRUCTIONS, ...body,
  });
  const output = final.usage.output_tokens;
  const span = first !== null && last > first ? last - first : null;
  return {
    request: requests,
    id: final.id,
    ttft: first ?? total,
    total,
    deltas,
    decodeMs: span,
    tokPerS: span && output >= 2 ? (output - 1) / (span / 1000) : null,
    input: final.usage.input_tokens,
    cached: final.usage.input_tokens_details.cached_tokens,
    output,
  };
}

/** Resident and spilled KV bytes from /metrics (null when unavailable). */
async function kvMetrics() {
  try {
    const res = await fetch(`${base}/metrics`);
    if (!res.ok) return null;
    const text = await res.text();
    const out = {};
    for (const m of text.matchAll(/^tether_kv_bytes\{([^}]*)\}\s+(\S+)/gm)) {
      const where = /where="([^"]*)"/.exec(m[1]);
      if (where) out[where[1]] = Number(m[2]);
    }
    if (out.resident === undefined) return null;
    return {
      residentBytes: out.resident,
      spilledBytes: out.spilled ?? 0,
      residentTokens: BYTES_PER_TOKEN > 0 ? Math.round(out.resident / BYTES_PER_TOKEN) : null,
    };
  } catch {
    return null;
  }
}

const sessions = []; // { index, root, historyTokens }
async function addSession() {
  const index = sessions.length;
  const t = await turn({ max_output_tokens: 8, input: [user(`Session ${index}. ` + words(HISTORY_WORDS, index + 1))] });
  sessions.push({ index, root: t.id, historyTokens: t.input + t.output });
  log(`session ${index} created: ${t.input} prompt tokens (+${t.output} output) in ${(t.total / 1000).toFixed(1)} s`);
}

/** A measured turn of session s: branches from its first response, so its history stays H tokens. */
function measuredTurn(s, label) {
  return turn({
    max_output_tokens: OUTPUT,
    previous_response_id: s.root,
    input: [user(`Session ${s.index}, ${label}: what should the agent do next?`)],
  });
}

const started = new Date();
log(`sessions ${KS.join(",")}, ${REPS} reps, ~${HISTORY_WORDS} words of history per session, ${OUTPUT} output tokens`);
const steps = [];
let warmup = null;
let maxSpilled = 0;
for (const K of KS) {
  while (sessions.length < K) await addSession();
  if (warmup === null) { // the first decode after start-up pays for page faults and JIT: not measured
    warmup = await measuredTurn(sessions[0], "warm-up");
    log(`warm-up turn: ${warmup.output} tokens, ${warmup.tokPerS?.toFixed(1)} tok/s, TTFT ${warmup.ttft.toFixed(0)} ms`);
  }
  const reps = [];
  for (let r = 0; r < REPS; r++) {
    const s = sessions[r % K];
    const before = await kvMetrics();
    if (before) maxSpilled = Math.max(maxSpilled, before.spilledBytes);
    const t = await measuredTurn(s, `K=${K} rep ${r}`);
    reps.push({ session: s.index, residentTokensBefore: before?.residentTokens ?? null, ...t });
    log(`K=${K} rep ${r + 1}/${REPS} (session ${s.index}, ${before?.residentTokens ?? "?"} tokens resident): ` +
      `${t.output} tokens, decode ${t.tokPerS?.toFixed(1)} tok/s, TTFT ${t.ttft.toFixed(0)} ms, ` +
      `cached ${t.cached}/${t.input}`);
  }
  const after = await kvMetrics();
  if (after) maxSpilled = Math.max(maxSpilled, after.spilledBytes);
  steps.push({
    K,
    historyTokens: sessions.slice(0, K).map((s) => s.historyTokens),
    residentTokens: median(reps.map((x) => x.residentTokensBefore)),
    tokPerS: median(reps.map((x) => x.tokPerS)),
    ttft: median(reps.map((x) => x.ttft)),
    reps,
  });
}

// Then every resident session at once: the aggregate rate, which engine groups trade against
// the per-session rate above (sessions batch only within their group).
let together = null;
if (sessions.length > 1) {
  const t0 = performance.now();
  const all = await Promise.all(sessions.map((s) => measuredTurn(s, "all at once")));
  const wallMs = performance.now() - t0;
  const tokens = all.reduce((a, x) => a + x.output, 0);
  together = { sessions: sessions.length, tokens, wallMs, tokPerS: tokens / (wallMs / 1000),
    sessionTokPerS: median(all.map((x) => x.tokPerS)), spilledBytes: (await kvMetrics())?.spilledBytes ?? null };
  if (together.spilledBytes) maxSpilled = Math.max(maxSpilled, together.spilledBytes);
  log(`all ${sessions.length} at once: ${tokens} tokens in ${(wallMs / 1000).toFixed(1)} s = ` +
    `${together.tokPerS.toFixed(1)} tok/s in all, ${together.sessionTokPerS?.toFixed(1)} tok/s per session (median)`);
}

// Was anything spilled, restored or recomputed? Checked before the sessions are deleted.
const checks = { spilledBytesMax: maxSpilled, spillFiles: null, restoredTurns: 0, recomputedTurns: 0, logLines: [] };
if (KV_DIR) checks.spillFiles = existsSync(KV_DIR) ? readdirSync(KV_DIR).filter((f) => f.endsWith(".kv")).length : 0;
for (const st of steps) {
  for (const x of st.reps) if (x.cached < x.input - 64) checks.recomputedTurns++;
}
let serverTurns = [];
if (SERVER_LOG) {
  await new Promise((r) => setTimeout(r, 300));
  const lines = readFileSync(SERVER_LOG, "utf8").split("\n");
  const re = / turn (\S+): prompt=(\d+) cached=(\d+) prefilled=(\d+) restored=(\d+) restore_ms=(\d+) ttft_ms=(-?\d+) output=(\d+) total_ms=(\d+)(.*)$/;
  for (const l of lines) {
    const m = re.exec(l);
    if (m) {
      serverTurns.push({ prompt: +m[2], cached: +m[3], restored: +m[5], ttftMs: +m[7], output: +m[8], totalMs: +m[9], rest: m[10] });
    } else if (/spill|restor|WARNING|SEVERE|ERROR/i.test(l) && !/KV cache: .* spill: /.test(l)) {
      checks.logLines.push(l);
    }
  }
  checks.restoredTurns = serverTurns.filter((t) => t.restored > 0).length;
  // The n-th turn line is the n-th request (they ran one at a time); checked by the prompt size.
  if (serverTurns.length === requests) {
    for (const st of steps) {
      for (const x of st.reps) {
        const s = serverTurns[x.request - 1];
        if (s && s.prompt === x.input && s.output === x.output && s.ttftMs >= 0 && s.totalMs > s.ttftMs && s.output >= 2) {
          x.serverTokPerS = (s.output - 1) / ((s.totalMs - s.ttftMs) / 1000);
          x.serverTtftMs = s.ttftMs;
        }
      }
      st.serverTokPerS = median(st.reps.map((x) => x.serverTokPerS ?? null));
    }
  } else {
    checks.logLines.push(`(${serverTurns.length} turn lines in the server log for ${requests} requests: not matched)`);
  }
}
const ended = await kvMetrics();
// Delete every session's first response: that forgets its KV state, so the shutdown spills nothing.
for (const s of sessions) {
  await fetch(`${base}/v1/responses/${s.root}`, { method: "DELETE" }).catch(() => {});
}
log(`done: ${requests} requests; spilled bytes max ${checks.spilledBytesMax}, spill files ${checks.spillFiles}, ` +
  `restored turns ${checks.restoredTurns}, recomputed measured turns ${checks.recomputedTurns}`);

const engine = SERVER_LOG
  ? (readFileSync(SERVER_LOG, "utf8").split("\n").find((l) => l.includes("embedded llama.cpp")) ?? "").replace(/.*EmbeddedBackend: /, "")
  : "";
const result = {
  started: started.toISOString(), sessions: KS, reps: REPS, historyWords: HISTORY_WORDS, output: OUTPUT,
  bytesPerToken: BYTES_PER_TOKEN, engine, warmup, steps, together, checks, endedKv: ended,
};
const json = JSON.stringify(result, null, 1);
const jsonOut = opt("--json", null);
if (jsonOut) writeFileSync(jsonOut, json);
else console.log(json);

const mdOut = opt("--md", null);
if (mdOut) writeFileSync(mdOut, render(result));

function render(r) {
  const n = (x, d = 0) => (x === null || x === undefined ? "n/a" : x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
  const base1 = r.steps.find((s) => s.K === 1) ?? r.steps[0];
  const hist = r.steps.at(-1).historyTokens;
  const fresh = r.steps.flatMap((s) => s.reps.map((x) => x.input - x.cached));
  const prefilled = Math.min(...fresh) === Math.max(...fresh) ? `${fresh[0]}` : `${Math.min(...fresh)}–${Math.max(...fresh)}`;
  const out = [];
  out.push(`# Resident sessions vs decode speed (embedded engine)`);
  out.push("");
  out.push(`- Date: ${r.started.slice(0, 16).replace("T", " ")} UTC`);
  out.push(`- Command: \`${opt("--command", "node resident.mjs")}\``);
  out.push(`- Git: ${opt("--rev", "?")}`);
  out.push(`- Model: ${opt("--size", "?")} shape (generated, random weights); ${r.engine || "engine line not found"}`);
  out.push(`- Server: \`--context ${opt("--context", "?")} --kv-budget ${opt("--budget", "?")}\` (room for 8 sessions of the full context: nothing is evicted)`);
  out.push(`- Each session: ~${r.historyWords} words of history = ${Math.min(...hist) === Math.max(...hist) ? hist[0] : `${Math.min(...hist)}–${Math.max(...hist)}`} tokens; ` +
    `measured turn: ${r.output} output tokens, temperature 0, streamed; median of ${r.reps} reps per K, ` +
    `alternating the measured session (rep r measures session r mod K)`);
  out.push("");
  out.push("| K resident sessions | KV cells occupied (resident tokens) | decode tok/s (median) | slowdown vs K=1 | TTFT (median) |");
  out.push("|---|---|---|---|---|");
  for (const s of r.steps) {
    const ratio = s.tokPerS && base1.tokPerS ? base1.tokPerS / s.tokPerS : null;
    const approx = s.historyTokens.reduce((a, b) => a + b, 0);
    out.push(`| ${s.K} | ${s.residentTokens !== null ? n(s.residentTokens) : `~${n(approx)}`} | ${n(s.tokPerS, 1)} | ` +
      `${ratio === null ? "n/a" : `${ratio.toFixed(2)}×`} | ${n(s.ttft)} ms |`);
  }
  out.push("");
  out.push("KV cells occupied: the resident tokens the server reports at `/metrics` (`tether_kv_bytes{where=\"resident\"}` ÷ " +
    `${r.bytesPerToken} bytes per token) just before each measured turn, median; about K × the history tokens. ` +
    "Slowdown: decode tok/s at K=1 ÷ decode tok/s at K. TTFT: the measured turn's history is cached, so it is the " +
    `prefill of its ${prefilled} new tokens (the question and the chat template's markers) plus one step.`);
  out.push("");
  if (r.together) {
    const t = r.together;
    out.push(`All ${t.sessions} sessions decoding at once (one ${r.output}-token turn each, started together): ` +
      `${n(t.tokPerS, 1)} tok/s in all (${t.tokens} tokens in ${n(t.wallMs / 1000, 1)} s), ` +
      `${n(t.sessionTokPerS, 1)} tok/s per session (median).`);
    out.push("");
  }
  out.push("Per rep (session measured: client decode tok/s, server-log decode tok/s, TTFT, output tokens, cached/prompt):");
  out.push("");
  for (const s of r.steps) {
    out.push(`- K=${s.K}: ` + s.reps.map((x) => `s${x.session}: ${n(x.tokPerS, 1)}, ${n(x.serverTokPerS ?? null, 1)}, ` +
      `${n(x.ttft)} ms, ${x.output} tok, ${x.cached}/${x.input}`).join("; "));
  }
  out.push("");
  const c = r.checks;
  const clean = c.spilledBytesMax === 0 && !c.spillFiles && c.restoredTurns === 0 && c.recomputedTurns === 0;
  out.push(clean
    ? "Residency check: no spill (0 spilled bytes at `/metrics`, no spill file), no restore, every measured turn served its history from the resident KV cache."
    : `Residency check: **spilled bytes max ${c.spilledBytesMax}, spill files ${c.spillFiles}, restored turns ${c.restoredTurns}, ` +
      `measured turns recomputed ${c.recomputedTurns}**: sessions did not all stay resident.`);
  if (c.logLines.length) {
    out.push("");
    out.push("Server log lines about spills, restores or warnings:");
    out.push("");
    for (const l of c.logLines.slice(0, 20)) out.push(`    ${l}`);
  }
  return out.join("\n") + "\n";
}
