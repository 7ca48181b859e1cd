// Starts the Node reference Durable Streams server (@durable-streams/server,
// DurableStreamTestServer) in in-memory mode on 127.0.0.1 and logs the same
// "listening on http://127.0.0.1:PORT" line Tether logs, so run.sh treats both
// servers alike. Usage: node node-server.mjs [--port N]   (0 = pick a free port)
//
// No-op ceiling: the reference server has no no-op endpoint, so this adds
// POST /v1/noop to the *same* server object, i.e. the same process, the same
// node:http server and the same request dispatch (DurableStreamTestServer's
// createServer callback calls this.handleRequest, which we override). Like
// Tether's /v1/noop it reads the whole request body (the reference server's own
// readBody), sets the headers the reference server puts on every response, and
// answers 204 with no body. Every other request goes to the unmodified reference
// handler.
import { DurableStreamTestServer } from "@durable-streams/server";

const i = process.argv.indexOf("--port");
const port = i > 0 ? Number(process.argv[i + 1]) : 0;

class BenchServer extends DurableStreamTestServer {
  async handleRequest(req, res) {
    if (req.method === "POST" && (req.url === "/v1/noop" || req.url?.startsWith("/v1/noop?"))) {
      await this.readBody(req);
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("x-content-type-options", "nosniff");
      res.setHeader("cross-origin-resource-policy", "cross-origin");
      res.writeHead(204);
      res.end();
      return;
    }
    return super.handleRequest(req, res);
  }
}

const server = new BenchServer({
  host: "127.0.0.1",
  port,
  // No dataDir: in-memory StreamStore. Default long-poll timeout (30 s).
  // Compression off: the bench clients never send Accept-Encoding anyway; this
  // just makes explicit that bodies go out uncompressed, as Tether sends them.
  compression: false,
});

const url = await server.start();
console.log(`node-ref listening on ${url}`);

let stopping = false;
const stop = async (sig) => {
  if (stopping) return;
  stopping = true;
  console.log(`node-ref stopping (${sig})`);
  const hard = setTimeout(() => process.exit(0), 3000);
  hard.unref();
  try { await server.stop(); } catch { /* exiting anyway */ }
  process.exit(0);
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
