// The catch-up client's own ceiling: a server that does no work. It answers every GET with the
// same prebuilt body (the catch-up stream's 10,000 x 256 bytes, in one response, marked up to
// date) and every PUT/POST with 201/204, storing nothing. catchup.mjs against it measures how fast
// the client alone can go on this machine: no real server can do better with that client.
//
// Usage (pinned like run.sh: server on CPU 0, client on CPU 1):
//   taskset -c 0 node static-server.mjs PORT &
//   taskset -c 1 node catchup.mjs --url http://127.0.0.1:PORT --messages 10000 --duration 10 --warmup 5 \
//       --server-pid $! --clk-tck 100
import http from "node:http";
import { PAYLOAD_256 } from "./http.mjs";

const port = Number(process.argv[2]);
const body = Buffer.concat(Array.from({ length: 10000 }, () => PAYLOAD_256));
http.createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "stream-next-offset": "end",
      "stream-up-to-date": "true",
      "content-length": body.length,
    });
    res.end(body);
    return;
  }
  req.resume();
  req.on("end", () => { res.writeHead(req.method === "PUT" ? 201 : 204); res.end(); });
}).listen(port, "127.0.0.1");
