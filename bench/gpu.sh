#!/usr/bin/env bash
# The benchmarks on a CUDA machine (no network), in one go: builds the
# pinned llama.cpp with CUDA from a trimmed copy of its source in
# .device/llama.cpp (made by `bench/gpu.sh --pack` here, carried there;
# each call replaces a carried path, so copy the checkout to /tmp there and
# run it from the copy),
# builds this project against it, then runs bench/run.sh with the CUDA
# backend on the host side: native CUDA vs VirtGPU vs ggml-rpc.
# Environment: OUT (results folder), PRESETS (default "llama-1b llama-8b"), TYPE
# (default q4_0), JOBS (default all cores), CUDA_ARCH (default 90), OPS_TIMEOUT (seconds for
# test-backend-ops, default 400), SKIP_OPS (set: no test-backend-ops), AB_ENV (an assignment, such as
# GGML_VIRTGPU_NO_PIN=1: the AB_PRESETS, default llama-1b, benchmarked once more with it), PROFILE_PRESETS (the models
# profiled, default llama-1b; their files get a suffix: profile-pp-llama-8b.txt), PROFILE_TESTS (which
# profiles, default "tg pp"), REPS (llama-bench repetitions, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=.device/llama.cpp

if [[ "${1:-}" == "--ops-only" ]]; then
    SKIP_BENCH=1
elif [[ "${1:-}" == "--pack" ]]; then
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
    ggml-rpc-server llama-completion test-backend-ops >"$OUT/llama-build.log" 2>&1

step "building this project"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC_DIR="$PWD/$SRC" \
    -DLLAMA_BUILD_DIR="$LLAMA_BUILD" >"$OUT/build.log" 2>&1
cmake --build build-gpu -j "$JOBS" >>"$OUT/build.log" 2>&1

if [[ -z "${SKIP_BENCH:-}" ]]; then
# the CPU time the machine's hypervisor gave to others (steal) since the /proc/stat line $1, in %: the
# benchmarks' CPU side (the guest's threads, the host's) is sensitive to it, and machines differ
steal_since() {
    python3 - "$1" "$(head -1 /proc/stat)" <<'PY'
import sys
a, b = ([int(x) for x in line.split()[1:]] for line in sys.argv[1:3])
d = [y - x for x, y in zip(a, b)]
print("%.1f" % (100.0 * d[7] / max(1, sum(d[:8]))))
PY
}

step "benchmarks"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "kernel $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"; } | tee "$OUT/gpu.txt"
for preset in ${PRESETS:-llama-1b llama-8b}; do
    step "benchmark $preset"
    mkdir -p "$OUT/$preset"
    stat_before=$(head -1 /proc/stat)
    LLAMA_BIN_DIR=$LLAMA_BUILD/bin BUILD_DIR=build-gpu BACKEND=$LLAMA_BUILD/bin/libggml-cuda.so DEVICE=CUDA0 \
        PRESET=$preset TYPE=${TYPE:-q4_0} PP=512 TG=128 REPS=${REPS:-3} RAW_DIR="$OUT/$preset" bench/run.sh 2>&1 |
        tee "$OUT/bench-$preset.txt"
    echo "CPU time stolen by the hypervisor during the $preset benchmark: $(steal_since "$stat_before") %" |
        tee -a "$OUT/bench-$preset.txt"
done
fi

# profile NAME CLIENT-ARGS...: a llama-1b run through VirtGPU with GGML_VIRTGPU_DEBUG=1 on both sides; prints
# where its time went (the host's ext_graph_run phases, p50, the guest's calls, and bench/timeline.py's
# run-by-run timeline) into $OUT/profile-NAME.txt
profile() {
    local name=$1; shift
    GGML_VIRTGPU_DEBUG=1 build-gpu/bin/apir-server --socket /tmp/prof.sock \
        --backend-library "$PWD/build-gpu/lib/libggml-virtgpu-backend.so" \
        --ggml-library "$LLAMA_BUILD/bin/libggml-cuda.so" 2>"$OUT/profile-$name-host.log" &
    local server=$!
    sleep 1
    GGML_VIRTGPU_DEBUG=1 GGML_BACKEND_PATH=$PWD/build-gpu/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=/tmp/prof.sock \
        GGML_REMOTING_USE_APIR_CAPSET=1 "$@" >/dev/null 2>"$OUT/profile-$name-guest.log" &
    local client=$!
    sleep 8 # the model loaded: the connection's process is computing
    for pid in $(pgrep -P "$server"); do grep -H Seccomp "/proc/$pid/status"; done >"$OUT/sandbox.txt"
    wait "$client"
    kill "$server"
    python3 - "$OUT/profile-$name-host.log" "$OUT/profile-$name-guest.log" <<'PY' | tee "$OUT/profile-$name.txt"
import re, statistics, sys
host = open(sys.argv[1]).read()
compute = [int(m) for m in re.findall(r"backend_graph_compute: \d+ nodes in (\d+) us", host)]
checks = [int(m) for m in re.findall(r"indices checked in (\d+) us", host)]
decoded = re.findall(r"graph: (\d+) nodes decoded, validated and kept in (\d+) us", host)
print("host graph compute: p50 %d us over %d runs%s" % (statistics.median(compute), len(compute),
      " (each: %s)" % ", ".join(map(str, compute)) if len(compute) <= 8 else ""))
print("host index checks: p50 %d us" % statistics.median(checks))
print("graphs decoded and validated:", ", ".join("%s nodes in %s us" % d for d in decoded))
print("shared memory:", "; ".join(re.findall(r"shared-memory resource \d+ \(\d+ bytes\) [^\n]*", host)) or "never pinned")
runs = re.findall(r"ext_graph_run: (\d+) writes in (\d+) us, graph in (\d+) us, (\d+) outputs in (\d+) us", host)
if runs:
    med = lambda i: statistics.median(int(r[i]) for r in runs)
    print("host ext_graph_run, p50 over %d runs: %d writes in %d us, graph (index checks + compute) %d us, "
          "%d outputs copied in %d us" % (len(runs), med(0), med(1), med(2), med(3), med(4)))
for line in open(sys.argv[2]):
    if " calls, " in line or re.search(r": p50 ", line):
        print("guest:", line.split("debug: ", 1)[-1].rstrip())
PY
    python3 bench/timeline.py "$OUT/profile-$name-host.log" "$OUT/profile-$name-guest.log" | tee -a "$OUT/profile-$name.txt"
}

