#!/usr/bin/env bash
# Each repetition's time, natively and through VirtGPU, for one llama-bench
# test under several CPU thread counts and guest settings: where bench/run.sh
# gives means, this shows warm-up repetitions and the steady state apart.
# Run it after bench/gpu.sh on the same machine (it uses its builds), or with
# LLAMA_BIN_DIR, BUILD_DIR, BACKEND and DEVICE set as for bench/run.sh.
# Environment: PRESETS (default "llama-1b llama-8b"), TYPE (q4_0), TEST (llama-bench
# arguments, default "-p 512 -n 0"), REPS (10), THREADS (default "$(nproc) $(($(nproc) / 2))"),
# VARIANTS (assignments for the guest, run as extra VirtGPU columns; default
# GGML_VIRTGPU_NO_HOST_BUFFER=1).
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_BIN_DIR=${LLAMA_BIN_DIR:-/tmp/llama-cuda/bin}
BUILD_DIR=${BUILD_DIR:-build-gpu}
BACKEND=${BACKEND:-$LLAMA_BIN_DIR/libggml-cuda.so}
DEVICE=${DEVICE:-CUDA0}
REPS=${REPS:-10}
read -r -a test_args <<<"${TEST:--p 512 -n 0}"

work=$(mktemp -d)
"$BUILD_DIR/bin/apir-server" --socket "$work/apir.sock" --backend-library "$PWD/$BUILD_DIR/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$BACKEND" 2>"$work/apir.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -S $work/apir.sock ]] && break; sleep 0.05; done

# samples LABEL ENV... -- LLAMA-BENCH-ARGS...: one line of milliseconds per repetition
samples() {
    local label=$1; shift
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" "$LLAMA_BIN_DIR/llama-bench" "$@" -r "$REPS" -o jsonl >"$work/out.jsonl" 2>"$work/err.log" ||
        { printf '%-44s failed: %s\n' "$label" "$(tail -1 "$work/err.log")"; return; }
    python3 - "$label" "$work/out.jsonl" <<'PY'
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][0]
ms = [s / 1e6 for s in r["samples_ns"]]
steady = sorted(ms[2:]) if len(ms) > 4 else sorted(ms)
print("%-44s median of reps 3+: %8.2f ms | %s" % (sys.argv[1], statistics.median(steady), " ".join("%.2f" % m for m in ms)))
PY
}

virtgpu=(GGML_BACKEND_PATH="$PWD/$BUILD_DIR/lib/libggml-virtgpu.so" VTEST_SOCKET_NAME="$work/apir.sock"
    GGML_REMOTING_USE_APIR_CAPSET=1)
for preset in ${PRESETS:-llama-1b llama-8b}; do
    model=build/models/$preset-${TYPE:-q4_0}.gguf
    mkdir -p build/models
    [[ -f $model ]] || "$BUILD_DIR/bin/gguf-model-maker" --preset "$preset" --type "${TYPE:-q4_0}" -o "$model"
    echo "== $preset: llama-bench ${test_args[*]}, $REPS repetitions, milliseconds each =="
    for threads in ${THREADS:-$(nproc) $(($(nproc) / 2))}; do
        args=(-m "$model" "${test_args[@]}" -t "$threads" -ngl 99)
        if [[ $DEVICE == CPU ]]; then native=(-ngl 0); else native=(-dev "$DEVICE"); fi
        samples "native -t $threads" -- "${args[@]}" "${native[@]}"
        samples "virtgpu -t $threads" "${virtgpu[@]}" -- "${args[@]}" -dev "VirtGPU0-$DEVICE"
        for variant in ${VARIANTS-GGML_VIRTGPU_NO_HOST_BUFFER=1}; do
            samples "virtgpu -t $threads $variant" "${virtgpu[@]}" "$variant" -- "${args[@]}" -dev "VirtGPU0-$DEVICE"
        done
    done
done
