#!/usr/bin/env bash
# Obtains the pinned llama.cpp release and builds what this project needs from
# it (ggml with the CPU and RPC backends as loadable modules, libllama, the
# llama.cpp tools and the reference VirtGPU host library) into a cache outside
# the checkout, keyed by the release, so later builds reuse it. Asked, it also
# builds a copy of ggml instrumented with AddressSanitizer and UBSan beside it,
# for the host side of the sanitizer builds.
#
#   scripts/deps.sh               fetch + build (no-op when the cache is warm)
#   scripts/deps.sh --asan        the same, then ggml-base and ggml-cpu with
#                                 ASan and UBSan into build-asan/ (make
#                                 build-asan and build-fuzz; no-op when warm)
#   scripts/deps.sh --print-prefix  print the cache directory and exit
#
# Environment:
#   DEPS_DIR        cache directory (default ~/.cache/ggml-virtgpu/<release-id>)
#   LLAMA_CPP_DIR   use this llama.cpp checkout instead of the pinned release
#   JOBS            parallel build jobs (default: number of cores)
set -euo pipefail

PIN_NPM_PACKAGE=node-llama-cpp@3.22.1
PIN_NPM_SHA256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
PIN_COMMIT=de3ff815ea7d
# Bump when the build options below change, so that old caches are rebuilt.
BUILD_RECIPE=1

LLAMA_TARGETS=(ggml ggml-cpu ggml-rpc llama llama-completion llama-cli llama-bench
               llama-server ggml-rpc-server test-backend-ops llama-quantize
               ggml-virtgpu-backend)

# The sanitizer copy of ggml (build-asan/bin: libggml-base.so, libggml-cpu.so),
# which build-asan and build-fuzz run on the host side, so that a kernel's
# access out of bounds is a finding: the same source and options, built by
# gcc with ASan and UBSan but linked without a sanitizer runtime. The process
# that loads it brings one: gcc's shared libasan and libubsan in build-asan,
# clang's static runtime in the fuzz targets, which exports the same
# __asan_*/__ubsan_* entry points (ABI check __asan_version_mismatch_check_v8
# in both). Three of UBSan's checks are left out: vptr, whose handler is in
# the C++ part of the runtimes, which a C program built by clang lacks; and
# two that ggml's x86 kernels fail on purpose, for valid graphs, where gcc on
# x86 defines what happens: alignment (the q1_0 and iq1_s dot products read
# the bits of their 18- and 50-byte blocks as uint32_t, quants.c:590, 3621)
# and shift-base (iq3_s shifts a uint16_t's top bit into an int's sign,
# quants.c:3452; gcc defines such shifts). Bump ASAN_RECIPE when these
# options change.
ASAN_RECIPE=2
ASAN_TARGETS=(ggml-base ggml-cpu)
ASAN_FLAGS="-fsanitize=address,undefined -fno-sanitize=vptr,alignment,shift-base -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

# every line says how long the build has run so far
log() { printf '[deps %02d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
die() { printf '[deps] error: %s\n' "$*" >&2; exit 1; }

release_id() {
    if [[ -n "${LLAMA_CPP_DIR:-}" ]]; then
        # a user's checkout: key the cache by its absolute path
        printf 'custom-%s' "$(realpath "$LLAMA_CPP_DIR" | sha256sum | cut -c1-12)"
    else
        printf 'llama.cpp-%s-r%s' "$PIN_COMMIT" "$BUILD_RECIPE"
    fi
}

DEPS_DIR=${DEPS_DIR:-$HOME/.cache/ggml-virtgpu/$(release_id)}

WANT_ASAN=
case "${1:-}" in
    --print-prefix) printf '%s\n' "$DEPS_DIR"; exit 0 ;;
    --asan) WANT_ASAN=1 ;;
    "") ;;
    *) die "unknown option '$1' (scripts/deps.sh [--asan | --print-prefix])" ;;
esac

