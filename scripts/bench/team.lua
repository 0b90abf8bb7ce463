-- POST /api/v1/sessions charged to a few shared accounts: each line of BENCH_TEAM is
-- "<token> <account id>" (a member of one of the teams, each with a cap), or "<token> -" for the
-- same hot rows without accounts (a build from before them: a few users' own pools).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args) rotation("BENCH_TEAM") end
function request()
  local line = nxt()
  local token, account = line:match("^(%S+) (%S+)$")
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  if account ~= "-" then headers["X-Tollgate-Account"] = account end
  return wrk.format("POST", "/api/v1/sessions", headers, '{"title":"bench"}')
end
