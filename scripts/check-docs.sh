#!/usr/bin/env bash
# The documentation a user reads stands on its own: it never points to a specification that is
# not in the repository ("SPEC §…"), and every file it names under docs/ exists.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=(README.md .env.example docs/*.md docker/README.md)
if grep -n -E 'SPEC|§[0-9]' "${files[@]}"; then
  echo "the lines above point to a document that is not in the repository" >&2
  status=1
fi
for named in $(grep -o -h -E 'docs/[A-Za-z0-9_.-]+\.(md|conf|Caddyfile|png)' "${files[@]}" | sort -u); do
  [ -e "$named" ] || { echo "named but missing: $named" >&2; status=1; }
done
exit $status
