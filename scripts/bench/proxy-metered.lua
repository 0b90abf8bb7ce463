-- POST /v1/agents/N/run through the built-in proxy: each request holds a run, is forwarded, and
-- commits when the upstream answers.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TOKENS") end
function request()
  local token, i = nxt()
  return wrk.format("POST", "/v1/agents/" .. (i % 100) .. "/run", { ["Authorization"] = "Bearer " .. token })
end
