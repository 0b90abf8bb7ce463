-- POST /api/v1/usage/consume (the service API's metered write) with a service key, a different
-- user on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local key
function init(args)
  rotation("BENCH_USER_IDS")
  key = lines_of(os.getenv("BENCH_SERVICE_KEY"))[1]
end
function request()
  return wrk.format("POST", "/api/v1/usage/consume",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" },
    '{"user_id":"' .. nxt() .. '","runs":1,"reason":"bench"}')
end
