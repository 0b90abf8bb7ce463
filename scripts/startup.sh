#!/usr/bin/env bash
# Time from exec to the first 200 from GET /ready, for docs/benchmarks.md:
#   hyperfine -N --warmup 3 --runs 30 'bash scripts/startup.sh target/release/tollgate fresh'
# `fresh`: a new SQLite file (the migrations run); `existing`: the same migrated file every time.
set -euo pipefail
BIN=${1:-target/release/tollgate}
MODE=${2:-existing}
PORT=${STARTUP_PORT:-18777}
WORK=${STARTUP_DIR:-/tmp/tollgate-startup}
mkdir -p "$WORK"
[ "$MODE" = fresh ] && rm -f "$WORK"/tollgate.db*
DATABASE_URL="sqlite://$WORK/tollgate.db" TOLLGATE_LISTEN="127.0.0.1:$PORT" TOLLGATE_METRICS_LISTEN=off \
  RUST_LOG=error "$BIN" --config-dir "$WORK" serve &
PID=$!
trap 'kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready"; do sleep 0.002; done
