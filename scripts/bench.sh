#!/usr/bin/env bash
# The benchmark harness: builds the release binary, runs each workload against tollgate on
# SQLite and then on Postgres (fresh databases), with pgbench running the metered path's SQL as
# the database ceiling and GET /health as the HTTP ceiling, and writes docs/benchmarks.md.
#
#   BENCH_DURATION=10s BENCH_CONCURRENCIES="1 16 64 256" BENCH_USERS=1000 bash scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${BENCH_DURATION:-10s}
CONCURRENCIES=${BENCH_CONCURRENCIES:-"1 16 64 256"}
USERS=${BENCH_USERS:-1000}
STORES=${BENCH_STORES:-"sqlite postgres"}
WORKLOADS=${BENCH_WORKLOADS:-"health read metered team webhook consume reserve gate direct proxy proxy-metered register login"}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
OUT=${BENCH_OUT:-docs/benchmarks.md}
PORT=${BENCH_PORT:-18080}
# pgbench clients are database connections; the server allows only so many.
PGBENCH_MAX_CLIENTS=${BENCH_PGBENCH_MAX_CLIENTS:-90}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need pgbench || ! need psql; then
  echo "installing wrk and the PostgreSQL client…" >&2
  apt-get update -qq && apt-get install -y -qq wrk postgresql-client >/dev/null
fi

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  echo "== building the release binaries" >&2
  cargo build --release -p tollgate -p tollgate-bench -q
fi
# BENCH_SERVER_BIN runs another build of the server (a before/after comparison in one run).
BIN=${BENCH_SERVER_BIN:-$ROOT/target/release/tollgate}
# BENCH_FIXTURES_BIN seeds with another build (its schema must match BENCH_SERVER_BIN's).
FIXTURES=${BENCH_FIXTURES_BIN:-$ROOT/target/release/tollgate-bench}

WORK=$(mktemp -d)
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (the proxy workloads' upstream)…" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
SERVER_PID=""
DB_NAME=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -f "$WORK/upstream/nginx.pid" ] && kill "$(cat "$WORK/upstream/nginx.pid")" 2>/dev/null || true
  [ -n "$DB_NAME" ] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export JWT_SECRET_KEY="bench-secret-bench-secret-bench-secret-0001"
export STRIPE_WEBHOOK_SECRET="whsec_bench"
export STRIPE_PRICE_ID_BASIC="price_bench_basic"
export STRIPE_PRICE_ID_PRO="price_bench_pro"
export TOLLGATE_AUTH_RATE_PER_MINUTE=0
export TOLLGATE_LISTEN="127.0.0.1:$PORT"
# Requests are counted as in production; the listener takes any free port (nothing scrapes it).
export TOLLGATE_METRICS_LISTEN="127.0.0.1:0"
# The gate and proxy workloads: an agent route metered at one run, and an nginx upstream that
# answers 200 at once (the proxy's overhead is measured against calling it directly).
UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-18099}
export TOLLGATE_METERED_ROUTES="POST /api/v1/sessions, POST /v1/agents/*/run"
export TOLLGATE_UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"
export RUST_LOG=${BENCH_RUST_LOG:-warn}
export BENCH_LUA_DIR=$ROOT/scripts/bench
export BENCH_TOKENS=$WORK/tokens
export BENCH_USER_IDS=$WORK/user_ids
export BENCH_SERVICE_KEY=$WORK/service_key
CONFIG="--config-dir $WORK"

# The upstream: nginx answering 200 "ok" to anything, one worker.
mkdir -p "$WORK/upstream"
cat > "$WORK/upstream/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/upstream/body;
  proxy_temp_path $WORK/upstream/proxy;
  fastcgi_temp_path $WORK/upstream/fastcgi;
  uwsgi_temp_path $WORK/upstream/uwsgi;
  scgi_temp_path $WORK/upstream/scgi;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
NGINX
"$(command -v nginx || echo /usr/sbin/nginx)" -c "$WORK/upstream/nginx.conf" -e "$WORK/upstream/error.log"

record() { # store workload concurrency json
  python3 - "$1" "$2" "$3" "$4" "$5" >> "$RESULTS" <<'PY'
import json, sys
store, workload, c, result, rss = sys.argv[1:6]
r = json.loads(result)
r.update(store=store, workload=workload, concurrency=int(c), peak_rss_kb=int(rss) if rss else None)
print(json.dumps(r))
PY
}

peak_rss_reset() { echo 5 > "/proc/$SERVER_PID/clear_refs" 2>/dev/null || true; }
peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

run_wrk() { # store workload concurrency
  local store=$1 workload=$2 c=$3 threads=$(( $3 < 2 ? $3 : 2 ))
  export BENCH_THREADS=$threads
  if [ "$workload" = webhook ]; then
    export BENCH_EVENTS=$WORK/events
    "$FIXTURES" events $CONFIG --customers "$WORK/customers" --start "$EVENT_START" --count 120000 --out "$BENCH_EVENTS" >/dev/null
    EVENT_START=$(( EVENT_START + 120000 ))
  fi
  peak_rss_reset
  local line
  # `direct` calls the proxy's upstream itself: the baseline of the proxy's overhead.
  local target=$PORT
  [ "$workload" = direct ] && target=$UPSTREAM_PORT
  line=$(wrk -t"$threads" -c"$c" -d"$DURATION" --timeout 10s -s "scripts/bench/$workload.lua" "http://127.0.0.1:$target" | grep '^RESULT ' | sed 's/^RESULT //')
  record "$store" "$workload" "$c" "$line" "$(peak_rss)"
  echo "   $store $workload c=$c: $line" >&2
}

