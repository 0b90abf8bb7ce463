-- GET /api/v1/billing/subscription, a different user's token on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens, i
function init(args)
  tokens = lines_of(os.getenv("BENCH_TOKENS"))
  i = id * 7919
end
function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("GET", "/api/v1/billing/subscription", { ["Authorization"] = "Bearer " .. token })
end
