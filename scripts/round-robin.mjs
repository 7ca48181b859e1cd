// A plain HTTP load balancer for cluster tests and benchmarks: every request goes to the next
// backend in turn (per request, not per connection, so one keep-alive client still reaches every
// node), and bodies stream through both ways unbuffered (SSE, long-poll).
// Usage: node scripts/round-robin.mjs http://127.0.0.1:PORT1 http://127.0.0.1:PORT2 ...
// Prints "round-robin listening on http://127.0.0.1:PORT" once it listens.
import http from 'node:http';

const backends = process.argv.slice(2).map((u) => new URL(u));
if (backends.length === 0) {
  console.error('usage: round-robin.mjs BACKEND_URL...');
  process.exit(2);
}
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade']);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
let next = 0;

const server = http.createServer((req, res) => {
  const target = backends[next++ % backends.length];
  const headers = { ...req.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      const raw = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP.has(answer.rawHeaders[i].toLowerCase())) raw.push(answer.rawHeaders[i], answer.rawHeaders[i + 1]);
      }
      res.writeHead(answer.statusCode, answer.statusMessage, raw);
      res.flushHeaders();
      answer.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`round-robin: backend ${target.host} failed: ${e.message}\n`);
    } else {
      res.destroy();
    }
  });
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`round-robin listening on http://127.0.0.1:${server.address().port} over ${backends.length} backends`);
});
