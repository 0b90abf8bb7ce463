#!/usr/bin/env bash
# Installs the localstripe emulator (PyPI) into the repository's git-ignored virtualenv `.venv`
# and prints the path of its executable. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="1.15.10"
if [ ! -x .venv/bin/localstripe ] || ! .venv/bin/pip show localstripe 2>/dev/null | grep -q "^Version: $VERSION$"; then
  python3 -m venv .venv >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "localstripe==$VERSION" >&2
fi
echo "$PWD/.venv/bin/localstripe"
