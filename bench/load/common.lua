-- Shared by the wrk scripts of bench/load.py: per-thread status counts, a JSON summary line.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  created, ok, other = 0, 0, 0
  math.randomseed(os.time() * 1000 + tid * 7919)
  if prepare then prepare() end
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status >= 200 and status < 300 then ok = ok + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c, o, bad = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); o = o + t:get("ok"); bad = bad + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "created": %d, "ok": %d, "bad_status": %d, "socket_errors": %d,'
    .. ' "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, c, o, bad, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
