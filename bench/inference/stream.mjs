// One streamed Responses API turn (POST /v1/responses with stream:true), shared by bench.mjs and
// resident.mjs: the final response and the client-side times (ms since the request was sent) of
// the first and last text deltas. A response.failed or error event throws.
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
