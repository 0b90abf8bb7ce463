#!/usr/bin/env bash
# Fails when a workspace crate depends (normal or build dependency) on a workspace crate its layer
# may not reach (docs/architecture.md): the domain reaches nothing; the ports only the domain; the
# use cases the domain and the ports; an adapter the domain and the ports (the HTTP adapter also the
# use cases it calls), never another adapter except the shared SQL crate; only the app wires
# everything. Read from `cargo metadata`, so a new dependency is checked as
# soon as it is added.
#
# Inside each crate, no two modules name each other, directly or round a circle; inside the HTTP
# adapter, each module names only modules on its floor or below (crates/adapters/http/floors.txt).
# Read from the `use` lines and paths of the source (scripts/module-graph.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys

ALLOWED = {
    "tollgate-domain": set(),
    "tollgate-ports": {"tollgate-domain"},
    "tollgate-usecases": {"tollgate-domain", "tollgate-ports"},
    "tollgate-store-sql": {"tollgate-domain", "tollgate-ports"},
    "tollgate-store-sqlite": {"tollgate-domain", "tollgate-ports", "tollgate-store-sql"},
    "tollgate-store-postgres": {"tollgate-domain", "tollgate-ports", "tollgate-store-sql"},
    "tollgate-stripe": {"tollgate-domain", "tollgate-ports"},
    # The driving adapter calls the use cases; every other adapter implements ports only.
    "tollgate-http": {"tollgate-domain", "tollgate-ports", "tollgate-usecases"},
    "tollgate-security": {"tollgate-domain", "tollgate-ports"},
    # The contract suite runs the stores it tests.
    "tollgate-store-contract": {"tollgate-domain", "tollgate-ports", "tollgate-store-sqlite", "tollgate-store-postgres"},
    # The binary wires everything; the benchmark fixtures are a tool on top of it.
    "tollgate": None,
    "tollgate-bench": None,
}

meta = json.load(sys.stdin)
members = {p["name"] for p in meta["packages"]}
broken = []
for package in meta["packages"]:
    name = package["name"]
    if name not in ALLOWED:
        broken.append(f"{name}: a workspace crate with no layer; add it to scripts/check-layering.sh")
        continue
    allowed = ALLOWED[name]
    if allowed is None:
        continue
    for dep in package["dependencies"]:
        if dep["name"] in members and dep.get("kind") in (None, "build") and dep["name"] not in allowed:
            broken.append(name + " -> " + dep["name"])
if broken:
    print("layering rules broken:", *broken, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"layering holds for {len(members)} workspace crates")
'
for src in crates/*/src crates/adapters/*/src; do
    if [ "$src" = crates/adapters/http/src ]; then
        python3 scripts/module-graph.py "$src" --floors crates/adapters/http/floors.txt >/dev/null
    else
        python3 scripts/module-graph.py "$src" >/dev/null
    fi
done
echo "no import circles inside any crate; the HTTP adapter's floors hold"
