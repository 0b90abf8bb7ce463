-- GET /v1/agents/N through Tollgate's built-in proxy (authenticated, unmetered), a different
-- user's token each time: the proxy's overhead over `direct`.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TOKENS") end
function request()
  local token, i = nxt()
  return wrk.format("GET", "/v1/agents/" .. (i % 100), { ["Authorization"] = "Bearer " .. token })
end
