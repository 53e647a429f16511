#!/usr/bin/env bash
# Benchmarks: llama-bench prompt processing and generation on a random-weight
# model. Environment: LLAMA_BIN_DIR (set by make), PRESET (default small),
# TYPE (default q4_0), REPS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_BIN_DIR:?run through make bench}"
PRESET=${PRESET:-small}
TYPE=${TYPE:-q4_0}
MODEL=build/models/$PRESET-$TYPE.gguf
if [[ ! -f "$MODEL" ]]; then
    mkdir -p build/models
    build/bin/gguf-model-maker --preset "$PRESET" --type "$TYPE" -o "$MODEL"
fi
echo "[bench] native CPU, $MODEL"
"$LLAMA_BIN_DIR/llama-bench" -m "$MODEL" -p 128 -n 32 -r "${REPS:-3}" -o md
