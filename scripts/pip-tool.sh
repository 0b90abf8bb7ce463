#!/usr/bin/env bash
# Installs PACKAGE==VERSION (PyPI) into the repository's git-ignored virtualenv `.venv`, unless
# that version is already there, and prints the path of its executable COMMAND. Idempotent.
#   bash scripts/pip-tool.sh PACKAGE VERSION [COMMAND]
set -euo pipefail
cd "$(dirname "$0")/.."
package=$1 version=$2 command=${3:-$1}
if [ ! -x ".venv/bin/$command" ] || ! .venv/bin/pip show "$package" 2>/dev/null | grep -q "^Version: $version$"; then
  python3 -m venv .venv >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "$package==$version" >&2
fi
echo "$PWD/.venv/bin/$command"
