-- POST /api/v1/auth/register: a new account on each request (one argon2id hash each).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local n, run = 0, 0
function init(args) run = os.time() end
function request()
  n = n + 1
  return wrk.format("POST", "/api/v1/auth/register", { ["Content-Type"] = "application/json" },
    string.format('{"fullname":"Bench Signup","email":"r%d-%d-%d@bench.example","password":"bench password"}',
      run, id, n))
end
