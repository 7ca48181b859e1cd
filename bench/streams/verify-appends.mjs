// After the append scenario: reads every append stream /v1/stream/<prefix>-1..N
// back from the start (GET ?offset=-1, following Stream-Next-Offset until
// Stream-Up-To-Date: true) and checks it holds only whole copies of the 256-byte
// payload. run.sh compares the total with the appends wrk saw acknowledged.
// Prints one JSON result line on stdout.
// Usage: node verify-appends.mjs --url URL [--count 100] [--prefix bench]
import { request, flags, keepAliveAgent, PAYLOAD_256 } from "./http.mjs";

const f = flags();
const count = Number(f.count ?? 100);
const prefix = f.prefix ?? "bench";
const agent = keepAliveAgent(1);

let storedBytes = 0, contentErrors = 0, requests = 0;
const problems = [];
try {
  for (let i = 1; i <= count; i++) {
    const path = `/v1/stream/${prefix}-${i}`;
    let offset = "-1", bytes = 0, carry = Buffer.alloc(0);
    for (let n = 0; ; n++) {
      if (n > 100000) throw new Error(`${path}: never reached Stream-Up-To-Date`);
      const r = await request(f.url, "GET", `${path}?offset=${encodeURIComponent(offset)}`, { agent, timeoutMs: 30000 });
      requests++;
      if (r.status !== 200) throw new Error(`GET ${path}?offset=${offset} -> ${r.status}`);
      // Check the content 256 bytes at a time (a response may end mid-message).
      let buf = carry.length ? Buffer.concat([carry, r.body]) : r.body;
      const whole = buf.length - (buf.length % 256);
      for (let o = 0; o < whole; o += 256) {
        if (buf.compare(PAYLOAD_256, 0, 256, o, o + 256) !== 0) contentErrors++;
      }
      carry = Buffer.from(buf.subarray(whole));
      bytes += r.body.length;
      const next = r.headers["stream-next-offset"];
      if (!next) throw new Error(`GET ${path}: no Stream-Next-Offset`);
      if (String(r.headers["stream-up-to-date"]).toLowerCase() === "true") break;
      if (next === offset && r.body.length === 0) throw new Error(`GET ${path}: no progress at offset ${offset}`);
      offset = next;
    }
    if (carry.length) { contentErrors++; problems.push(`${path}: ${carry.length} trailing bytes`); }
    storedBytes += bytes;
  }
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
  process.exit(1);
}
agent.destroy();
console.log(JSON.stringify({
  streams: count,
  stored_bytes: storedBytes,
  stored_appends: Math.floor(storedBytes / 256),
  content_errors: contentErrors,
  requests,
  problems: problems.slice(0, 5),
}));
process.exit(0);
