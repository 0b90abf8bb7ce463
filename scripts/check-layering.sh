#!/usr/bin/env bash
# Fails when a workspace crate depends (normal or build dependency) on a workspace crate its layer
# may not reach (SPEC §1, docs/architecture.md): the domain reaches nothing; the ports only the
# domain; an adapter the domain and the ports, never another adapter except the shared SQL crate;
# only the app wires everything. Read from `cargo metadata`, so a new dependency is checked as
# soon as it is added.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys

ALLOWED = {
    "tollgate-domain": set(),
    "tollgate-ports": {"tollgate-domain"},
    "tollgate-store-sql": {"tollgate-domain", "tollgate-ports"},
    "tollgate-store-sqlite": {"tollgate-domain", "tollgate-ports", "tollgate-store-sql"},
    "tollgate-store-postgres": {"tollgate-domain", "tollgate-ports", "tollgate-store-sql"},
    "tollgate-stripe": {"tollgate-domain", "tollgate-ports"},
    "tollgate-http": {"tollgate-domain", "tollgate-ports"},
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
