-- wrk script: POSTs pre-generated AdmissionReview bodies (one JSON per line)
-- to /validate, each body at most once unless the file runs out, and prints
-- the percentiles wrk's --latency leaves out.
--   wrk -s admission.lua URL -- BODIES_FILE THREADS [RATE_PER_SECOND [BARRIER_PREFIX]]
-- BODIES_FILE "-" sends GET /ping instead (the ceiling). With RATE, every
-- thread paces its requests to RATE/THREADS per second (token bucket over a
-- monotonic clock); without it, each connection sends as fast as replies come.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  typedef struct { bench_timeval ru_utime; bench_timeval ru_stime; long ru_rest[14]; } bench_rusage;
  int getrusage(int who, bench_rusage *usage);
]]
local ts = ffi.new("bench_timespec")
local ru = ffi.new("bench_rusage")
local function thread_cpu_us() -- user + system time of this wrk thread (RUSAGE_THREAD)
  ffi.C.getrusage(1, ru)
  return tonumber(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + tonumber(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)
end
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

local bodies, sent, interval, next_slot = {}, 0, 0, 0
-- Globals, so that done() can read them from each thread with thread:get.
wrapped = 0
local ping
-- A start barrier. wrk starts each thread as soon as its init has run, then
-- runs the next thread's init, and starts its clock only after the last: the
-- first thread's requests while the others read their bodies would count
-- against a shorter time. Each thread marks itself ready with a file, and no
-- thread sends until every thread has.
local barrier, nthreads, started = nil, 1, false
local function all_ready()
  for i = 0, nthreads - 1 do
    local f = io.open(barrier .. i, "r")
    if not f then return false end
    f:close()
  end
  return true
end

function init(args)
  local file, rate = args[1], tonumber(args[3] or "0")
  nthreads, barrier = tonumber(args[2]), args[4]
  ping = (file == "-")
  wrk.headers["Content-Type"] = "application/json"
  -- Each request is formatted here, before the clock starts, so that sending
  -- one costs the load generator no string building.
  if ping then
    bodies[1] = wrk.format("GET", "/ping")
  else
    local i = 0
    for line in io.lines(file) do
      if i % nthreads == id then bodies[#bodies + 1] = wrk.format("POST", "/validate", nil, line) end
      i = i + 1
    end
  end
  if rate > 0 then interval = 1000 * nthreads / rate end
  if barrier then
    local f = assert(io.open(barrier .. id, "w"))
    f:close()
  end
end

-- The load generator's own CPU per request, measured in its worker threads
-- once they send (reading the bodies in init is left out): a sample every
-- 1024 requests, and the figure is the difference between the first and the
-- last. Only after `started`, which delay() sets in the worker thread: wrk
-- also calls request() once from its main thread, to look for pipelining.
cpu_first, cpu_last, n_first, n_last = 0, 0, 0, 0
local calls = 0
function request()
  if started then
    calls = calls + 1
    if calls % 1024 == 1 then
      local us = thread_cpu_us()
      if calls == 1 then cpu_first, n_first = us, calls else cpu_last, n_last = us, calls end
    end
  end
  if ping then return bodies[1] end
  sent = sent + 1
  if sent > #bodies then wrapped = wrapped + 1 end
  return bodies[(sent - 1) % #bodies + 1]
end

function delay()
  if not started then
    if barrier and not all_ready() then return 5 end
    started = true
  end
  if interval == 0 then return 0 end
  local t = now_ms()
  if next_slot < t - interval then next_slot = t end -- no catch-up burst after a stall
  local slot = next_slot
  next_slot = next_slot + interval
  return math.max(0, math.floor(slot - t + 0.5))
end

function done(summary, latency, requests)
  local reused, cpu, n = 0, 0, 0
  for _, t in ipairs(threads) do
    reused = reused + (t:get("wrapped") or 0)
    if (t:get("n_last") or 0) > 0 then
      cpu = cpu + t:get("cpu_last") - t:get("cpu_first")
      n = n + t:get("n_last") - t:get("n_first")
    end
  end
  io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.0f p50=%.3f p99=%.3f p999=%.3f max=%.3f errors=%d non2xx=%d reused=%d wrkcpu=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, reused, n > 0 and math.floor(cpu / n + 0.5) or -1))
end
