# Tollgate's everyday commands. `just --list` shows them.

# Run the server on the embedded SQLite default.
run:
    cargo run

# Run the whole test suite (the same command CI runs).
test:
    bash scripts/test.sh

# Format the code.
fmt:
    cargo fmt --all

# Lints as CI runs them, plus the domain purity check.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash scripts/check-domain-purity.sh
    bash scripts/check-layering.sh
    bash scripts/check-licenses.sh

# Everything CI does.
ci:
    bash .ci/run

# The benchmark harness; writes docs/benchmarks.md.
bench:
    bash scripts/bench.sh
