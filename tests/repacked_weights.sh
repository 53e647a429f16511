#!/usr/bin/env bash
# ggml-cpu's repacking buffer type through VirtGPU: a llama.cpp run on a CPU
# host gets its Q4_0 weights repacked on the host, as a native run does
# (the host offers its extra buffer type, the guest shows it to llama.cpp):
# as many bytes in it, the same tensors repacked into the same layouts (the
# host's log against llama.cpp's), the native tokens; a weight larger than
# the data blob is written whole through a blob of its own.
# usage: repacked_weights.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1 HOST_LIBRARY=$2 FRONTEND=$3 MAKER=$4
DEVICE=VirtGPU0-CPU REPACK_TYPE=VirtGPU0-CPU_REPACK

"$MAKER" --preset small --type q4_0 --seed 5 -o "$TEST_TMP/small.gguf" >/dev/null
# the host library's log, with the GGML library's own lines (those of its repacking)
APIR_LLAMA_CPP_LOG_TO_FILE=$TEST_TMP/host.log \
    start_server main --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-cpu.so"

check "native CPU run" complete native small -ngl 0 -v
check_contains "natively the weights are repacked" "$TEST_TMP/native.log" "CPU_REPACK model buffer size"
check "VirtGPU run" with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/main.sock" GGML_REMOTING_USE_APIR_CAPSET=1 \
    GGML_VIRTGPU_DEBUG=1 -- complete virtgpu small -ngl 99 --device "$DEVICE" -v
check "VirtGPU gives the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/virtgpu.out"
# the last load's sizes (a dry run fitting the model to memory says 0.00 first)
repacked=$(grep -E "load_tensors: +$REPACK_TYPE model buffer size" "$TEST_TMP/virtgpu.log" | tail -1)
native=$(grep -E "load_tensors: +CPU_REPACK model buffer size" "$TEST_TMP/native.log" | tail -1)
check "the weights are in VirtGPU's repacking type ($repacked)" awk '$1 > 0 { ok = 1 } END { exit !ok }' \
    <<<"${repacked##*= }"
check "as many bytes of them as natively ($native)" test "${repacked##*= }" = "${native##*= }"

# repacked: the tensors ggml-cpu repacked and the layout it chose for each,
# from a log (llama.cpp's with -v, the host's)
repacked() {
    grep -o 'repack: repack tensor .*' "$1" | sort
}
repacked "$TEST_TMP/native.log" >"$TEST_TMP/native.repacked"
repacked "$TEST_TMP/host.log" >"$TEST_TMP/host.repacked"
check "the host repacked weights ($(wc -l <"$TEST_TMP/host.repacked") tensors)" test -s "$TEST_TMP/host.repacked"
check "the same tensors, in the same layouts, as a native run" diff "$TEST_TMP/native.repacked" "$TEST_TMP/host.repacked"
check_contains "the output weight (over the data blob) is written whole" "$TEST_TMP/virtgpu.log" \
    "'output.weight' (70 MiB) is written whole through a blob of its own"
check "the host did not refuse anything" test "$(cat "$TEST_TMP/main.err" "$TEST_TMP/host.log" | grep -c 'error')" -eq 0
printf 'native:  %s\nvirtgpu: %s\n' "$(cat "$TEST_TMP/native.out")" "$(cat "$TEST_TMP/virtgpu.out")"

stop_server "$SERVER_PID"

# without a log file of its own the host's stderr stays quiet: the GGML
# library's debug lines (each repacked tensor, as in host.log) are not there
start_server quiet --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-cpu.so"
check "VirtGPU run, the host without a log file" with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/quiet.sock" \
    GGML_REMOTING_USE_APIR_CAPSET=1 -- complete quietrun small -ngl 99 --device "$DEVICE"
check "and the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/quietrun.out"
stop_server "$SERVER_PID"
check "the host's stderr has none of the GGML library's debug lines" \
    bash -c "! grep -q 'repack: repack tensor' '$TEST_TMP/quiet.err'"
finish
