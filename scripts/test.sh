#!/usr/bin/env bash
# The whole test suite. This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest…" >&2
  cargo install cargo-nextest --locked
fi

# Unit, property, service and HTTP tests of every crate.
cargo nextest run --workspace --all-targets --no-fail-fast "$@"
