-- POST /api/v1/billing/webhook: distinct, correctly signed events; each thread takes its own slice.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local events, i, step
function init(args)
  events = lines_of(os.getenv("BENCH_EVENTS"))
  step = tonumber(os.getenv("BENCH_THREADS"))
  i = id
end
function request()
  local line = events[(i % #events) + 1]
  i = i + step
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", "/api/v1/billing/webhook",
    { ["Stripe-Signature"] = line:sub(1, tab - 1), ["Content-Type"] = "application/json" }, line:sub(tab + 1))
end
