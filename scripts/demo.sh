#!/usr/bin/env bash
# The main job, side by side: the same prompt answered by llama-completion
# (unmodified) natively, on llama.cpp's CPU backend with no VirtGPU, and
# through VirtGPU, every layer on the VirtGPU device of an apir-server that
# hosts the CPU backend on a temporary socket. Prints both texts, whether
# the tokens are identical, and each side's generation speed with the ratio.
# Environment: LLAMA_BIN_DIR (set by make), MODEL (a GGUF file; default: a
#              random-weight model of PRESET, default tiny), PROMPT,
#              N_PREDICT (default 32), THREADS (default: half the cores,
#              so that the guest's and the host's threads do not fight).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN_DIR:?run through make demo}"
PRESET=${PRESET:-tiny}
PROMPT=${PROMPT:-Once upon a time}
N_PREDICT=${N_PREDICT:-32}
THREADS=${THREADS:-$(( $(nproc) > 1 ? $(nproc) / 2 : 1 ))}
DEVICE=VirtGPU0-CPU

say() { printf '[demo] %s\n' "$*"; }
die() { printf '[demo] error: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The default model: random weights of the preset's shape, made once (a
# large preset takes minutes: the maker shows its progress)
random_model() {
    local model=build/models/$PRESET-q8_0.gguf
    if [[ ! -f "$model" ]]; then
        mkdir -p build/models
        say "making a random-weight '$PRESET' model: $model" >&2
        build/bin/gguf-model-maker --preset "$PRESET" --type q8_0 --progress -o "$model.partial" >/dev/null ||
            die "the model maker failed (its reason is above)"
        mv "$model.partial" "$model"
    fi
    printf '%s\n' "$model"
}

if [[ -n "${MODEL:-}" ]]; then
    [[ -f "$MODEL" ]] || die "MODEL=$MODEL: no such file; pass a GGUF model file"
    random_weights=false
else
    MODEL=$(random_model)
    random_weights=true
fi

# the host's CPU backend runs a thread per core it may use: THREADS cores,
# as many threads as the native run's
socket=$work/apir.sock
taskset -c "0-$((THREADS - 1))" build/bin/apir-server --socket "$socket" --backend-library "$PWD/build/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$LLAMA_BIN_DIR/libggml-cpu.so" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
[[ -S "$socket" ]] || { cat "$work/server.log" >&2; die "apir-server did not start (its log is above)"; }

# complete NAME ARGS...: llama-completion on the prompt, greedy; the text
# in $work/NAME.out, the log in $work/NAME.log
complete() {
    local name=$1; shift
    if ! "$LLAMA_BIN_DIR/llama-completion" -m "$MODEL" -p "$PROMPT" -n "$N_PREDICT" -t "$THREADS" --temp 0 -s 42 \
        --ignore-eos -no-cnv --no-display-prompt -c 512 -v "$@" >"$work/$name.out" 2>"$work/$name.log"; then
        tail -30 "$work/$name.log" >&2
        die "llama-completion ($name) failed (the end of its log is above)"
    fi
}

# generation tokens/s of a run, from llama.cpp's timings
speed() {
    grep -E ' eval time' "$work/$1.log" | grep -v prompt | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/'
}

say "model: $MODEL"
if $random_weights; then
    say "NOTE: this model has RANDOM weights, so both texts are gibberish by design: the point is"
    say "      that they are the same. For real text pass a real GGUF: make demo MODEL=/path/to/model.gguf"
fi
say "prompt: \"$PROMPT\", $N_PREDICT tokens, greedy; threads: $THREADS (native run and host)"
say "native: llama-completion on llama.cpp's CPU backend (no VirtGPU) ..."
complete native -ngl 0
say "VirtGPU: llama-completion with GGML_BACKEND_PATH=build/lib/libggml-virtgpu.so, -ngl 99 --device $DEVICE,"
say "         apir-server hosting the CPU backend on $socket ..."
GGML_BACKEND_PATH=$PWD/build/lib/libggml-virtgpu.so VTEST_SOCKET_NAME=$socket GGML_REMOTING_USE_APIR_CAPSET=1 \
    complete virtgpu -ngl 99 --device "$DEVICE"
grep -q "using device $DEVICE" "$work/virtgpu.log" ||
    { grep -i virtgpu "$work/virtgpu.log" >&2; die "the VirtGPU run did not use the VirtGPU device (reasons above)"; }

echo
say "native text:"
printf '%s%s\n\n' "$PROMPT" "$(cat "$work/native.out")"
say "VirtGPU text ($(grep -o 'offloaded [0-9]*/[0-9]* layers to GPU' "$work/virtgpu.log" | head -1)):"
printf '%s%s\n\n' "$PROMPT" "$(cat "$work/virtgpu.out")"
if cmp -s "$work/native.out" "$work/virtgpu.out"; then
    say "tokens: IDENTICAL (the two generated texts are the same, byte for byte)"
else
    say "tokens: DIFFERENT (the two generated texts differ)"
    identical=false
fi
native_speed=$(speed native)
virtgpu_speed=$(speed virtgpu)
ratio=$(awk -v a="$virtgpu_speed" -v b="$native_speed" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
say "generation: native ${native_speed:-?} tokens/s, VirtGPU ${virtgpu_speed:-?} tokens/s (VirtGPU/native: $ratio)"
say "            (one short run each, so a busy machine sways them; make bench measures with repetitions)"
${identical:-true} || die "VirtGPU did not give the native tokens: a bug; please report it with both texts"
