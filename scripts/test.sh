#!/usr/bin/env bash
# The whole test suite. This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest…" >&2
  cargo install cargo-nextest --locked
fi

# nginx (Debian's package) for the forward-auth gate tests.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx…" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >&2
fi

# Caddy (Debian's package) for the forward-auth gate behind Caddy's `forward_auth`.
if ! command -v caddy >/dev/null 2>&1; then
  echo "installing caddy…" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy) >&2
fi

# promtool (Debian's prometheus package) checks the /metrics exposition.
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (for promtool)…" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >&2
fi

# Headless Chromium and its WebDriver (Debian's packages) for the billing pages' browser test.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver…" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-dejavu-core) >&2
fi

# The Stripe emulator for the Stripe adapter tests (a virtualenv under the repository).
TOLLGATE_TEST_LOCALSTRIPE="$(bash scripts/localstripe.sh)"
export TOLLGATE_TEST_LOCALSTRIPE

# schemathesis (pinned) for the run of every phase and check against the OpenAPI document.
TOLLGATE_TEST_SCHEMATHESIS="$(bash scripts/schemathesis.sh)"
export TOLLGATE_TEST_SCHEMATHESIS

# Unit, property, service, store-contract (SQLite and Postgres), HTTP, emulator and schemathesis tests.
cargo nextest run --workspace --all-targets --no-fail-fast "$@"

# The HTTP API suite once more, on Postgres instead of SQLite. Required in CI; elsewhere it is
# skipped with a message when Postgres is not reachable.
if [ "${CI:-}" = "true" ] || pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  TOLLGATE_TEST_STORE=postgres cargo nextest run -p tollgate --test api --no-fail-fast "$@"
else
  echo "SKIPPED: the API suite on Postgres (no Postgres on 127.0.0.1:5432; CI=true requires it)" >&2
fi

# The fuzz targets (cargo fuzz on nightly), 30 s each from the committed seeds: a crash, a panic,
# a timeout or a leak fails the run. FUZZ_SECONDS=0 skips them (say so when you do).
if [ "${FUZZ_SECONDS:-30}" != "0" ]; then
  bash scripts/fuzz.sh
else
  echo "SKIPPED: the fuzz targets (FUZZ_SECONDS=0)" >&2
fi
