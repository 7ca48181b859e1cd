// Starts the Node reference Durable Streams server (@durable-streams/server,
// DurableStreamTestServer) in in-memory mode on 127.0.0.1 and logs the same
// "listening on http://127.0.0.1:PORT" line Tether logs, so run.sh treats both
// servers alike. Usage: node node-server.mjs [--port N]   (0 = pick a free port)
import { DurableStreamTestServer } from "@durable-streams/server";

const i = process.argv.indexOf("--port");
const port = i > 0 ? Number(process.argv[i + 1]) : 0;

const server = new DurableStreamTestServer({
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
