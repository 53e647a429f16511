#!/usr/bin/env python3
"""Seeds of fuzz target graph_ops: recipes without mutations, for every op
of graph-ops-build.c's table (read from it, so the two cannot drift apart)
and the first variants of each (every sub-op of UNARY and GLU).

usage: graph_ops_seeds.py OUT_DIR
"""
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
# the sub-ops of the ops whose variant picks among more than 8
VARIANTS = {"UNARY": 22, "GLU": 7, "PERMUTE": 24}
# extents 4, 3 (edge indices), outer extents 2, 2, then 5 and 4
DIMS = bytes([3, 2, 1, 1, 4, 3])


def builders():
    text = (HERE / "graph-ops-build.c").read_text()
    return re.findall(r"^\s*BUILDER\((\w+), \w+\),$", text, re.M)


def recipe(op, variant):
    """op, variant, dims, types, layout, indices, no mutations, then 64
    values (room for mutations when the fuzzer raises their count)"""
    types = bytes([variant, variant >> 1, 0])
    return bytes([op, variant]) + DIMS + types + bytes([0, 0, 0]) + bytes(range(1, 65))


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for op, name in enumerate(builders()):
        for variant in range(VARIANTS.get(name, 8)):
            (out / f"seed-{name.lower()}-{variant}").write_bytes(recipe(op, variant))


if __name__ == "__main__":
    main()
