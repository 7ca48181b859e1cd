// SSE fan-out: one application/json stream, N SSE subscribers
// (GET ?offset=now&live=sse), one writer appending {"seq":n,"t":<ms>} at a fixed
// rate. Delivery latency per (subscriber, event) = receive time - send time, both
// from performance.now() in this one process. Checks every subscriber saw every
// seq exactly once and in order. Prints one JSON result line on stdout.
// The first --warmup seconds of events are delivered and checked like the rest
// but their latencies are not recorded (cold JIT on either server).
//
// With --server-pid PID --clk-tck HZ it also reports the server's CPU time while the
// measured (post-warm-up) events are written (server_cpu) and its own (load_cpu), see cpu.mjs.
//
// Usage: node sse-fanout.mjs --url URL [--subscribers 100] [--rate 50] [--duration 10] [--warmup 0]
//                            [--server-pid PID --clk-tck HZ]
import { flags, percentile, keepAliveAgent } from "./http.mjs";
import { cpuWindow } from "./cpu.mjs";
import { fanoutParams, Subscriber, createJsonStreamOrExit, connectAll, appendAtRate, drainAndClose } from "./sse-subscriber.mjs";

const f = flags();
const baseUrl = f.url;
const params = fanoutParams(f);
const { nSubs, rate, nWarm, nEvents } = params;
const streamPath = `/v1/stream/sse-fanout-${Date.now()}`;

const log = (...a) => console.error("[sse]", ...a);
// Time this process spends inside subscribers' data handlers (see Subscriber).
const busy = { ms: 0 };

const agent = keepAliveAgent(2);
await createJsonStreamOrExit(baseUrl, streamPath, agent);

const subs = Array.from({ length: nSubs }, (_, i) => new Subscriber(i, baseUrl, { streamPath, nEvents, nWarm, busy }));
const { connected, timedOut } = await connectAll(subs);
log(`${connected}/${nSubs} subscribers connected${timedOut ? " (timed out waiting)" : ""}`);

// The CPU window opens when event nWarm (the first measured one) is due: the writer
// schedules event n at its start + n / rate.
const cpu = cpuWindow(f, "SSE writer + subscribers (node)");
const cpuTimer = setTimeout(() => cpu.begin(), (nWarm * 1000) / rate);
const { sent, writeErrors, writeLat, writeSeconds } = await appendAtRate(baseUrl, streamPath, { nEvents, rate, agent });
clearTimeout(cpuTimer); // fired long ago unless the writer fell far behind
const { server_cpu, load_cpu } = cpu.end();
await drainAndClose(subs, params);
agent.destroy();

const all = [];
let received = 0, duplicates = 0, outOfOrder = 0, parseErrors = 0, reconnects = 0, subsComplete = 0;
for (const s of subs) {
  for (const l of s.latencies) all.push(l);
  received += s.received;
  duplicates += s.duplicates;
  outOfOrder += s.outOfOrder;
  parseErrors += s.parseErrors;
  reconnects += s.reconnects;
  if (s.received === nEvents && s.outOfOrder === 0 && s.duplicates === 0) subsComplete++;
}
all.sort((a, b) => a - b);
writeLat.sort((a, b) => a - b);
const expected = nSubs * nEvents;
const result = {
  subscribers: nSubs,
  connected,
  events: nEvents,
  warmup_events: nWarm,
  latency_samples: all.length,
  events_acked: sent,
  write_errors: writeErrors,
  write_rate: sent / writeSeconds,
  expected_deliveries: expected,
  received,
  lost: expected - received,
  duplicates,
  out_of_order: outOfOrder,
  parse_errors: parseErrors,
  reconnects,
  subscribers_complete: subsComplete,
  lat_ms: { p50: percentile(all, 50), p99: percentile(all, 99), max: all.length ? all[all.length - 1] : null },
  append_lat_ms: { p50: percentile(writeLat, 50), p99: percentile(writeLat, 99) },
  client_handler_ms_per_event: busy.ms / nEvents,
  server_cpu,
  load_cpu,
};
console.log(JSON.stringify(result));
process.exit(0);
