#!/usr/bin/env bash
# The benchmarks on a CUDA machine (no network), in one go: builds the
# pinned llama.cpp with CUDA from a trimmed copy of its source in
# .device/llama.cpp (made by `bench/gpu.sh --pack` here, carried there),
# builds this project against it, then runs bench/run.sh with the CUDA
# backend on the host side: native CUDA vs VirtGPU vs ggml-rpc.
# Environment: OUT (results folder), PRESET (default llama-1b), TYPE
# (default q4_0), JOBS (default all cores), CUDA_ARCH (default 90).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=.device/llama.cpp

if [[ "${1:-}" == "--pack" ]]; then
    # the pinned tree without what a CUDA build of these targets never reads
    deps=$(make -s print-deps)/src
    rm -rf "$SRC" && mkdir -p "$SRC"
    (cd "$deps" && git ls-files | grep -vE '^(docs|examples|media|gguf-py|scripts|app|pocs|benches|ci|skills|conversion|licenses|requirements|grammars|models)/|^tools/(server|ui|cli|cvector-generator|export-lora|tuning)/|^ggml/src/ggml-(vulkan|sycl|opencl|cann|musa|hip|metal|webgpu|zdnn|openvino|hexagon|virtgpu)/' |
        { cat; echo models/ggml-vocab-llama-bpe.gguf; } | tar cf - -T - ) | tar xf - -C "$SRC"
    grep -qx '/.device/' .git/info/exclude || echo '/.device/' >>.git/info/exclude
    du -sh "$SRC"
    exit 0
fi

OUT=${OUT:-/tmp/gpu-bench}
JOBS=${JOBS:-$(nproc)}
LLAMA_BUILD=/tmp/llama-cuda
mkdir -p "$OUT"
step() { printf '[gpu %s] %s\n' "$(date +%T)" "$*"; }

step "building llama.cpp with CUDA (sm_${CUDA_ARCH:-90})"
cmake -S "$SRC" -B "$LLAMA_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU=ON -DGGML_RPC=ON -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF >"$OUT/llama-configure.log" 2>&1
cmake --build "$LLAMA_BUILD" -j "$JOBS" --target ggml-cpu ggml-cuda ggml-rpc llama llama-bench \
    ggml-rpc-server llama-completion >"$OUT/llama-build.log" 2>&1

step "building this project"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC_DIR="$PWD/$SRC" \
    -DLLAMA_BUILD_DIR="$LLAMA_BUILD" >"$OUT/build.log" 2>&1
cmake --build build-gpu -j "$JOBS" >>"$OUT/build.log" 2>&1

step "benchmarks"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
LLAMA_BIN_DIR=$LLAMA_BUILD/bin BUILD_DIR=build-gpu BACKEND=$LLAMA_BUILD/bin/libggml-cuda.so DEVICE=CUDA0 \
    PRESET=${PRESET:-llama-1b} TYPE=${TYPE:-q4_0} PP=512 TG=128 REPS=${REPS:-3} bench/run.sh 2>&1 | tee "$OUT/bench.txt"
step "done"
