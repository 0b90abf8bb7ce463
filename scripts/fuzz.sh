#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets, cargo fuzz on nightly, libFuzzer with
# AddressSanitizer, debug assertions and overflow checks on) for FUZZ_SECONDS each (default 30),
# starting from the committed seeds (fuzz/corpus/<target>/seed-*). Fails on a crash, a panic, an
# input slower than FUZZ_TIMEOUT seconds (default 10), more than 2 GB, or a leak; the input that
# did it is kept under fuzz/artifacts/<target>/ and printed. New inputs a run finds go to a
# temporary folder, never into the repository.
#
#   bash scripts/fuzz.sh                          # every target, 30 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS=routed_path bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-30}
TIMEOUT=${FUZZ_TIMEOUT:-10}
TARGETS=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^tollgate-fuzz$')}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "cargo fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz…" >&2
  cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi

# Leaks a library makes on purpose are listed, with reasons, in fuzz/lsan.supp.
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

echo "== fuzz: building the targets" >&2
cargo +nightly fuzz build --debug-assertions
failed=()
for target in $TARGETS; do
  work=$(mktemp -d)
  echo "== fuzz: $target for ${SECONDS_EACH}s" >&2
  if ! cargo +nightly fuzz run --debug-assertions "$target" "$work" "fuzz/corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
      > "$work.log" 2>&1; then
    tail -n 60 "$work.log" >&2
    failed+=("$target")
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )|cov: ' "$work.log" | tail -n 3 >&2 || true
  fi
  rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi
echo "every fuzz target ran ${SECONDS_EACH}s without a crash, timeout or leak" >&2
