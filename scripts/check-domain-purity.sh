#!/usr/bin/env bash
# Fails when the domain crate's normal dependency tree pulls in I/O or framework crates.
set -euo pipefail
cd "$(dirname "$0")/.."

banned='^(sqlx|sqlx-[a-z-]+|actix|actix-[a-z-]+|tokio|tokio-[a-z-]+|reqwest|hyper|hyper-[a-z-]+|mio|async-stripe|stripe-[a-z-]+)$'
deps=$(cargo tree -p tollgate-domain -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
found=$(echo "$deps" | grep -E "$banned" || true)
if [ -n "$found" ]; then
  echo "tollgate-domain must stay pure, but its dependency tree contains:" >&2
  echo "$found" >&2
  exit 1
fi
echo "tollgate-domain is pure: $(echo "$deps" | wc -l) crates, none of them I/O or framework crates"
