#!/usr/bin/env python3
"""Checks that no two source files of src/ depend on each other in a circle.

usage: file_cycles.py [--self-test] [BUILD_DIR]

For each link unit (a final artifact with the static and object libraries
linked into it), `nm` lists what each object file defines and what it leaves
undefined. Two views of it, each checked:
- symbols: file A depends on file B when A uses a global symbol that B
  defines;
- includes: headers count as part of the .c files they declare for: a header
  is part of the .c of its name beside it (x.h of x.c) and of every file
  whose global functions it declares. File A depends on file B when A includes,
  directly or through other headers, a header that is part of B. So one
  header that declares the functions of many files, included by them all,
  shows up as the circle it is; a header of types and inline helpers alone
  belongs to no file.
Every strongly connected component of more than one file is a circle, and is
reported (files named relative to src/). --self-test first checks that the
script does find a circle in each view, in C files made to call each other
and to share one header. Standard library only; NM and CC name the tools
(nm, cc by default).
"""

import os
import re
import subprocess
import sys
import tempfile

# The link units: artifact -> the CMake targets (under src/) whose objects it
# links. wire_codec is linked into every component.
LINK_UNITS = {
    "libggml-virtgpu.so": ["vgpu_frontend", "vgpu_remote", "wire_codec"],
    "libggml-virtgpu-backend.so": ["ggml-virtgpu-backend", "wire_codec"],
    "libapir.so": ["apir", "wire_codec"],
    "apir-server": ["apir-server", "wire_codec"],
}

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))
# where a quoted #include is looked for after the including file's own folder
# (the include directories src/CMakeLists.txt gives every target)
INCLUDE_DIRS = [os.path.normpath(os.path.join(SOURCE_DIR, os.pardir, "include")),
                os.path.join(SOURCE_DIR, "codec"), os.path.join(SOURCE_DIR, "common")]
INCLUDE_LINE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
# a name followed by "(": a function declared, called or pointed at
CALLED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)

# nm's letters: what references a symbol, and what defines one globally
# (uppercase, plus 'u' for GNU unique globals); the rest are local or debug
UNDEFINED_TYPES = set("Uwv")
NOT_DEFINITIONS = set("UNI")
FUNCTION_TYPES = set("TW")


def target_objects(build_dir, target):
    """{source file relative to src/: object path} of one target, from the
    build tree's CMakeFiles/<target>.dir, where the object of src/<path> is
    <path>.o (with Makefile and Ninja generators alike). Objects whose source
    is gone are stale, and left out."""
    target_dir = os.path.join(build_dir, "src", "CMakeFiles", target + ".dir")
    objects = {}
    for root, _, files in os.walk(target_dir):
        for name in files:
            if not name.endswith(".o"):
                continue
            path = os.path.join(root, name)
            source = os.path.relpath(path, target_dir)[: -len(".o")]
            if os.path.exists(os.path.join(SOURCE_DIR, source)):
                objects[source] = path
            else:
                print(f"(skipping {path}: left over from a source file that is gone)")
    if not objects:
        sys.exit(f"file_cycles: no object files in {target_dir}: is {build_dir} a built build tree?")
    return objects


def symbols(object_path):
    """(defined global symbols, undefined symbols, defined global functions)
    of one object file."""
    nm = os.environ.get("NM", "nm")
    out = subprocess.run([nm, "-P", object_path], check=True, capture_output=True, text=True).stdout
    defined, undefined, functions = set(), set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        if kind in UNDEFINED_TYPES:
            undefined.add(name)
        elif (kind.isupper() and kind not in NOT_DEFINITIONS) or kind == "u":
            defined.add(name)
            if kind in FUNCTION_TYPES:
                functions.add(name)
    return defined, undefined, functions


def dependency_graph(objects):
    """{file: set of files it uses a symbol of}, for one link unit."""
    table = {source: symbols(path)[:2] for source, path in objects.items()}
    definer = {}
    for source, (defined, _) in table.items():
        for name in defined:
            definer[name] = source
    return {
        source: {definer[name] for name in undefined if name in definer} - {source}
        for source, (_, undefined) in table.items()
    }


def quoted_includes(path, include_dirs):
    """The files of this project that `path` includes with #include "...":
    looked for in its own folder, then in the include directories; those of
    other projects (ggml's) are left out."""
    with open(path, errors="replace") as f:
        names = INCLUDE_LINE.findall(f.read())
    found = []
    for name in names:
        for folder in [os.path.dirname(path)] + include_dirs:
            candidate = os.path.normpath(os.path.join(folder, name))
            if os.path.isfile(candidate):
                found.append(candidate)
                break
    return found


def headers_reached(path, include_dirs):
    """Every header `path` includes, directly or through other headers."""
    seen, todo = set(), quoted_includes(path, include_dirs)
    while todo:
        header = todo.pop()
        if header not in seen:
            seen.add(header)
            todo += quoted_includes(header, include_dirs)
    return seen


def header_owners(header, functions_of, root):
    """The files (relative to root) a header is part of: the .c of its name
    beside it, and every file whose global functions it declares (or calls,
    in an inline function or a macro; comments left out), for a header of
    src/ (a public header of include/ is its library's, not a file's). A
    variable it names (a sink every component defines for a shared macro)
    does not make it part of that file."""
    with open(header, errors="replace") as f:
        called = set(CALLED.findall(COMMENT.sub(" ", f.read())))
    owners = set()
    if not os.path.relpath(header, root).startswith(os.pardir):
        owners = {source for source, functions in functions_of.items() if functions & called}
    own = os.path.relpath(header[: -len(".h")] + ".c", root)
    if own in functions_of:
        owners.add(own)
    return owners


