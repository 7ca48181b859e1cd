#!/usr/bin/env node
// Where a mode's overhead per turn comes from: a fixed cost per turn, or the answer's length.
// Reads the overhead phase of a run (raw/overhead.json, next to the report run.sh wrote), takes
// each turn's median over the measured replays, and prints per turn: the answer's chunks, direct's
// turn time (it grows with the context the upstream parses) and each mode's overhead over direct.
// Then it fits, per mode, overhead = fixed + per_chunk * chunks + per_direct_ms * direct (least
// squares over the turns): the fixed part is what every turn pays, the per-chunk part what each
// streamed chunk of the answer adds on the way through Tether.
//
// Usage: node bench/responses/per-turn.mjs [RAW_DIR] [--chunk-chars N]
//   RAW_DIR: the raw/ directory of a run (default: bench/responses/results/raw)
//   --chunk-chars: what the run's upstream used (default 4, run.sh's default)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTrace } from "./trace.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let raw = join(here, "results", "raw");
let chunkChars = 4;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--chunk-chars") chunkChars = Number(args[++i]);
  else raw = args[i];
}
if (!(chunkChars >= 1)) throw new Error("--chunk-chars must be a positive number");

const run = JSON.parse(readFileSync(join(raw, "overhead.json"), "utf8"));
if (run.error) throw new Error(`the overhead phase failed: ${run.error}`);
const trace = buildTrace({ seed: run.seed, turns: run.turns });
const answer = (k) => (k < trace.turns.length ? trace.turns[k].call.arguments : trace.finalText);
const chunks = Array.from({ length: run.requests_per_replay }, (_, k) => Math.ceil(answer(k).length / chunkChars));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const perTurn = (mode) => {
  const runs = run.modes[mode]?.runs ?? [];
  if (runs.length === 0) return null;
  return chunks.map((_, k) => median(runs.map((r) => r.turn_ms[k])));
};
const direct = perTurn("direct");
if (!direct) throw new Error("the run has no direct mode: overheads need it");
const modes = Object.keys(run.modes).filter((m) => m !== "direct" && perTurn(m));

// Least squares for y = X b with three columns, by the normal equations (3x3, Cramer's rule).
function fit(rows, ys) {
  const a = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const v = [0, 0, 0];
  rows.forEach((x, i) => {
    for (let r = 0; r < 3; r++) {
      v[r] += x[r] * ys[i];
      for (let c = 0; c < 3; c++) a[r][c] += x[r] * x[c];
    }
  });
  const det = (m) =>
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const d = det(a);
  if (Math.abs(d) < 1e-12) return null;
  return [0, 1, 2].map((c) => det(a.map((row, r) => row.map((x, j) => (j === c ? v[r] : x)))) / d);
}

console.log(`Overhead phase of ${raw}: ${run.reps} measured replays per mode after ${run.warmup} warm-up; medians per turn, ms`);
console.log(["turn", "chunks", "direct", ...modes].join("\t"));
const overheads = Object.fromEntries(modes.map((m) => [m, perTurn(m).map((t, k) => t - direct[k])]));
chunks.forEach((n, k) => {
  console.log([k, n, direct[k].toFixed(2), ...modes.map((m) => overheads[m][k].toFixed(2))].join("\t"));
});
console.log("\nFit per mode: overhead = fixed + per chunk x chunks + per direct ms x direct");
for (const m of modes) {
  const b = fit(chunks.map((n, k) => [1, n, direct[k]]), overheads[m]);
  if (!b) {
    console.log(`${m}: no fit (the turns do not vary enough)`);
    continue;
  }
  console.log(`${m}: fixed ${b[0].toFixed(3)} ms, ${(b[1] * 1000).toFixed(1)} us per chunk, ${b[2].toFixed(3)} ms per ms of direct; median overhead ${median(overheads[m]).toFixed(3)} ms`);
}
