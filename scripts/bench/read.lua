-- GET /api/v1/billing/subscription, a different user's token on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TOKENS") end
function request()
  return wrk.format("GET", "/api/v1/billing/subscription", { ["Authorization"] = "Bearer " .. nxt() })
end
