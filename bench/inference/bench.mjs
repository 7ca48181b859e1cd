// Measures the embedded engine through Tether's Responses API (SSE), side by side in one run:
//   1. turn-N time to first token: warm (previous_response_id, session resident) vs the same
//      history recomputed cold (sent whole, a new session);
//   2. restore from disk (the session was spilled to make room) vs recompute;
//   3. a 20-turn agent loop: stateless (whole history every turn, store:false) vs pinned
//      (previous_response_id).
// Usage: node bench.mjs BASE_URL [--reps N] [--history-words N] [--loop-turns N] [--json FILE]
// Prints progress to stderr and a JSON result to stdout (or FILE).
import { writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { log, median, streamTurn, user, words } from "./client.mjs";

const args = process.argv.slice(2);
const base = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const REPS = Number(opt("--reps", 3));
const HISTORY_WORDS = Number(opt("--history-words", 560));
const LOOP_TURNS = Number(opt("--loop-turns", 20));
const OUTPUT = 16;
const PUSH_WORDS = Number(opt("--push-words", 300));
const KV_DIR = opt("--kv-dir", null);

// Drops the spill files from the OS page cache (posix_fadvise DONTNEED), so a restore reads
// them from disk as it would after a while, not from memory written seconds earlier.
let coldReads = false;
function evictSpillsFromPageCache() {
  if (!KV_DIR) return;
  const py = "import os,glob,sys\nfor f in glob.glob(sys.argv[1]+'/*.kv'):\n" +
    "  fd=os.open(f,os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)";
  try {
    execFileSync("python3", ["-c", py, KV_DIR]);
    coldReads = true;
  } catch (e) {
    log(`could not evict spill files from the page cache (${e.message}); restores read from memory`);
  }
}


/** One streamed response: time to the first text delta, total time, and the final response. */
async function turn(body) {
  const { final, first, total } = await streamTurn(base, { model: "m", temperature: 0, max_output_tokens: OUTPUT, ...body });
  const text = final.output.flatMap((o) => o.content ?? []).map((c) => c.text ?? "").join("");
  return {
    ttft: first ?? total,
    total,
    id: final.id,
    text,
    input: final.usage.input_tokens,
    cached: final.usage.input_tokens_details.cached_tokens,
  };
}

const assistant = (text) => ({ role: "assistant", content: text });

// The server's KV budget holds one session of this size, not two: every measured turn runs with
// no other session resident (llama.cpp b4916 attends over all occupied cells, so a second
// resident session would slow a cold prefill down and flatter the ratios). Unmeasured "push"
// requests move sessions out in between; they pay for any spill to disk.
async function push(instructions, seed) {
  await turn({ instructions, store: false, max_output_tokens: 1, input: [user(words(PUSH_WORDS, seed))] });
}

async function ttftPhase() {
  const rows = [];
  for (let r = 0; r < REPS; r++) {
    const history = words(HISTORY_WORDS, r);
    const instructions = "You are a coding agent. Answer briefly.";
    const t1 = await turn({ instructions, input: [user(history)] });
    const ask2 = `Step ${r}: what next?`;
    const warm = await turn({ instructions, previous_response_id: t1.id, input: [user(ask2)] });
    const full2 = [user(history), assistant(t1.text), user(ask2)];
    await push(instructions, 100 + r); // spills the stored session to disk
    const cold = await turn({ instructions, store: false, input: full2 }); // the same history, recomputed
    const ask3 = `Step ${r}: and after that?`;
    evictSpillsFromPageCache();
    const restore = await turn({ instructions, previous_response_id: warm.id, input: [user(ask3)] });
    await push(instructions, 200 + r); // spills it again, so the recompute runs alone
    const recompute = await turn({
      instructions, store: false, input: [...full2, assistant(warm.text), user(ask3)],
    });
    rows.push({ first: t1, warm, cold, restore, recompute });
    log(`rep ${r + 1}/${REPS}: cold ${t1.input} tok ${t1.ttft.toFixed(0)} ms | warm ${warm.ttft.toFixed(0)} ms ` +
      `(cached ${warm.cached}/${warm.input}) vs recomputed ${cold.ttft.toFixed(0)} ms | restore ` +
      `${restore.ttft.toFixed(0)} ms (cached ${restore.cached}/${restore.input}) vs recompute ` +
      `${recompute.ttft.toFixed(0)} ms`);
  }
  return rows;
}

async function agentLoop(mode) {
  const instructions = "You are a coding agent working in a repository. " + words(60, 99);
  const items = [];
  let previous = null, wall = 0, ttfts = [], prefilled = 0, cachedSum = 0, inputs = 0;
  const t0 = performance.now();
  for (let i = 0; i < LOOP_TURNS; i++) {
    const observation = user(`Tool output for step ${i}: ` + words(20, i + 7));
    const body = mode === "pinned"
      ? { instructions, input: [observation], ...(previous ? { previous_response_id: previous } : {}) }
      : { instructions, store: false, input: [...items, observation] };
    const t = await turn(body);
    items.push(observation, assistant(t.text));
    previous = t.id;
    ttfts.push(t.ttft);
    prefilled += t.input - t.cached;
    cachedSum += t.cached;
    inputs += t.input;
  }
  wall = performance.now() - t0;
  log(`agent loop ${mode}: ${LOOP_TURNS} turns in ${(wall / 1000).toFixed(1)} s, prefilled ${prefilled} of ${inputs} tokens`);
  return { mode, wall, ttftMedian: median(ttfts), ttftLast: ttfts.at(-1), prefilled, cached: cachedSum, inputs };
}

log(`phase 1+2: ${REPS} reps at ~${HISTORY_WORDS} words of history`);
const ttft = await ttftPhase();
log(`phase 3: ${LOOP_TURNS}-turn agent loop, stateless then pinned`);
const stateless = await agentLoop("stateless");
const pinned = await agentLoop("pinned");
const result = { coldReads, reps: REPS, historyWords: HISTORY_WORDS, loopTurns: LOOP_TURNS, output: OUTPUT, ttft, loops: [stateless, pinned] };
const json = JSON.stringify(result, null, 1);
const out = opt("--json", null);
if (out) writeFileSync(out, json);
else console.log(json);
