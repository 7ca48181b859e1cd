// Renders bench.mjs's JSON as the markdown table in results/latest.md.
import { readFileSync } from "node:fs";

const [file, command, commit, engine] = process.argv.slice(2);
const r = JSON.parse(readFileSync(file, "utf8"));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(0)} ms`;
const col = (k, f) => median(r.ttft.map((row) => f(row[k])));
const out = [];
out.push(`Command: \`${command}\` at ${commit}, ${new Date().toISOString().slice(0, 16)}Z`);
out.push(`Engine: ${engine}`);
out.push("");
out.push(`Time to first token, median of ${r.reps} reps (each rep a fresh ~${r.historyWords}-word history):`);
out.push("");
out.push("| turn | prompt tokens | cached | TTFT | ratio |");
out.push("|---|---|---|---|---|");
const row = (label, k, vs) => {
  const ttft = col(k, (x) => x.ttft);
  const ratio = vs ? `**${(col(vs, (x) => x.ttft) / ttft).toFixed(1)}×** faster than ${vs}` : "";
  out.push(`| ${label} | ${col(k, (x) => x.input)} | ${col(k, (x) => x.cached)} | ${ms(ttft)} | ${ratio} |`);
};
row("turn 1 (cold, new session)", "first");
row("turn 2 warm (`previous_response_id`, resident)", "warm", "cold");
row("turn 2 recomputed cold (whole history, new session)", "cold");
row("turn 3 restored from disk (session was spilled)", "restore", "recompute");
row("turn 3 recomputed (whole history, new session)", "recompute");
out.push("");
out.push(r.coldReads
  ? "Before each restore the spill files were dropped from the OS page cache (posix_fadvise), so the restore reads from disk."
  : "The spill files could not be dropped from the page cache: restores read them from memory.");
out.push("");
out.push("Per rep (TTFT ms: warm / cold, restore / recompute):");
out.push("");
for (const [i, x] of r.ttft.entries()) {
  out.push(`- rep ${i + 1}: ${x.warm.ttft.toFixed(0)} / ${x.cold.ttft.toFixed(0)} (${(x.cold.ttft / x.warm.ttft).toFixed(1)}×), ` +
    `${x.restore.ttft.toFixed(0)} / ${x.recompute.ttft.toFixed(0)} (${(x.recompute.ttft / x.restore.ttft).toFixed(1)}×)`);
}
out.push("");
out.push(`${r.loopTurns}-turn agent loop through the Responses API (${r.output} output tokens per turn):`);
out.push("");
out.push("| mode | wall time | median TTFT | last-turn TTFT | prompt tokens evaluated / sent |");
out.push("|---|---|---|---|---|");
for (const l of r.loops) {
  out.push(`| ${l.mode} | ${(l.wall / 1000).toFixed(1)} s | ${ms(l.ttftMedian)} | ${ms(l.ttftLast)} | ${l.prefilled} / ${l.inputs} |`);
}
const [s, p] = r.loops;
out.push("");
out.push(`Pinned vs stateless: **${(s.wall / p.wall).toFixed(1)}×** less wall time, ` +
  `${(s.prefilled / p.prefilled).toFixed(1)}× fewer prompt tokens evaluated.`);
console.log(out.join("\n"));
