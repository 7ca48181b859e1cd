// Minimal HTTP/1.1 helpers on node:http (no dependencies). Every request has a
// hard timeout so no bench loop can hang.
import http from "node:http";

export const keepAliveAgent = (maxSockets = 64) =>
  new http.Agent({ keepAlive: true, maxSockets });

/** One request; resolves {status, headers, body: Buffer}. Rejects on socket error or timeout. */
export function request(baseUrl, method, path, { headers = {}, body, agent, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, baseUrl);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Nearest-rank percentile of an ascending-sorted numeric array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Parses "--name value" flags into an object. */
export function flags(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) out[argv[i].slice(2)] = argv[i + 1], i++;
  }
  return out;
}

/** The 256-byte binary payload every append scenario uses: bytes 0..255. */
export const PAYLOAD_256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
