// Writes the inputs of Steps.java as JSON: the trace's instructions and tools (as a Responses
// request carries them) and, for each of its 25 answers, the upstream's `data:` lines as
// upstream.mjs streams them (4 characters a chunk, a usage chunk last).
//   node inputs.mjs > inputs.json
import { buildTrace, INSTRUCTIONS, TOOLS, MODEL } from "../trace.mjs";

const t = buildTrace({});
const pieces = (s, n) => { const out = []; for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n)); return out; };
const answers = [...t.turns.map((turn) => ({ kind: "tool", call: turn.call })), { kind: "text", text: t.finalText }];
const lines = answers.map((a, k) => {
  const base = (delta, finish) => ({ id: `chatcmpl-${k}`, object: "chat.completion.chunk", created: 1, model: MODEL, system_fingerprint: "fp_bench", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const frames = [];
  if (a.kind === "tool") {
    frames.push(base({ role: "assistant", content: null, tool_calls: [{ index: 0, id: a.call.call_id, type: "function", function: { name: a.call.name, arguments: "" } }], refusal: null }, null));
    for (const p of pieces(a.call.arguments, 4)) frames.push(base({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null));
    frames.push(base({}, "tool_calls"));
  } else {
    frames.push(base({ role: "assistant", content: "", refusal: null }, null));
    for (const p of pieces(a.text, 4)) frames.push(base({ content: p }, null));
    frames.push(base({}, "stop"));
  }
  frames.push({ id: `chatcmpl-${k}`, object: "chat.completion.chunk", created: 1, model: MODEL, system_fingerprint: "fp_bench", choices: [], usage: { prompt_tokens: 1000, completion_tokens: 20, total_tokens: 1020, prompt_tokens_details: { cached_tokens: 900 } } });
  return [...frames.map((f) => `data: ${JSON.stringify(f)}`), "data: [DONE]"];
});
process.stdout.write(JSON.stringify({ model: MODEL, instructions: INSTRUCTIONS, tools: TOOLS, answers: lines }));
