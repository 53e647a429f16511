#!/usr/bin/env bash
# The main job: apir-server hosts the CPU backend on a temporary socket;
# llama-completion, unmodified, loads the VirtGPU frontend and answers a
# prompt on a model from the model maker (or MODEL=path.gguf) with every
# layer on the VirtGPU device; prints the text and the speed.
# Environment: LLAMA_BIN_DIR (set by make), MODEL, PRESET (default tiny),
#              PROMPT, N_PREDICT (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN_DIR:?run through make demo}"
PRESET=${PRESET:-tiny}
PROMPT=${PROMPT:-Once upon a time}
N_PREDICT=${N_PREDICT:-32}

if [[ -z "${MODEL:-}" ]]; then
    MODEL=build/models/$PRESET-q8_0.gguf
    if [[ ! -f "$MODEL" ]]; then
        mkdir -p build/models
        echo "[demo] making a random-weight '$PRESET' model: $MODEL"
        build/bin/gguf-model-maker --preset "$PRESET" --type q8_0 -o "$MODEL"
    fi
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

socket=$work/apir.sock
build/bin/apir-server --socket "$socket" --backend-library "$PWD/build/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$LLAMA_BIN_DIR/libggml-cpu.so" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
[[ -S "$socket" ]] || { cat "$work/server.log" >&2; echo "[demo] error: apir-server did not start" >&2; exit 1; }
echo "[demo] apir-server (host backend: CPU) listening on $socket"

echo "[demo] llama-completion -m $MODEL -p \"$PROMPT\" -n $N_PREDICT -ngl 99, through VirtGPU"
if ! GGML_BACKEND_PATH=$PWD/build/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=$socket GGML_REMOTING_USE_APIR_CAPSET=1 \
    "$LLAMA_BIN_DIR/llama-completion" -m "$MODEL" -p "$PROMPT" -n "$N_PREDICT" -ngl 99 \
        --temp 0 -s 42 --ignore-eos -no-cnv --no-warmup -c 512 -v 2>"$work/llama.log"; then
    tail -30 "$work/llama.log" >&2
    echo "[demo] error: llama-completion failed (the end of its log is above)" >&2
    exit 1
fi
echo
if ! grep -q "using device VirtGPU" "$work/llama.log"; then
    grep -i "virtgpu" "$work/llama.log" >&2
    echo "[demo] error: the answer did not come through VirtGPU (reasons above)" >&2
    exit 1
fi
grep -o "using device VirtGPU[^ ]*" "$work/llama.log" | head -1 | sed 's/^/[demo] /'
grep -o "offloaded [0-9]*/[0-9]* layers to GPU" "$work/llama.log" | head -1 | sed 's/^/[demo] /'
speed=$(grep -E ' eval time' "$work/llama.log" | grep -v prompt | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
echo "[demo] generation: ${speed:-?} tokens/s"
