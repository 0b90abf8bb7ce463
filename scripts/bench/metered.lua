-- POST /api/v1/sessions (the metered write), a different user's token on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TOKENS") end
function request()
  return wrk.format("POST", "/api/v1/sessions",
    { ["Authorization"] = "Bearer " .. nxt(), ["Content-Type"] = "application/json" }, '{"title":"bench"}')
end
