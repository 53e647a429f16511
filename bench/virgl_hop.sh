#!/usr/bin/env bash
# What the hop to apir-server's process costs a VM's call: the cheapest APIR
# command through libvirglrenderer.so.1 as QEMU drives it (bench/virgl_hop.c),
# on the library of BASE (default c9da05b, the last that ran contexts inside
# QEMU's process) and on this build's (a proxy to apir-server), alternating,
# ROUNDS times (default 5) of CALLS calls each (default 20000), on one machine.
# The base's library is built in a temporary worktree against the cached
# dependencies. usage: bench/virgl_hop.sh [BASE]   (after make)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-c9da05b}
ROUNDS=${ROUNDS:-5}
CALLS=${CALLS:-20000}
DEPS_DIR=$(scripts/deps.sh --print-prefix)
[[ -x build/bin/virgl_hop ]] || { echo "virgl_hop.sh: error: build first (make)" >&2; exit 1; }
base=$(mktemp -d /tmp/virgl-hop-base.XXXXXX)
trap 'git worktree remove --force "$base/tree" >/dev/null 2>&1; rm -rf "$base"' EXIT
echo "building the base's libvirglrenderer.so.1 ($BASE) ..." >&2
git worktree add -q --detach "$base/tree" "$BASE"
cmake -S "$base/tree" -B "$base/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLAMA_SRC_DIR="$DEPS_DIR/src" \
    -DLLAMA_BUILD_DIR="$DEPS_DIR/build" >/dev/null
cmake --build "$base/build" -j "$(nproc)" --target virglrenderer-apir >/dev/null
export VIRGL_ROUTE_VENUS_TO_APIR=1 GGML_VIRTGPU_VIRGLRENDERER=none
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for round in $(seq "$ROUNDS"); do
    printf 'round %d  in QEMU (%s): %s\n' "$round" "$BASE" \
        "$(build/bin/virgl_hop "$base/build/lib/virgl/libvirglrenderer.so.1" "$CALLS")"
    printf 'round %d  proxy (this build): %s\n' "$round" \
        "$(build/bin/virgl_hop "$PWD/build/lib/virgl/libvirglrenderer.so.1" "$CALLS" 2>/dev/null)"
done
