-- GET /api/v1/gate as Traefik or Caddy ask it: a metered original request (POST /v1/agents/N/run)
-- with a different user's token each time; every answer is a decision and a consumption.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TOKENS") end
function request()
  local token, i = nxt()
  return wrk.format("GET", "/api/v1/gate", {
    ["Authorization"] = "Bearer " .. token,
    ["X-Forwarded-Method"] = "POST",
    ["X-Forwarded-Uri"] = "/v1/agents/" .. (i % 100) .. "/run",
  })
end
