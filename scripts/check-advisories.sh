#!/usr/bin/env bash
# Fails on a dependency with a security advisory (vulnerable, unmaintained, unsound) or a yanked
# one, checked by cargo-deny against the offline RustSec database in ../shared/advisory-db (a git
# bundle; these machines cannot reach GitHub). Accepted advisories are listed, with their
# reasons, in deny.toml. Installs cargo-deny and the database copy when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DENY_VERSION=0.20.2
# The bundle: named by TOLLGATE_ADVISORY_BUNDLE, else beside the repository, else where the
# machines keep it.
BUNDLE=${TOLLGATE_ADVISORY_BUNDLE:-}
for candidate in ../shared/advisory-db/advisory-db.bundle /work/shared/advisory-db/advisory-db.bundle; do
  if [ -z "$BUNDLE" ] && [ -f "$candidate" ]; then BUNDLE=$candidate; fi
done
# Where cargo-deny keeps the database of its default URL.
DB_ROOT=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
DB=$DB_ROOT/advisory-db-3157b0e258782691

if [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$DENY_VERSION" ]; then
  echo "installing cargo-deny $DENY_VERSION…" >&2
  cargo install cargo-deny --version "$DENY_VERSION" --locked --quiet
fi
if [ ! -f "$BUNDLE" ]; then
  echo "the advisory database copy is missing (../shared/advisory-db/advisory-db.bundle; or set TOLLGATE_ADVISORY_BUNDLE)" >&2
  exit 1
fi
# The copy follows the bundle: a newer bundle replaces the clone.
want=$(git bundle list-heads "$BUNDLE" | awk 'NR==1 {print $1}')
have=$(git -C "$DB" rev-parse HEAD 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  rm -rf "$DB"
  mkdir -p "$DB_ROOT"
  git -c init.defaultBranch=main clone -q "$BUNDLE" "$DB"
fi
echo "advisory database: $(git -C "$DB" log -1 --format='%h of %cs')" >&2
cargo deny --offline --color never check advisories
