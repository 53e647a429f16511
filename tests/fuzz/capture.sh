#!/usr/bin/env bash
# Captures real guest traffic for the fuzz corpus: apir-server runs with
# GGML_VIRTGPU_CAPTURE_DIR set while llama-completion (two small models) and
# test-backend-ops (op by op, a context each) run through VirtGPU; then
# seeds.py turns the capture into seed inputs of every target.
# usage: capture.sh BUILD_DIR OUT_DIR   (LLAMA_BIN_DIR set; a normal gcc build)
# OUT_DIR/raw gets the capture, OUT_DIR/<target>/ the seeds; minimize them
# into tests/fuzz/corpus with `make fuzz-corpus SEEDS=OUT_DIR` (README.md).
source "$(dirname "$0")/../lib.sh"
BUILD=$(realpath "$1")
OUT=$(realpath -m "$2")
APIR_SERVER=$BUILD/bin/apir-server
FRONTEND=$BUILD/lib/libggml-virtgpu.so
mkdir -p "$OUT/raw"
unset VIRGL_APIR_BACKEND_LIBRARY APIR_LLAMA_CPP_GGML_LIBRARY_PATH GGML_BACKEND_PATH VTEST_SOCKET_NAME

# no sandbox: the capture opens its files while the contexts run
GGML_VIRTGPU_CAPTURE_DIR=$OUT/raw start_server capture --no-sandbox --backend-library "$BUILD/lib/libggml-virtgpu-backend.so" \
    --ggml-library "$LLAMA_BIN_DIR/libggml-cpu.so" || exit 1
ON_SERVER=(VTEST_SOCKET_NAME="$TEST_TMP/capture.sock" GGML_REMOTING_USE_APIR_CAPSET=1)

for model in "tiny --seed 3" "small --type q8_0 --seed 4"; do
    name=${model%% *}
    # shellcheck disable=SC2086
    "$BUILD/bin/gguf-model-maker" --preset $model -o "$TEST_TMP/$name.gguf" >/dev/null
    with_virtgpu "${ON_SERVER[@]}" -- complete "$name" "$name" -ngl 99 -n 4 --device VirtGPU0-CPU
    check "llama-completion ($name) through VirtGPU" test $? -eq 0
done

for op in ADD MUL SCALE RMS_NORM ROPE SOFT_MAX GET_ROWS SET_ROWS CPY CONT GLU SILU ARGSORT SUM_ROWS CONCAT \
          MUL_MAT MUL_MAT_ID FLASH_ATTN_EXT NORM SUM MEAN VIEW TRANSPOSE PERMUTE; do
    with_virtgpu "${ON_SERVER[@]}" -- "$LLAMA_BIN_DIR/test-backend-ops" test -b VirtGPU0-CPU -o "$op" \
        >"$TEST_TMP/ops-$op.log" 2>&1
    check "test-backend-ops -o $op through VirtGPU" test $? -eq 0
done
stop_server "$SERVER_PID"

python3 "$(dirname "$0")/seeds.py" "$OUT/raw" "$OUT"
check "seeds made from the capture" test -n "$(ls "$OUT/graph_compute")"
finish
