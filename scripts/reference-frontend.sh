#!/usr/bin/env bash
# Builds llama.cpp's own VirtGPU frontend (libggml-virtgpu.so, the guest side)
# from the pinned tree with tools/reference-frontend/ (offline: our headers
# stand in for the venus_hw.h its own CMake downloads), into the dependency
# cache, keyed by the build description, so that it is built once.
#
#   scripts/reference-frontend.sh               build (no-op when up to date)
#   scripts/reference-frontend.sh --print-path  print the library's path and exit
#
# Environment: DEPS_DIR and LLAMA_CPP_DIR as for scripts/deps.sh (which builds
# the pinned tree first when its cache is cold); JOBS (default 2).
set -euo pipefail
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd)
DESCRIPTION=$CHECKOUT/tools/reference-frontend

log() { printf '[reference-frontend] %s\n' "$*" >&2; }
die() { printf '[reference-frontend] error: %s\n' "$*" >&2; exit 1; }

DEPS_DIR=${DEPS_DIR:-$("$CHECKOUT/scripts/deps.sh" --print-prefix)}
export DEPS_DIR

# A digest of the build description, the uAPI header it takes from our
# frontend and this script: a change to any builds into a new folder, and
# checkouts with the same ones share a build.
description_digest() {
    (cd "$CHECKOUT" && find tools/reference-frontend -type f -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum && sha256sum src/guest/virtgpu-uapi.h scripts/reference-frontend.sh) |
        sha256sum | cut -c1-12
}

BUILD=$DEPS_DIR/reference-frontend/$(description_digest)
LIBRARY=$BUILD/libggml-virtgpu.so

if [[ "${1:-}" == "--print-path" ]]; then
    printf '%s\n' "$LIBRARY"
    exit 0
fi

main() {
    local stamp=$BUILD/.complete src=${LLAMA_CPP_DIR:-$DEPS_DIR/src}
    # the pinned tree never changes; a user's checkout may (then make decides)
    [[ -z ${LLAMA_CPP_DIR:-} && -f $stamp && -f $LIBRARY ]] && exit 0
    [[ -f $DEPS_DIR/build/.deps-complete ]] || "$CHECKOUT/scripts/deps.sh"
    mkdir -p "$BUILD"
    log "building llama.cpp's VirtGPU frontend into $BUILD; log: $BUILD/build.log"
    cmake -S "$DESCRIPTION" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_SRC_DIR="$(realpath "$src")" -DLLAMA_BUILD_DIR="$DEPS_DIR/build" \
        >"$BUILD/build.log" 2>&1 ||
        die "configuring failed (is libdrm-dev installed? scripts/install-packages.sh installs it); see $BUILD/build.log"
    cmake --build "$BUILD" -j "${JOBS:-2}" 2>&1 |
        tee -a "$BUILD/build.log" |
        { grep --line-buffered -E '^\[ *[0-9]+%\] (Building|Linking)' || true; } |
        sed -u -e 's|object .*/|object |' -e 's/^/[reference-frontend] /' ||
        die "building failed; see $BUILD/build.log"
    touch "$stamp"
    log "ready: $LIBRARY"
}

main
