#!/usr/bin/env python3
"""The module graph of one crate, read from its source: which file names which (through `use
crate::…`, `use super::…` and `crate::…` paths in code; test modules excluded), its import circles
(strongly connected components of more than one file), and, with --floors, whether every file
names only files on its own floor or below.

    scripts/module-graph.py crates/adapters/http/src                # circles and sizes
    scripts/module-graph.py crates/adapters/http/src --floors F     # fail on a broken floor
    scripts/module-graph.py crates/adapters/http/src --edges        # every edge
"""
import argparse
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[: -len(".rs")]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # Test modules are not part of the crate's layering: from `#[cfg(test)]` on.
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]"""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        return [re.split(r"\s+as\s+", tree)[0].strip()]
    head, body = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    out = []
    for item in items:
        if item.strip():
            out += [head + p for p in expand(item)]
    return out


def paths_in(text, module):
    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        found += expand(re.sub(r"\s+", "", m.group(1)).replace("as", " as "))
    code = re.sub(r"\buse\s+[^;]+;", "", text)
    found += re.findall(r"(?<![:\w])[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+", code)
    resolved = []
    for p in found:
        parts = p.split("::")
        if parts[0] == "self":
            resolved.append(tuple(module) + tuple(parts[1:]))
        elif parts[0] not in ("crate", "super"):
            # A path relative to this module: its child modules.
            resolved.append(tuple(module) + tuple(parts))
        elif parts[0] == "crate":
            resolved.append(tuple(parts[1:]))
        elif parts[0] == "super":
            base = list(module)
            while parts and parts[0] == "super":
                base = base[:-1]
                parts = parts[1:]
            resolved.append(tuple(base) + tuple(parts))
    return resolved


def graph(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                files[module_of(root, path)] = path
    edges = {m: set() for m in files}
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            text = strip(f.read())
        for target in paths_in(text, module):
            for n in range(len(target), 0, -1):
                if target[:n] in files:
                    if target[:n] != module and target[:n] != ():
                        edges[module].add(target[:n])
                    break
    return files, edges


def circles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def name(module):
    return "/".join(module) or "lib"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--floors", help="file: one floor per line, lowest first, modules separated by spaces")
    ap.add_argument("--edges", action="store_true")
    args = ap.parse_args()
    files, edges = graph(args.root)
    if args.edges:
        for m in sorted(edges):
            print(name(m), "->", " ".join(sorted(name(t) for t in edges[m])))
    found = circles(edges)
    print(f"{len(files)} files, {sum(len(e) for e in edges.values())} edges, {len(found)} import circles")
    for comp in found:
        print(f"  circle of {len(comp)}: " + ", ".join(name(m) for m in comp))
    broken = [f"import circle: {', '.join(name(m) for m in c)}" for c in found]
    if args.floors:
        floor = {}
        with open(args.floors, encoding="utf-8") as f:
            for level, line in enumerate(l for l in f if l.strip() and not l.startswith("#")):
                for m in line.split():
                    floor[tuple(m.split("/")) if m != "lib" else ()] = level
        for m in files:
            if m not in floor:
                broken.append(f"{name(m)}: a file with no floor; add it to {args.floors}")
        for m, targets in edges.items():
            for t in targets:
                if m in floor and t in floor and floor[t] > floor[m]:
                    broken.append(f"{name(m)} (floor {floor[m]}) names {name(t)} (floor {floor[t]})")
    if broken:
        print("module layering broken:", *broken, sep="\n  ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
