-- POST /api/v1/usage/consume (the service API's metered write) with a service key, a different
-- user on each request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local users, key, i
function init(args)
  users = lines_of(os.getenv("BENCH_USER_IDS"))
  key = lines_of(os.getenv("BENCH_SERVICE_KEY"))[1]
  i = id * 7919
end
function request()
  i = i + 1
  local user = users[(i % #users) + 1]
  return wrk.format("POST", "/api/v1/usage/consume",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" },
    '{"user_id":"' .. user .. '","runs":1,"reason":"bench"}')
end
