#!/usr/bin/env bash
# Benchmarks, side by side from one run on one machine:
#  1. the round trip of the cheapest forwarded call (call_latency);
#  2. llama-bench prompt processing (pp) and generation (tg) of the same
#     model natively, through VirtGPU (apir-server on a temporary socket),
#     and through ggml-rpc (ggml-rpc-server on loopback).
# Environment: LLAMA_BIN_DIR (set by make), PRESET (default small), TYPE
# (default q4_0), MODEL (a .gguf instead of a made one), PP (default 128),
# TG (default 32), REPS (default 3), THREADS (default: all cores),
# BUILD_DIR (this project's build, default build), RAW_DIR (a folder for
# llama-bench's own jsonl output). For a GPU host:
# BACKEND (host GGML library, default the CPU one), DEVICE (its device as
# ggml names it, default CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN_DIR:?run through make bench}"
PRESET=${PRESET:-small}
TYPE=${TYPE:-q4_0}
PP=${PP:-128}
TG=${TG:-32}
REPS=${REPS:-3}
BACKEND=${BACKEND:-$LLAMA_BIN_DIR/libggml-cpu.so}
DEVICE=${DEVICE:-CPU}
THREADS=${THREADS:-$(nproc)}
BUILD_DIR=${BUILD_DIR:-build}
if [[ -z "${MODEL:-}" ]]; then
    MODEL=build/models/$PRESET-$TYPE.gguf
    if [[ ! -f "$MODEL" ]]; then
        mkdir -p build/models
        "$BUILD_DIR/bin/gguf-model-maker" --preset "$PRESET" --type "$TYPE" -o "$MODEL"
    fi
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

socket=$work/apir.sock
"$BUILD_DIR/bin/apir-server" --socket "$socket" --backend-library "$PWD/$BUILD_DIR/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$BACKEND" 2>"$work/apir.log" &
pids+=($!)
rpc_port=$((30000 + RANDOM % 20000))
"$LLAMA_BIN_DIR/ggml-rpc-server" -H 127.0.0.1 -p "$rpc_port" -t "$THREADS" -d "$DEVICE" >"$work/rpc.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
sleep 0.5

echo "== round trip of the cheapest forwarded call (apir-server, vtest) =="
VTEST_SOCKET_NAME=$socket "$BUILD_DIR/bin/call_latency" 20000

if [[ $DEVICE == CPU ]]; then native_args=(-ngl 0); else native_args=(-ngl 99 -dev "$DEVICE"); fi

# bench NAME [llama-bench args]: prints "pp tg pp-steady tg-steady" tokens/s: llama-bench's mean over
# every repetition, then the median of the repetitions after the first (the first captures CUDA
# graphs, in every column, and varies most)
bench() {
    local name=$1; shift
    echo "[bench] $name ..." >&2
    "$LLAMA_BIN_DIR/llama-bench" -m "$MODEL" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" -o jsonl "$@" \
        >"$work/$name.jsonl" 2>"$work/$name.log" || { tail "$work/$name.log" >&2; echo "0 0 0 0"; return; }
    python3 -c 'import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def steady(r):
    ns = r["samples_ns"][1:] or r["samples_ns"]
    return (r["n_prompt"] + r["n_gen"]) / (statistics.median(ns) / 1e9)
pp = [r for r in rows if r["n_prompt"] > 0]
tg = [r for r in rows if r["n_gen"] > 0]
print(*(f(rs[0]) if rs else 0 for f in (lambda r: r["avg_ts"], steady) for rs in (pp, tg)))' "$work/$name.jsonl"
}

read -r native_pp native_tg native_pp_s native_tg_s <<<"$(bench native "${native_args[@]}")"
read -r vgpu_pp vgpu_tg vgpu_pp_s vgpu_tg_s <<<"$(GGML_BACKEND_PATH=$PWD/$BUILD_DIR/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=$socket \
    GGML_REMOTING_USE_APIR_CAPSET=1 bench virtgpu -ngl 99 -dev "VirtGPU0-$DEVICE")"
read -r rpc_pp rpc_tg rpc_pp_s rpc_tg_s <<<"$(bench rpc -ngl 99 -rpc "127.0.0.1:$rpc_port" -dev "RPC0")"
if [[ -n "${RAW_DIR:-}" ]]; then
    cp "$work"/*.jsonl "$RAW_DIR"/
fi

# the same greedy completion natively and through VirtGPU: the tokens must be identical
completion() {
    "$LLAMA_BIN_DIR/llama-completion" -m "$MODEL" -p "The capital of France is" -n 32 --temp 0 -s 42 --ignore-eos \
        -no-cnv --no-display-prompt --no-warmup -c 256 -t "$THREADS" "$@" 2>"$work/completion.log"
}
native_text=$(completion "${native_args[@]}" || echo "native completion failed")
vgpu_text=$(GGML_BACKEND_PATH=$PWD/$BUILD_DIR/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=$socket \
    GGML_REMOTING_USE_APIR_CAPSET=1 completion -ngl 99 -dev "VirtGPU0-$DEVICE" || echo "VirtGPU completion failed")
if [[ "$native_text" == "$vgpu_text" ]]; then same_tokens=yes; else same_tokens=NO; fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "== llama-bench: $MODEL, pp$PP / tg$TG, $REPS reps, $THREADS threads, device $DEVICE ($(basename "$BACKEND")) =="
# row TEST NATIVE VIRTGPU RPC (tokens/s)
row() {
    printf '%-9s %12.2f %12.2f %8s %12.2f %8s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")" "$4" "$(ratio "$4" "$2")"
}
printf '%-9s %12s %12s %8s %12s %8s\n' test native virtgpu ratio ggml-rpc ratio
row "pp$PP" "$native_pp" "$vgpu_pp" "$rpc_pp"
row "tg$TG" "$native_tg" "$vgpu_tg" "$rpc_tg"
row "pp$PP-st" "$native_pp_s" "$vgpu_pp_s" "$rpc_pp_s"
row "tg$TG-st" "$native_tg_s" "$vgpu_tg_s" "$rpc_tg_s"
echo "(tokens/s; pp$PP, tg$TG: llama-bench's mean over all $REPS repetitions; -st: the steady state, the median of the repetitions after the first)"
echo "greedy completion of 32 tokens, native and through VirtGPU identical: $same_tokens"
