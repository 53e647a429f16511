#!/usr/bin/env python3
"""Checks that no two source files of src/ depend on each other in a circle.

usage: file_cycles.py [--self-test] [BUILD_DIR]

For each link unit (a final artifact with the static and object libraries
linked into it), `nm` lists what each object file defines and what it leaves
undefined; file A depends on file B when A uses a global symbol that B
defines. Every strongly connected component of more than one file is a
circle, and is reported (files named relative to src/). --self-test first
checks that the script does find a circle, in two C files made to call each
other. Standard library only; NM and CC name the tools (nm, cc by default).
"""

import os
import subprocess
import sys
import tempfile

# The link units: artifact -> the CMake targets (under src/) whose objects it
# links. apir_codec is linked into every component.
LINK_UNITS = {
    "libggml-virtgpu.so": ["vgpu_frontend", "vgpu_remote", "apir_codec"],
    "libggml-virtgpu-backend.so": ["ggml-virtgpu-backend", "apir_codec"],
    "libapir.so": ["apir", "apir_codec"],
    "apir-server": ["apir-server", "apir_codec"],
}

SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src")

# nm's letters: what references a symbol, and what defines one globally
# (uppercase, plus 'u' for GNU unique globals); the rest are local or debug
UNDEFINED_TYPES = set("Uwv")
NOT_DEFINITIONS = set("UNI")


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
    """(defined global symbols, undefined symbols) of one object file."""
    nm = os.environ.get("NM", "nm")
    out = subprocess.run([nm, "-P", object_path], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        if kind in UNDEFINED_TYPES:
            undefined.add(name)
        elif (kind.isupper() and kind not in NOT_DEFINITIONS) or kind == "u":
            defined.add(name)
    return defined, undefined


def dependency_graph(objects):
    """{file: set of files it uses a symbol of}, for one link unit."""
    table = {source: symbols(path) for source, path in objects.items()}
    definer = {}
    for source, (defined, _) in table.items():
        for name in defined:
            definer[name] = source
    return {
        source: {definer[name] for name in undefined if name in definer} - {source}
        for source, (_, undefined) in table.items()
    }


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
    """Prints every circle of every link unit; returns how many were found."""
    units_of = {}  # circle -> the link units it is in
    graph_of = {}  # circle -> the graph of one of them, for its edges
    for unit, targets in LINK_UNITS.items():
        objects = {}
        for target in targets:
            objects.update(target_objects(build_dir, target))
        graph = dependency_graph(objects)
        print(f"{unit}: {len(objects)} files")
        for circle in circles(graph):
            units_of.setdefault(circle, []).append(unit)
            graph_of[circle] = graph
    for circle in sorted(units_of, key=sorted):
        print(f"FAIL circle in {', '.join(units_of[circle])}: {describe(circle, graph_of[circle])}")
    if not units_of:
        print("no circles")
    return len(units_of)


SELF_TEST_SOURCES = {
    "ping.c": "int pong(int n);\nint ping(int n) { return n ? pong(n - 1) : 0; }\n",
    "pong.c": "int ping(int n);\nint pong(int n) { return n ? ping(n - 1) : 1; }\n",
    # uses the circle without being part of it
    "caller.c": "int ping(int n);\nint call(void) { return ping(3); }\n",
}


def self_test():
    """Returns whether the script reports the circle of ping.c and pong.c."""
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        objects = {}
        for name, text in SELF_TEST_SOURCES.items():
            source = os.path.join(tmp, name)
            with open(source, "w") as f:
                f.write(text)
            objects[name] = source + ".o"
            subprocess.run([cc, "-c", source, "-o", objects[name]], check=True)
        found = circles(dependency_graph(objects))
    ok = found == [frozenset({"ping.c", "pong.c"})]
    print("self-test: " + ("the circle ping.c <-> pong.c is reported" if ok else f"wrong report {found}"))
    return ok


def main(argv):
    args = argv[1:]
    run_self_test = "--self-test" in args
    build_dirs = [a for a in args if a != "--self-test"]
    if len(build_dirs) > 1 or not (run_self_test or build_dirs):
        sys.exit(__doc__)
    if run_self_test and not self_test():
        return 1
    if build_dirs and check_build(build_dirs[0]) > 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
