#!/usr/bin/env bash
# The main job: a prompt answered by llama-completion on a model from the
# model maker (or MODEL=path.gguf), printing the text and the speed.
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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "[demo] llama-completion -m $MODEL -p \"$PROMPT\" -n $N_PREDICT (CPU)"
if ! "$LLAMA_BIN_DIR/llama-completion" -m "$MODEL" -p "$PROMPT" -n "$N_PREDICT" \
        --temp 0 -s 42 --ignore-eos -no-cnv --no-warmup -c 512 2>"$log"; then
    cat "$log" >&2
    echo "[demo] error: llama-completion failed (its log is above)" >&2
    exit 1
fi
echo
speed=$(grep -E ' eval time' "$log" | grep -v prompt | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
echo "[demo] generation: ${speed:-?} tokens/s"
