#!/usr/bin/env python3
"""Checks that docs/architecture.md's source map matches the tree.

usage: source_map.py [--self-test] REPO_ROOT

The map is the "## Source map" section: a "### `src/<folder>`..." heading per
folder, then a table whose first column names that folder's files in code
spans. Every .c and .h file under src/ must be named under its folder's
heading, and every name there must be a file of that folder. Prints each
file missing from the map and each name with no file; fails if there is
either. --self-test first checks that both kinds are reported.
"""
import os
import re
import sys
import tempfile

import check_main

SECTION = re.compile(r"^## Source map\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
FOLDER = re.compile(r"^### `(src/[^`]+)`", re.MULTILINE)
SPAN = re.compile(r"`([^`]+\.[ch])`")


def mapped_files(text):
    """{src/<folder>/<file>: line} of every file the map names."""
    section = SECTION.search(text)
    if section is None:
        return None
    named = {}
    folder = None
    first_line = text[: section.start(1)].count("\n") + 1
    for offset, line in enumerate(section.group(1).splitlines()):
        heading = FOLDER.match(line)
        if heading:
            folder = heading.group(1).rstrip("/")
        elif folder and line.startswith("| `"):
            first_cell = line.split("|")[1]
            for name in SPAN.findall(first_cell):
                named[f"{folder}/{name}"] = first_line + offset
    return named


def tree_files(root):
    """Every .c and .h below root/src, relative to root."""
    found = set()
    for folder, _, files in os.walk(os.path.join(root, "src")):
        for name in files:
            if name.endswith((".c", ".h")):
                found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def problems(root):
    """The mismatches between the map and the tree, one line each."""
    with open(os.path.join(root, "docs", "architecture.md")) as f:
        named = mapped_files(f.read())
    if named is None:
        return ["docs/architecture.md has no '## Source map' section"]
    files = tree_files(root)
    out = [f"{path}: not in docs/architecture.md's source map" for path in sorted(files - named.keys())]
    out += [f"docs/architecture.md:{named[path]}: {path} is named in the source map but does not exist"
            for path in sorted(named.keys() - files)]
    return out


def self_test():
    """Whether a missing file and a stale name are both reported."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "src", "a"))
        os.makedirs(os.path.join(root, "docs"))
        for name in ("kept.c", "kept.h", "new.c"):
            open(os.path.join(root, "src", "a", name), "w").close()
        with open(os.path.join(root, "docs", "architecture.md"), "w") as f:
            f.write("# A\n\n## Source map\n\n### `src/a`\n\n| file | what |\n|---|---|\n"
                    "| `kept.c`, `kept.h` | x |\n| `gone.c` | y |\n\n## Next\n\n| `new.c` | z |\n")
        found = problems(root)
    ok = (len(found) == 2 and found[0].startswith("src/a/new.c:") and "src/a/gone.c is named" in found[1])
    print("self-test: " + ("a file missing from the map and a stale name are reported" if ok else f"wrong report {found}"))
    return ok


def main(argv):
    return check_main.run(argv, __doc__, [self_test], problems,
                          lambda found: f"{len(found)} mismatches between the source map and src/" if found
                          else "the source map names every file of src/, and only those")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
