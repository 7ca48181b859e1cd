// SSE delivery latency across cluster nodes: one application/json stream, created on the writer's
// node; N SSE subscribers (GET ?offset=now&live=sse), subscriber i on --subs[i % len]; one writer
// appending {"seq":n,"t":<performance.now()>} at a fixed rate to --writer. Delivery latency per
// (subscriber, event) = receive time - t, both from performance.now() in this one process. Reports
// all subscribers together, per node, and split into "same node as the writer" and "other node"
// (cross-node). Checks every subscriber saw every seq exactly once and in order. The first
// --warmup seconds of events are delivered and checked like the rest, but their latency is not
// recorded. Prints one JSON result line on stdout.
//
// Usage: node sse.mjs --writer URL --subs URL[,URL...] [--subscribers 100] [--rate 50]
//                     [--duration 10] [--warmup 0] [--name prefix]
import { flags, percentile, keepAliveAgent } from "../streams/http.mjs";
import { fanoutParams, Subscriber, createJsonStreamOrExit, connectAll, appendAtRate, drainAndClose }
  from "../streams/sse-subscriber.mjs";

const f = flags();
const writerUrl = f.writer;
const subUrls = String(f.subs ?? "").split(",").filter(Boolean);
if (!writerUrl || subUrls.length === 0) {
  console.error("usage: sse.mjs --writer URL --subs URL[,URL...] [--subscribers N] [--rate R] [--duration S] [--warmup S]");
  process.exit(2);
}
const params = fanoutParams(f);
const { nSubs, rate, nWarm, nEvents } = params;
const streamPath = `/v1/stream/${f.name ?? "cluster-sse"}-${Date.now()}`;

const log = (...a) => console.error("[sse]", ...a);
// Time spent in subscribers' data handlers: all subscribers share this event loop, so a receive
// timestamp can be late by the other handlers' time (a client-side floor under the p99).
const busy = { ms: 0 };

const agent = keepAliveAgent(2);
await createJsonStreamOrExit(writerUrl, streamPath, agent);

const subs = Array.from({ length: nSubs },
  (_, i) => new Subscriber(i, subUrls[i % subUrls.length], { streamPath, nEvents, nWarm, busy }));
const { connected, timedOut } = await connectAll(subs);
log(`${connected}/${nSubs} subscribers connected over ${subUrls.length} node(s)${timedOut ? " (timed out waiting)" : ""}`);

const { sent, writeErrors, writeLat, writeSeconds } = await appendAtRate(writerUrl, streamPath, { nEvents, rate, agent });
await drainAndClose(subs, params);
agent.destroy();

const stats = (list) => {
  const lat = [];
  for (const s of list) for (const l of s.latencies) lat.push(l);
  lat.sort((a, b) => a - b);
  return {
    subscribers: list.length,
    samples: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.length ? lat[lat.length - 1] : null,
    lost: list.length * nEvents - list.reduce((a, s) => a + s.received, 0),
  };
};
const byNode = {};
for (const u of subUrls) byNode[u] = stats(subs.filter((s) => s.url === u));
writeLat.sort((a, b) => a - b);
const sum = (k) => subs.reduce((a, s) => a + s[k], 0);
const received = sum("received");
console.log(JSON.stringify({
  writer: writerUrl,
  subscribers: nSubs,
  connected,
  events: nEvents,
  warmup_events: nWarm,
  events_acked: sent,
  write_errors: writeErrors,
  write_rate: sent / writeSeconds,
  expected_deliveries: nSubs * nEvents,
  received,
  lost: nSubs * nEvents - received,
  duplicates: sum("duplicates"),
  out_of_order: sum("outOfOrder"),
  parse_errors: sum("parseErrors"),
  reconnects: sum("reconnects"),
  subscribers_complete: subs.filter((s) => s.received === nEvents && !s.outOfOrder && !s.duplicates).length,
  all: stats(subs),
  same_node: stats(subs.filter((s) => s.url === writerUrl)),
  cross_node: stats(subs.filter((s) => s.url !== writerUrl)),
  by_node: byNode,
  append_lat_ms: { p50: percentile(writeLat, 50), p99: percentile(writeLat, 99) },
  client_handler_ms_per_event: busy.ms / nEvents,
}));
process.exit(0);
