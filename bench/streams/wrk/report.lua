-- Shared done() hook: sums the per-thread counters kept by response() and
-- prints one machine-readable line. Latencies are wrk's, in microseconds.
function done(summary, latency, requests)
  local ok_total, bad_total, statuses, body_total = 0, 0, {}, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    body_total = body_total + (t:get("body_bytes") or 0)
    bad_total = bad_total + t:get("bad")
    for k, v in pairs(t:get("badstatus")) do statuses[k] = (statuses[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(statuses) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"body_bytes":%d,"ok":%d,"bad_status":%d,' ..
    '"bad_statuses":{%s},"wrk_non2xx3xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"lat_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, summary.bytes, body_total, ok_total, bad_total,
    table.concat(parts, ","), e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
