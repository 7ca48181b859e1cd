// What bench.mjs and resident.mjs share: progress lines, deterministic filler text, a median, and
// one streamed Responses API turn.

export const log = (...m) => console.error(new Date().toISOString().slice(11, 19), ...m);

const POOL = ("the agent reads the file then runs the tests and reports what failed so the next " +
  "step can patch the parser before the build is retried with verbose logging enabled").split(" ");

/** n words of agent-log-like text; the same seed gives the same text. */
export function words(n, seed) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(POOL[(i * 7 + seed * 13 + Math.floor(i / 5)) % POOL.length]);
  return out.join(" ");
}

export const user = (text) => ({ role: "user", content: text });

/** The median of the finite values (nulls skipped), or null when there are none. */
export const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * POST /v1/responses with stream:true: the final response and the client-side times (ms since
 * the request was sent) of the first and last text deltas. A response.failed or error event throws.
 */
export async function streamTurn(base, body) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = "", first = null, last = null, deltas = 0, final = null;
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, at);
      buf = buf.slice(at + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (!data) continue;
      const e = JSON.parse(data);
      if (e.type === "response.output_text.delta") {
        const now = performance.now() - t0;
        if (first === null) first = now;
        last = now;
        deltas++;
      }
      if (e.type === "response.completed" || e.type === "response.incomplete") final = e.response;
      if (e.type === "response.failed" || e.type === "error") throw new Error(JSON.stringify(e));
    }
  }
  if (!final) throw new Error("stream ended without a final response");
  return { final, first, last, deltas, total: performance.now() - t0 };
}