def include_graph(functions_of, root, include_dirs):
    """{file: the files whose headers it includes}, for the files of one link
    unit (functions_of: {file relative to root: its global functions})."""
    owners_of = {}
    graph = {}
    for source in functions_of:
        deps = set()
        for header in headers_reached(os.path.join(root, source), include_dirs):
            if header not in owners_of:
                owners_of[header] = header_owners(header, functions_of, root)
            deps |= owners_of[header]
        graph[source] = deps - {source}
    return graph


def strongly_connected_components(graph):
    """Tarjan's algorithm, without recursion; each component a frozenset."""
    index, lowlink, on_stack, stack, components = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(frozenset(component))
            elif successor not in index:
                index[successor] = lowlink[successor] = len(index)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(sorted(graph[successor]))))
            elif successor in on_stack:
                lowlink[node] = min(lowlink[node], index[successor])
    return components


def circles(graph):
    """The components of more than one file of a dependency graph."""
    return [c for c in strongly_connected_components(graph) if len(c) > 1]


def describe(circle, graph):
    """The circle's files, then its edges."""
    files = sorted(circle)
    edges = [f"{a} -> {b}" for a in files for b in sorted(graph[a] & circle)]
    return ", ".join(files) + "\n      (" + "; ".join(edges) + ")"


def check_build(build_dir):
    """Prints every circle of every link unit, in both views; returns how
    many were found."""
    units_of = {}  # (view, circle) -> the link units it is in
    graph_of = {}  # (view, circle) -> the graph of one of them, for its edges
    for unit, targets in LINK_UNITS.items():
        objects = {}
        for target in targets:
            objects.update(target_objects(build_dir, target))
        functions_of = {source: symbols(path)[2] for source, path in objects.items()}
        views = {"symbols": dependency_graph(objects),
                 "includes": include_graph(functions_of, SOURCE_DIR, INCLUDE_DIRS)}
        print(f"{unit}: {len(objects)} files")
        for view, graph in views.items():
            for circle in circles(graph):
                units_of.setdefault((view, circle), []).append(unit)
                graph_of[(view, circle)] = graph
    for view, circle in sorted(units_of, key=lambda k: (k[0], sorted(k[1]))):
        print(f"FAIL circle of {view} in {', '.join(units_of[(view, circle)])}: "
              f"{describe(circle, graph_of[(view, circle)])}")
    if not units_of:
        print("no circles")
    return len(units_of)


SELF_TEST_SOURCES = {
    "ping.c": "int pong(int n);\nint ping(int n) { return n ? pong(n - 1) : 0; }\n",
    "pong.c": "int ping(int n);\nint pong(int n) { return n ? ping(n - 1) : 1; }\n",
    # uses the circle without being part of it
    "caller.c": "int ping(int n);\nint call(void) { return ping(3); }\n",
}


# no call between ping.c and pong.c, but one header declares both, and
# both include it: a circle of includes
SELF_TEST_HEADER = {
    "both.h": "int ping(int n);\nint pong(int n);\n",
    "ping.c": '#include "both.h"\nint ping(int n) { return n; }\n',
    "pong.c": '#include "both.h"\nint pong(int n) { return n + 1; }\n',
    "types.h": "struct point { int x; };\n",
    "caller.c": '#include "types.h"\n#include "both.h"\nint call(void) { return ping(3); }\n',
}


def compile_sources(tmp, sources):
    """Writes and compiles the sources; {name: object path} of the .c ones."""
    cc = os.environ.get("CC", "cc")
    objects = {}
    for name, text in sources.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    for name in sources:
        if name.endswith(".c"):
            source = os.path.join(tmp, name)
            objects[name] = source + ".o"
            subprocess.run([cc, "-c", source, "-o", objects[name]], check=True)
    return objects


def self_test_includes():
    """Returns whether the include view reports the circle of ping.c and
    pong.c through both.h."""
    with tempfile.TemporaryDirectory() as tmp:
        objects = compile_sources(tmp, SELF_TEST_HEADER)
        functions_of = {source: symbols(path)[2] for source, path in objects.items()}
        found = circles(include_graph(functions_of, tmp, []))
    ok = found == [frozenset({"ping.c", "pong.c"})]
    print("self-test: " + ("the circle of includes ping.c <-> pong.c is reported" if ok else f"wrong report {found}"))
    return ok


def self_test():
    """Returns whether the script reports the circle of ping.c and pong.c."""
    with tempfile.TemporaryDirectory() as tmp:
        found = circles(dependency_graph(compile_sources(tmp, SELF_TEST_SOURCES)))
    ok = found == [frozenset({"ping.c", "pong.c"})]
    print("self-test: " + ("the circle ping.c <-> pong.c is reported" if ok else f"wrong report {found}"))
    return ok


def main(argv):
    args = argv[1:]
    run_self_test = "--self-test" in args
    build_dirs = [a for a in args if a != "--self-test"]
    if len(build_dirs) > 1 or not (run_self_test or build_dirs):
        sys.exit(__doc__)
    if run_self_test and not (self_test() and self_test_includes()):
        return 1
    if build_dirs and check_build(build_dirs[0]) > 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
