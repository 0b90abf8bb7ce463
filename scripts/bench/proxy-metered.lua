-- POST /v1/agents/N/run through the built-in proxy: each request holds a run, is forwarded, and
-- commits when the upstream answers.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens, i
function init(args)
  tokens = lines_of(os.getenv("BENCH_TOKENS"))
  i = id * 7919
end
function request()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/v1/agents/" .. (i % 100) .. "/run", { ["Authorization"] = "Bearer " .. token })
end
