-- GET /v1/agents/N through Tollgate's built-in proxy (authenticated, unmetered), a different
-- user's token each time: the proxy's overhead over `direct`.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens, i
function init(args)
  tokens = lines_of(os.getenv("BENCH_TOKENS"))
  i = id * 7919
end
function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("GET", "/v1/agents/" .. (i % 100), { ["Authorization"] = "Bearer " .. token })
end
