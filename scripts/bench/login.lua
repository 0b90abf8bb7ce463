-- POST /api/v1/auth/login (one argon2id verification each), rotating over the accounts bench.sh
-- registers before this workload (login0…login63@bench.example).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local n = 0
function request()
  n = n + 1
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" },
    string.format('{"email":"login%d@bench.example","password":"bench password"}', (id * 7919 + n) % 64))
end
