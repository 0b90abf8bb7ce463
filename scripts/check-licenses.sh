#!/usr/bin/env bash
# Fails when a crate in the dependency graph has no license, or a license expression that cannot
# be satisfied with the permissive licenses below (OR: any one branch; AND / WITH: every part).
# Crates reached only through dev-dependencies (test tools, never built into a shipped binary)
# may also be MPL-2.0 (file-level copyleft: fantoccini's `webdriver`).
# Offline, from `cargo metadata` (cargo-deny's advisory check needs the RustSec database from
# GitHub, which this build environment cannot reach; see docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, re, sys

ALLOWED = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSD-1-Clause", "ISC", "Zlib",
           "Unicode-3.0",
           "Unlicense", "BSL-1.0", "CDLA-Permissive-2.0", "LLVM-exception"}

TEST_ONLY_ALLOWED = ALLOWED | {"MPL-2.0"}

def ok(expr, allowed=ALLOWED):
    expr = expr.replace("/", " OR ").strip()
    while expr.startswith("(") and expr.endswith(")") and balanced(expr[1:-1]):
        expr = expr[1:-1].strip()
    for op in (" OR ", " AND ", " WITH "):
        parts = split_top(expr, op)
        if len(parts) > 1:
            results = [ok(p, allowed) for p in parts]
            return any(results) if op == " OR " else all(results)
    return expr in allowed

def balanced(s):
    depth = 0
    for ch in s:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0

def split_top(expr, op):
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expr):
        depth += expr[i] == "("
        depth -= expr[i] == ")"
        if depth == 0 and expr.startswith(op, i):
            parts.append(expr[start:i]); i += len(op); start = i; continue
        i += 1
    parts.append(expr[start:])
    return [p.strip() for p in parts]

meta = json.load(sys.stdin)
# What the workspace builds outside its tests: reachable from its members by normal and build edges.
edges = {n["id"]: [d["pkg"] for d in n["deps"] if any(k["kind"] != "dev" for k in d["dep_kinds"])]
         for n in meta["resolve"]["nodes"]}
built, todo = set(), list(meta["workspace_members"])
while todo:
    pkg = todo.pop()
    if pkg not in built:
        built.add(pkg)
        todo.extend(edges.get(pkg, []))
bad = ["%s %s: %s%s" % (p["name"], p["version"], p.get("license"), "" if p["id"] in built else " (test-only)")
       for p in meta["packages"]
       if not p.get("license") or not ok(p["license"], ALLOWED if p["id"] in built else TEST_ONLY_ALLOWED)]
if bad:
    print("dependencies with licenses outside the allowed set:", *bad, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("licenses: %d crates pass: all permissive, but for MPL-2.0 among the %d test-only ones"
      % (len(meta["packages"]), len(meta["packages"]) - len(built & {p["id"] for p in meta["packages"]})))
'
