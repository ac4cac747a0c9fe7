#!/usr/bin/env python3
"""Fails when two or more files under src/ import each other in a circle.

An edge A -> B is a `crate::x::y` path in A's code (a `use`, or a path written in full) that
names an item of file B. Paths are resolved the way rustc finds modules: `crate::x::y` is
src/x/y.rs or src/x/y/mod.rs, else the longest prefix that is a file (src/x.rs or
src/x/mod.rs). `super::` paths are resolved from the file's own module. Test modules
(`tests.rs`, `tests/`) are left out: they may use what they test. Usage: import-cycles.py [SRC]
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel[-1] == "mod" or rel in (["lib"], ["main"]):
        rel = rel[:-1]
    return rel


def file_of(parts):
    """The file that holds module `parts` (a list), or None."""
    if not parts:
        return os.path.join(src, "lib.rs")
    base = os.path.join(src, *parts)
    for cand in (base + ".rs", os.path.join(base, "mod.rs")):
        if os.path.isfile(cand):
            return cand
    return None


def resolve(parts):
    for n in range(len(parts), 0, -1):
        f = file_of(parts[:n])
        if f:
            return f
    return None


files = []
for root, _, names in os.walk(src):
    for n in names:
        p = os.path.join(root, n)
        if n.endswith(".rs") and n != "tests.rs" and "/tests/" not in p:
            files.append(p)

path_re = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
group_re = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}")
edges = {f: set() for f in files}
for f in files:
    text = open(f, encoding="utf-8").read()
    # Cut the file's own test module: `#[cfg(test)] mod tests { ... }` at the end.
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    here = module_of(f)
    paths = []
    for m in group_re.finditer(text):
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].split("::")
            if item and item[0] and item[0] != "self":
                paths.append((m.group(1), m.group(2).split("::")[1:] + item))
            elif item and item[0] == "self":
                paths.append((m.group(1), m.group(2).split("::")[1:]))
    for m in path_re.finditer(text):
        paths.append((m.group(1), m.group(2).split("::")[1:]))
    for root, parts in paths:
        if root == "crate":
            full = parts
        else:
            # `super` of module x::y (file x/y.rs or x/y/mod.rs) is x.
            full = here[:-1] + parts
        target = resolve(full)
        if target and target != f and target in edges:
            edges[f].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


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
            sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
for comp in sccs:
    print("import circle:", ", ".join(comp))
print(f"{len(sccs)} import circles among {len(files)} files")
sys.exit(1 if sccs else 0)
