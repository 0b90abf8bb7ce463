-- POST /api/v1/sessions (the metered write), a different user's token on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens, i
function init(args)
  tokens = lines_of(os.getenv("BENCH_TOKENS"))
  i = id * 7919
end
function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/api/v1/sessions",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, '{"title":"bench"}')
end
