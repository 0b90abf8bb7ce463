-- POST /api/v1/reservations, a different user each time, and POST /api/v1/reservations/{id}/commit
-- of each hold: every "request" counted by wrk is one half of a reserve + commit pair. wrk's Lua
-- state is per thread, not per connection, so the holds waiting for their commit are a queue
-- (one variable would lose a hold whenever two answers arrive before the next request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local key
local pending, first, last = {}, 1, 0
function init(args)
  rotation("BENCH_USER_IDS")
  key = lines_of(os.getenv("BENCH_SERVICE_KEY"))[1]
end
local headers = function()
  return { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
end
function request()
  if first <= last then
    local path = "/api/v1/reservations/" .. pending[first] .. "/commit"
    pending[first] = nil
    first = first + 1
    return wrk.format("POST", path, headers(), '{"runs":1}')
  end
  return wrk.format("POST", "/api/v1/reservations", headers(), '{"user_id":"' .. nxt() .. '","runs":2,"ttl_seconds":600}')
end
local count_status = response
function response(status, headers, body)
  count_status(status, headers, body)
  if status == 201 then
    last = last + 1
    pending[last] = string.match(body, '"id":"([0-9a-f%-]+)"')
  end
end
