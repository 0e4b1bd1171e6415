#!/usr/bin/env python3
"""The import graph of the workspace's Rust modules, and its circles.

Each source file is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`). An edge A -> B means A names
something of B through `crate::`, `super::` or `self::` (a `use` or a path in code). A module's
own children, named by their bare names (`mod child; pub use child::X;`), are its facade, not a
dependency: those are no edges. Unit tests (`#[cfg(test)] mod tests`) are left out. Prints every
strongly connected component of more than one module, per crate, and exits 1 when there is one.

Run: python3 scripts/import-graph.py [CRATE_DIR ...]   (default: every crate of the workspace)
"""
import pathlib
import re
import sys

CRATES = ["experiments", "inference", "store", "server", "analytics", "simulator", "cli"]


def modules(src):
    found = {}
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod",):
            parts = parts[:-1]
        if parts in (["lib"], ["main"]):
            parts = []
        found[tuple(parts)] = path
    return found


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)


def references(text, here, is_dir_module):
    """Module paths named from module `here` (a tuple)."""
    out = set()
    # `use crate::{a::{b, c}, d}` and plain paths: expand one level of braces into prefixes.
    for match in re.finditer(r"\b(crate|super|self)((?:::\w+)+|::\{)", text):
        start = match.start()
        # Take the path text up to a terminator, braces included.
        depth, end = 0, match.end()
        if text[match.end() - 1] == "{":
            depth = 1
            while end < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
        chunk = text[start:end]
        root = match.group(1)
        if root == "crate":
            base = []
        elif root == "self":
            base = list(here) if is_dir_module else list(here[:-1])
            base = list(here)
        else:
            base = list(here[:-1]) if not is_dir_module else list(here[:-1])
        body = chunk[len(root):]
        for path in expand(body):
            segments = [s for s in path.split("::") if s]
            # consecutive super::super::
            target = list(base)
            while segments and segments[0] == "super":
                target = target[:-1]
                segments = segments[1:]
            out.add(tuple(target + segments))
    return out


def expand(body):
    """`::a::{b::c, d}` -> ['::a::b::c', '::a::d'] (one or more brace levels)."""
    body = body.strip()
    m = re.match(r"((?:::\w+)*)::\{(.*)\}$", body, re.S)
    if not m:
        return [body]
    prefix, inner = m.group(1), m.group(2)
    items, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        current += ch
    items.append(current)
    out = []
    for item in items:
        item = item.strip()
        if not item or item == "self":
            out.append(prefix)
            continue
        item = item.split(" as ")[0].strip()
        for sub in expand("::" + item):
            out.append(prefix + sub)
    return out


def resolve(path, known):
    """The longest prefix of `path` that is a module."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in known:
            return tuple(path[:n])
    return ()


def circles(crate_dir):
    src = pathlib.Path(crate_dir) / "src"
    known = modules(src)
    edges = {m: set() for m in known}
    for module, path in known.items():
        text = strip_comments(path.read_text())
        # Only the module's own code, not its #[cfg(test)] tests (they may use anything).
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        is_dir = path.name in ("mod.rs", "lib.rs", "main.rs")
        for ref in references(text, module, is_dir):
            target = resolve(list(ref), known)
            if target != module:
                edges[module].add(target)
    return tarjan(edges)


def tarjan(edges):
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
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    crates = sys.argv[1:] or CRATES
    found = 0
    for crate in crates:
        for component in circles(crate):
            found += 1
            names = ", ".join("::".join(m) or "(root)" for m in component)
            print(f"{crate}: {names}")
    print(f"{found} circles in {len(crates)} crates")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
