-- wrk script: POSTs pre-generated AdmissionReview bodies (one JSON per line)
-- to /validate, each body at most once unless the file runs out, and prints
-- the percentiles wrk's --latency leaves out.
--   wrk -s admission.lua URL -- BODIES_FILE THREADS [RATE_PER_SECOND]
-- BODIES_FILE "-" sends GET /ping instead (the ceiling). With RATE, every
-- thread paces its requests to RATE/THREADS per second (token bucket over a
-- monotonic clock); without it, each connection sends as fast as replies come.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local bodies, sent, wrapped, interval, next_slot = {}, 0, 0, 0, 0
local ping
function init(args)
  local file, nthreads, rate = args[1], tonumber(args[2]), tonumber(args[3] or "0")
  ping = (file == "-")
  if not ping then
    local i = 0
    for line in io.lines(file) do
      if i % nthreads == id then bodies[#bodies + 1] = line end
      i = i + 1
    end
  end
  if rate > 0 then interval = 1000 * nthreads / rate end
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if ping then return wrk.format("GET", "/ping") end
  sent = sent + 1
  if sent > #bodies then wrapped = wrapped + 1 end
  return wrk.format("POST", "/validate", nil, bodies[(sent - 1) % #bodies + 1])
end

function delay()
  if interval == 0 then return 0 end
  local t = now_ms()
  if next_slot < t - interval then next_slot = t end -- no catch-up burst after a stall
  local slot = next_slot
  next_slot = next_slot + interval
  return math.max(0, math.floor(slot - t + 0.5))
end

function done(summary, latency, requests)
  local reused = 0
  for _, t in ipairs(threads) do reused = reused + (t:get("wrapped") or 0) end
  io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.0f p50=%.3f p99=%.3f p999=%.3f max=%.3f errors=%d non2xx=%d reused=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, reused))
end
