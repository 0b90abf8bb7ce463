-- Shared by the wrk scripts: per-thread setup, status counting, and one JSON line of results.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

ok2xx = 0
created = 0
function response(status, headers, body)
  if status >= 200 and status < 300 then ok2xx = ok2xx + 1 end
  if status == 201 then created = created + 1 end
end

function lines_of(path)
  local t = {}
  for line in io.lines(path) do table.insert(t, line) end
  return t
end

function done(summary, latency, requests)
  local ok, made = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok2xx") or 0)
    made = made + (t:get("created") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "ok2xx": %d, "created": %d, "non2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, ok, made, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

-- Each thread walks the list of `path` (an environment variable naming a file) from its own
-- offset: `rotation("BENCH_TOKENS")` in `init`, then `nxt()` per request gives the next line
-- and the request's number.
local rotating, n
function rotation(variable)
  rotating = lines_of(os.getenv(variable))
  n = id * 7919
end
function nxt()
  n = n + 1
  return rotating[(n % #rotating) + 1], n
end
