-- wrk script for the catch-up scenario: GET BENCH_PATH (e.g. /v1/stream/catchup?offset=-1).
-- Counts 200 as success and the body bytes of those responses (a server may
-- answer ?offset=-1 with only the first chunk of the stream); done() prints
-- "BENCH_JSON {...}".
local path = os.getenv("BENCH_PATH")
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")

threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, bad, badstatus, body_bytes = 0, 0, {}, 0
end

function request()
  return wrk.format("GET", path)
end

function response(status, hdrs, resp_body)
  if status == expect then
    ok = ok + 1
    body_bytes = body_bytes + #resp_body
  else
    bad = bad + 1
    local k = tostring(status)
    badstatus[k] = (badstatus[k] or 0) + 1
  end
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