for preset in ${PROFILE_PRESETS:-llama-1b}; do
    model=build/models/$preset-${TYPE:-q4_0}.gguf
    mkdir -p build/models
    [[ -f $model ]] || build-gpu/bin/gguf-model-maker --preset "$preset" --type "${TYPE:-q4_0}" -o "$model"
    suffix=$([[ $preset == llama-1b ]] || echo "-$preset")
    if [[ " ${PROFILE_TESTS:-tg pp} " == *" tg "* ]]; then
    step "where a $preset token's time goes (GGML_VIRTGPU_DEBUG=1 both sides, llama-completion, 64 tokens)"
    profile "tg$suffix" "$LLAMA_BUILD/bin/llama-completion" -m "$model" -p "The capital of France is" -n 64 --temp 0 \
        --ignore-eos -no-cnv --no-display-prompt -c 256 -ngl 99 -dev VirtGPU0-CUDA0 -v # -v: debug lines
    fi
    if [[ " ${PROFILE_TESTS:-tg pp} " == *" pp "* ]]; then
    step "where a $preset pp512 batch's time goes (GGML_VIRTGPU_DEBUG=1 both sides, llama-bench -p 512 -n 0 -r ${REPS:-3})"
    profile "pp$suffix" "$LLAMA_BUILD/bin/llama-bench" -m "$model" -p 512 -n 0 -r "${REPS:-3}" -ngl 99 \
        -dev VirtGPU0-CUDA0 -v
    fi
done

if [[ -n "${AB_ENV:-}" ]]; then
    for preset in ${AB_PRESETS:-llama-1b}; do
        step "$preset once more with $AB_ENV, for comparison"
        env "$AB_ENV" LLAMA_BIN_DIR=$LLAMA_BUILD/bin BUILD_DIR=build-gpu BACKEND=$LLAMA_BUILD/bin/libggml-cuda.so \
            DEVICE=CUDA0 PRESET=$preset TYPE=${TYPE:-q4_0} PP=512 TG=128 REPS=${REPS:-3} bench/run.sh 2>&1 |
            tee "$OUT/bench-$preset-${AB_ENV%%=*}.txt"
    done
fi

if [[ -z "${SKIP_OPS:-}" ]]; then
step "test-backend-ops through VirtGPU on CUDA0 (the ops of llama models)"
build-gpu/bin/apir-server --socket /tmp/ops.sock --backend-library "$PWD/build-gpu/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$LLAMA_BUILD/bin/libggml-cuda.so" 2>"$OUT/ops-server.log" &
server=$!
sleep 1
GGML_BACKEND_PATH=$PWD/build-gpu/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=/tmp/ops.sock GGML_REMOTING_USE_APIR_CAPSET=1 \
    timeout "${OPS_TIMEOUT:-400}" "$LLAMA_BUILD/bin/test-backend-ops" test -b VirtGPU0-CUDA0 \
    -o "ADD,MUL,SCALE,RMS_NORM,ROPE,SOFT_MAX,GET_ROWS,SET_ROWS,CPY,CONT,GLU,MUL_MAT" >/tmp/ops.txt 2>&1 || true
kill "$server"
printf 'passed %s, not supported %s, failed %s\n' "$(grep -c ': .*OK' /tmp/ops.txt)" \
    "$(grep -c 'not supported' /tmp/ops.txt)" "$(grep -c ': .*FAIL' /tmp/ops.txt)" | tee "$OUT/ops.txt"
{ grep ': .*FAIL' /tmp/ops.txt | head -40 || true; tail -5 /tmp/ops.txt; } >>"$OUT/ops.txt"
fi
step "done"
