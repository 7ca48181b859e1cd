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
// WebSocket upgrades go to the next backend too; after the 101 the two sockets are spliced.
server.on('upgrade', (req, socket, head) => {
  const target = backends[next++ % backends.length];
  const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers });
  const fail = () => { socket.destroy(); upstream.destroy(); };
  socket.on('error', fail);
  upstream.on('error', fail);
  upstream.on('upgrade', (answer, backend, backendHead) => {
    let head101 = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
    for (let i = 0; i < answer.rawHeaders.length; i += 2) head101 += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
    socket.write(head101 + '\r\n');
    if (backendHead.length) socket.write(backendHead);
    if (head.length) backend.write(head);
    backend.on('error', fail);
    backend.pipe(socket).pipe(backend);
  });
  upstream.on('response', (answer) => { // the upgrade was refused: pass the refusal on
    const body = [];
    answer.on('data', (c) => body.push(c));
    answer.on('end', () => {
      const data = Buffer.concat(body);
      let out = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        const name = answer.rawHeaders[i].toLowerCase();
        if (name !== 'transfer-encoding' && name !== 'content-length' && name !== 'connection') {
          out += `${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}\r\n`;
        }
      }
      socket.end(out + `content-length: ${data.length}\r\nconnection: close\r\n\r\n` + data.toString('latin1'), 'latin1');
    });
  });
  upstream.end();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`round-robin listening on http://127.0.0.1:${server.address().port} over ${backends.length} backends`);
});
