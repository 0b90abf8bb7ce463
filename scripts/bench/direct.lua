-- GET /v1/agents/N on the proxy's upstream itself (nginx answering 200): the baseline.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local i
function init(args) i = id * 7919 end
function request()
  i = i + 1
  return wrk.format("GET", "/v1/agents/" .. (i % 100))
end
