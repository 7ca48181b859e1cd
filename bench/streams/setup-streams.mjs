// Creates the append-scenario streams /v1/stream/<prefix>-1..N
// (application/octet-stream). Exits non-zero unless every PUT answers 201/200.
// Usage: node setup-streams.mjs --url http://127.0.0.1:PORT --count 100 [--prefix bench]
import { request, flags, keepAliveAgent } from "./http.mjs";

const f = flags();
const count = Number(f.count ?? 100);
const prefix = f.prefix ?? "bench";
const agent = keepAliveAgent(8);
const bad = [];
for (let i = 1; i <= count; i++) {
  const r = await request(f.url, "PUT", `/v1/stream/${prefix}-${i}`, {
    headers: { "content-type": "application/octet-stream" }, agent, timeoutMs: 10000,
  });
  if (r.status !== 201 && r.status !== 200) bad.push(`${prefix}-${i}: ${r.status}`);
}
agent.destroy();
if (bad.length) {
  console.error(`stream setup failed: ${bad.slice(0, 5).join(", ")}`);
  process.exit(1);
}
console.error(`created ${count} streams ${prefix}-1..${prefix}-${count}`);
