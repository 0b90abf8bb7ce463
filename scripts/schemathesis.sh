#!/usr/bin/env bash
# Installs schemathesis (PyPI) into the repository's git-ignored virtualenv `.venv`, beside
# localstripe (their dependencies are compatible), and prints the path of its executable. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="4.32.5"
if [ ! -x .venv/bin/schemathesis ] || ! .venv/bin/pip show schemathesis 2>/dev/null | grep -q "^Version: $VERSION$"; then
  python3 -m venv .venv >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "$PWD/.venv/bin/schemathesis"
