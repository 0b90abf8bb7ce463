#!/usr/bin/env bash
# Installs the localstripe emulator (PyPI, pinned) and prints the path of its executable.
exec bash "$(dirname "$0")/pip-tool.sh" localstripe 1.15.10