# Unpacks the release's source from the npm package that ships it as a git
# bundle, after checking the tarball against the pinned digest.
fetch_pinned_source() {
    local dest=$1 tmp
    tmp=$(mktemp -d)
    log "fetching $PIN_NPM_PACKAGE from the npm registry"
    (cd "$tmp" && npm pack --silent "$PIN_NPM_PACKAGE" >/dev/null) ||
        die "could not fetch $PIN_NPM_PACKAGE with npm; check the network, or set LLAMA_CPP_DIR to a llama.cpp checkout"
    local tarball
    tarball=$(ls "$tmp"/*.tgz)
    echo "$PIN_NPM_SHA256  $tarball" | sha256sum --check --status ||
        die "$tarball does not match the pinned sha256 $PIN_NPM_SHA256; refusing to build from it"
    tar -xzf "$tarball" -C "$tmp" package/llama/gitRelease.bundle
    rm -rf "$dest.partial"
    git -c advice.detachedHead=false clone --quiet --no-checkout \
        "$tmp/package/llama/gitRelease.bundle" "$dest.partial"
    git -C "$dest.partial" -c advice.detachedHead=false checkout --quiet "$PIN_COMMIT"
    rm -rf "$tmp"
    mv "$dest.partial" "$dest"
    log "llama.cpp $PIN_COMMIT unpacked into $dest"
}

source_dir() {
    if [[ -n "${LLAMA_CPP_DIR:-}" ]]; then
        [[ -f "$LLAMA_CPP_DIR/ggml/include/ggml.h" ]] ||
            die "LLAMA_CPP_DIR=$LLAMA_CPP_DIR is not a llama.cpp checkout (no ggml/include/ggml.h)"
        realpath "$LLAMA_CPP_DIR"
    else
        [[ -d "$DEPS_DIR/src" ]] || fetch_pinned_source "$DEPS_DIR/src"
        printf '%s\n' "$DEPS_DIR/src"
    fi
}

# configure SOURCE BUILD [CMAKE_ARGS...]: the arguments given override the
# common ones
configure() {
    local src=$1 build=$2
    shift 2
    # CPU only, backends as shared objects loaded at run time (GGML_BACKEND_DL)
    # as real deployments do; the CPU backend is built for the x86-64-v3 level
    # because GGML_NATIVE cannot be combined with GGML_BACKEND_DL.
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
        -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU=ON -DGGML_RPC=ON \
        -DGGML_VIRTGPU=ON -DGGML_VIRTGPU_BACKEND=ONLY \
        -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF "$@" \
        >"$build/configure.log" 2>&1 ||
        die "configuring llama.cpp failed; see $build/configure.log"
}

# build_targets BUILD WHAT MINUTES TARGET...: builds the targets, showing
# cmake's percentage lines as progress and keeping the full output in a log.
build_targets() {
    local build=$1 what=$2 minutes=$3 jobs=${JOBS:-$(nproc)}
    shift 3
    log "building $what with $jobs jobs (about $minutes minutes on 2 cores the first time); log: $build/build.log"
    cmake --build "$build" -j "$jobs" --target "$@" 2>&1 |
        tee "$build/build.log" |
        { grep --line-buffered -E '^\[ *[0-9]+%\] (Building|Linking)' || true; } |
        while IFS= read -r line; do log "$line"; done ||
        die "building $what failed; see $build/build.log"
}

# is_warm STAMP WANT: the build of STAMP is complete for WANT (never for a
# user's checkout, which may have changed: cmake rebuilds what did)
is_warm() {
    [[ -z "${LLAMA_CPP_DIR:-}" && -f "$1" && "$(cat "$1")" == "$2" ]]
}

build_plain() {
    local src=$1 build="$DEPS_DIR/build"
    local stamp="$build/.deps-complete" want="$src recipe=$BUILD_RECIPE"
    is_warm "$stamp" "$want" && return 0 # the pinned release never changes
    mkdir -p "$build"
    rm -f "$stamp"
    configure "$src" "$build"
    build_targets "$build" llama.cpp 5 "${LLAMA_TARGETS[@]}"
    printf '%s\n' "$want" >"$stamp"
    log "dependencies ready in $DEPS_DIR"
}

build_asan() {
    local src=$1 build="$DEPS_DIR/build-asan"
    local stamp="$build/.deps-complete" want="$src recipe=$BUILD_RECIPE asan-recipe=$ASAN_RECIPE"
    is_warm "$stamp" "$want" && return 0
    mkdir -p "$build"
    rm -f "$stamp"
    # -fno-sanitize=all when linking: no sanitizer runtime among the
    # libraries' dependencies (the compiler's flags are on the link line too)
    configure "$src" "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
        -DCMAKE_C_FLAGS="$ASAN_FLAGS" -DCMAKE_CXX_FLAGS="$ASAN_FLAGS" \
        -DCMAKE_SHARED_LINKER_FLAGS=-fno-sanitize=all -DCMAKE_MODULE_LINKER_FLAGS=-fno-sanitize=all
    build_targets "$build" "ggml with AddressSanitizer and UBSan" 2 "${ASAN_TARGETS[@]}"
    printf '%s\n' "$want" >"$stamp"
    log "ggml with AddressSanitizer and UBSan ready in $build/bin"
}

main() {
    local src
    src=$(source_dir)
    build_plain "$src"
    if [[ -n "$WANT_ASAN" ]]; then
        build_asan "$src"
    fi
}

main
