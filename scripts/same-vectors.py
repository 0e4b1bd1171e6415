#!/usr/bin/env python3
"""Exits 0 when two vector files hold the same values: strings, booleans, nulls and integers
exactly, floats to a relative 1e-12 (the Rust tests compare to 1e-9). Linear algebra in numpy
and statsmodels may round the last bits differently on another CPU (OpenBLAS picks its kernels
at run time), so a byte-for-byte comparison would fail on a fresh machine for no error.
Prints the first differences otherwise.
    python3 scripts/same-vectors.py COMMITTED REGENERATED
"""
import json
import math
import sys

RELATIVE = 1e-12


def walk(path, a, b, out):
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            out.append(f"{path}: keys {list(a)} vs {list(b)}")
            return
        for key in a:
            walk(f"{path}.{key}", a[key], b[key], out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            walk(f"{path}[{i}]", x, y, out)
    elif isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
            out.append(f"{path}: {a!r} vs {b!r}")
        elif not math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-300):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {a!r} vs {b!r}")


def main():
    with open(sys.argv[1]) as f:
        committed = json.load(f)
    with open(sys.argv[2]) as f:
        regenerated = json.load(f)
    out = []
    walk("", committed, regenerated, out)
    for line in out[:20]:
        print(line)
    if len(out) > 20:
        print(f"... and {len(out) - 20} more")
    sys.exit(1 if out else 0)


if __name__ == "__main__":
    main()