for store in $STORES; do
  echo "== $store" >&2
  if [ "$store" = sqlite ]; then
    export DATABASE_URL="sqlite://$WORK/bench.db"
  else
    DB_NAME="tollgate_bench_$$"
    psql "$PG_ADMIN" -qc "CREATE DATABASE $DB_NAME" >/dev/null
    export DATABASE_URL="${PG_ADMIN%/*}/$DB_NAME"
  fi
  # The team workload: 4 organisations of 16 capped members (a build with accounts), else the same
  # 64 connections on 4 users' own pools (a build from before accounts): the hot rows either way.
  if "$FIXTURES" seed --help 2>/dev/null | grep -q -- --teams; then
    TEAM_ARGS=(--teams 4 --team-out "$WORK/team")
  else
    TEAM_ARGS=()
  fi
  "$FIXTURES" seed $CONFIG --users "$USERS" --tokens "$WORK/tokens" --customers "$WORK/customers" \
    --user-ids "$WORK/user_ids" --service-key "$WORK/service_key" "${TEAM_ARGS[@]}" >&2
  if [ ${#TEAM_ARGS[@]} -eq 0 ]; then
    head -4 "$WORK/tokens" | awk '{for (i = 0; i < 16; i++) print $0 " -"}' > "$WORK/team"
  fi
  export BENCH_TEAM="$WORK/team"
  "$BIN" serve $CONFIG > "$WORK/server-$store.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
  EVENT_START=$(( $(date +%s) % 1000 * 1000000 ))
  for workload in $WORKLOADS; do
    if [ "$workload" = login ]; then
      # The accounts login.lua signs in to, with a real password hash (the seeded users have none).
      for i in $(seq 0 63); do
        curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -H 'content-type: application/json' \
          -d "{\"fullname\":\"Bench Login\",\"email\":\"login$i@bench.example\",\"password\":\"bench password\"}" || true
      done
    fi
    for c in $CONCURRENCIES; do run_wrk "$store" "$workload" "$c"; done
    if [ "$workload" = metered ]; then
      # Correctness under load: a closed-loop burst, every status counted, against the store's deltas.
      python3 scripts/bench/check.py "$store" "$DATABASE_URL" "$PORT" "$WORK/tokens" 3200 64 >> "$WORK/checks.jsonl"
      tail -1 "$WORK/checks.jsonl" >&2
    fi
  done
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  if [ "$store" = postgres ]; then
    echo "== pgbench: the metered path's SQL" >&2
    # A build from before accounts made the user-keyed schema; its SQL is kept beside.
    PGBENCH_SCRIPT=metered.pgbench
    if [ -z "$(psql "$DATABASE_URL" -tAc "SELECT 1 FROM information_schema.columns WHERE table_name = 'subscriptions' AND column_name = 'account_id'")" ]; then
      PGBENCH_SCRIPT=metered-user-keyed.pgbench
    fi
    psql "$DATABASE_URL" -qc "CREATE TABLE bench_users AS SELECT (row_number() OVER (ORDER BY id)) - 1 AS n, id AS user_id FROM users; CREATE UNIQUE INDEX ON bench_users (n);" >/dev/null
    for c in $CONCURRENCIES; do
      clients=$(( c < PGBENCH_MAX_CLIENTS ? c : PGBENCH_MAX_CLIENTS )); jobs=$(( clients < 2 ? clients : 2 ))
      # -l: every transaction's latency (µs, third column) in a log per thread, for the p99.
      rm -f "$WORK"/pgbench_log.*
      out=$(cd "$WORK" && pgbench -n -M prepared -c "$clients" -j "$jobs" -T "${DURATION%s}" -D users="$USERS" \
        -l --log-prefix=pgbench_log -f "$ROOT/scripts/bench/$PGBENCH_SCRIPT" "$DATABASE_URL" 2>&1)
      tps=$(echo "$out" | awk '/^tps/ {print $3; exit}')
      lat=$(echo "$out" | awk '/latency average/ {print $4; exit}')
      p99=$(cat "$WORK"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; print v[i]+0}')
      record postgres pgbench "$c" "{\"tps\": $tps, \"latency_avg_ms\": $lat, \"p99_us\": $p99, \"clients\": $clients}" ""
      echo "   pgbench c=$clients: $tps tps" >&2
    done
    psql "$PG_ADMIN" -qc "DROP DATABASE $DB_NAME WITH (FORCE)" >/dev/null; DB_NAME=""
  fi
done

[ -n "${BENCH_RESULTS:-}" ] && cp "$RESULTS" "$BENCH_RESULTS"
python3 scripts/bench/report.py "$RESULTS" "$WORK/checks.jsonl" "$OUT" \
  "BENCH_DURATION=$DURATION BENCH_CONCURRENCIES=\"$CONCURRENCIES\" BENCH_USERS=$USERS bash scripts/bench.sh"
echo "== wrote $OUT" >&2
