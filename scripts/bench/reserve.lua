-- POST /api/v1/reservations then POST /api/v1/reservations/{id}/commit on each connection, a
-- different user each time: every "request" counted by wrk is one half of a reserve + commit pair.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local key, pending
function init(args)
  rotation("BENCH_USER_IDS")
  key = lines_of(os.getenv("BENCH_SERVICE_KEY"))[1]
end
local headers = function()
  return { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
end
function request()
  if pending then
    local path = "/api/v1/reservations/" .. pending .. "/commit"
    pending = nil
    return wrk.format("POST", path, headers(), '{"runs":1}')
  end
  return wrk.format("POST", "/api/v1/reservations", headers(), '{"user_id":"' .. nxt() .. '","runs":2,"ttl_seconds":600}')
end
local count_status = response
function response(status, headers, body)
  count_status(status, headers, body)
  if status == 201 then
    pending = string.match(body, '"id":"([0-9a-f%-]+)"')
  end
end
