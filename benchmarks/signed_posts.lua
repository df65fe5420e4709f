-- wrk script: POST pre-signed, distinct webhooks, each thread its own slice.
--
-- benchmarks/wrk.py writes the requests, one per line ("<signature>\t<body>"), to
-- WRK_REQUESTS/<thread>.txt and reads the JSON line that done() prints. Each request
-- is sent once (a repeat would be a duplicate, answered 200, not 202) unless
-- WRK_CYCLE=1; a thread that runs out stops and says so. WRK_RATE (requests a second
-- per thread) paces the thread: each request takes the next slot of a fixed schedule,
-- late ones go at once, so the rate holds while the server keeps up. Every answer's
-- status is counted, so the caller can check that each one was 202.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])

local FOLDER = os.getenv("WRK_REQUESTS")
local RATE = tonumber(os.getenv("WRK_RATE") or "0")
local CYCLE = os.getenv("WRK_CYCLE") == "1"
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  requests, sent, exhausted, statuses = {}, 0, 0, {}
  for line in io.lines(FOLDER .. "/" .. index .. ".txt") do
    local tab = line:find("\t", 1, true)
    local headers = {
      ["Content-Type"] = "application/json",
      ["X-Loop-Signature"] = line:sub(1, tab - 1),
    }
    requests[#requests + 1] = wrk.format("POST", nil, headers, line:sub(tab + 1))
  end
end

function request()
  if sent >= #requests then
    if not CYCLE then
      exhausted = 1
      wrk.thread:stop()
    end
    sent = 0
  end
  sent = sent + 1
  return requests[sent]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local function now_ms()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

if RATE > 0 then
  local interval, slot = 1000 / RATE, nil
  function delay()
    local now = now_ms()
    slot = slot or now
    local mine = slot
    slot = slot + interval
    return math.max(0, mine - now)
  end
end

function done(summary, latency, requests)
  local statuses, exhausted = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      statuses[status] = (statuses[status] or 0) + count
    end
    exhausted = exhausted + thread:get("exhausted")
  end
  local parts = {}
  for status, count in pairs(statuses) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %f, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"threads_out_of_requests": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout, exhausted
  ))
end
