-- wrk script for the append and no-op scenarios.
-- Env: BENCH_STREAMS  >0: rotate POSTs over /v1/stream/bench-1..N (append scenario)
--                     0 : POST every request to BENCH_PATH (no-op scenario)
--      BENCH_PATH     fixed path when BENCH_STREAMS=0 (default /v1/noop)
--      BENCH_EXPECT   the status counted as success (default 204)
-- Body: 256 bytes 0x00..0xFF, Content-Type application/octet-stream.
-- done() prints one line "BENCH_JSON {...}" that run.sh collects.

local nstreams = tonumber(os.getenv("BENCH_STREAMS") or "100")
local fixed_path = os.getenv("BENCH_PATH") or "/v1/noop"
local expect = tonumber(os.getenv("BENCH_EXPECT") or "204")

local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local body = table.concat(bytes)
local headers = { ["Content-Type"] = "application/octet-stream" }

threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, bad, badstatus = 0, 0, {}
  -- Threads start at different streams so -t>1 still spreads the load.
  counter = tid * 7
end

function request()
  local path = fixed_path
  if nstreams > 0 then
    counter = counter % nstreams + 1
    path = "/v1/stream/bench-" .. counter
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, resp_body)
  if status == expect then
    ok = ok + 1
  else
    bad = bad + 1
    local k = tostring(status)
    badstatus[k] = (badstatus[k] or 0) + 1
  end
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
