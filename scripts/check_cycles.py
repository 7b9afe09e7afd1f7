#!/usr/bin/env python3
"""Fails when modules of one crate import each other in a cycle.

For every crate under crates/, each top-level module (a file or directory under src/, not
lib.rs or main.rs, which are the crate's root) is linked to the top-level modules its non-test
code names through `crate::<module>`. A cycle among those links is printed and fails the run,
so the code keeps the layering ARCHITECTURE.md describes.
"""
import os
import re
import sys


def links(src):
    """Top-level module -> the top-level modules it names through `crate::`."""
    found = {}
    for dirpath, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != "tests"]
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            top = os.path.relpath(path, src).split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main"):
                continue
            with open(path, encoding="utf-8") as f:
                code = f.read().split("#[cfg(test)]")[0]
            named = set(re.findall(r"crate::([a-z_][a-z0-9_]*)", code)) - {top}
            found.setdefault(top, set()).update(named)
    return found


def cycles(graph):
    """Every cycle met by a depth-first walk, as lists of modules."""
    state, out = {}, []

    def walk(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                out.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates")
    bad = 0
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if os.path.isdir(src):
            for cycle in cycles(links(src)):
                print(f"{crate}: module import cycle: {' -> '.join(cycle)}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
