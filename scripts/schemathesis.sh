#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned; its dependencies are compatible with localstripe's in the
# same virtualenv) and prints the path of its executable.
exec bash "$(dirname "$0")/pip-tool.sh" schemathesis 4.32.5
