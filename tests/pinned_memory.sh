#!/usr/bin/env bash
# The guest's shared memory pinned for a GPU device's copies: the test GGML
# library's device TestB (memory that is not host memory, with a host buffer
# type, as a GPU's) and its stand-in for the GPU runtime's cudaHostRegister.
# llama-completion through VirtGPU (a prompt whose token embeddings, computed
# on the guest's CPU, are larger than a queued write) must give the native
# tokens whether the host pins (each blob once, every registration undone when the context
# ends), is told not to (GGML_VIRTGPU_NO_PIN), or the runtime refuses (tried
# once per blob, its error cleared before the next compute). The guest offers
# the device's host buffer type, in shared memory: llama.cpp's CPU compute
# buffer is there, and the embeddings go to the host with no copy (none
# with GGML_VIRTGPU_NO_HOST_BUFFER). The run's two debug logs give
# bench/timeline.py's token timeline.
# usage: pinned_memory.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER TWO_DEVICES_LIBRARY (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
two_devices_test_args "$@"

"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null
# 30 sentences: more than 64 KiB of token embeddings (1 KiB a token in tiny)
prompt=(-p "$(printf 'The capital of France is Paris. %.0s' $(seq 30))")
check "native CPU run" complete native tiny -ngl 0 "${prompt[@]}"

# run_on_device_b NAME [NAME=VALUE]...: a completion on TestB through a new
# apir-server whose environment has the assignments given
run_on_device_b() {
    local name=$1; shift
    (
        for assignment in GGML_VIRTGPU_DEBUG=1 "$@"; do export "${assignment?}"; done
        start_server "$name" --backend-library "$HOST_LIBRARY" --ggml-library "$TWO_DEVICES" &&
            with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/$name.sock" -- complete "$name" tiny -ngl 99 -dev VirtGPU1-TestB -v \
                "${prompt[@]}"
        local status=$?
        stop_server "$SERVER_PID"
        return "$status"
    )
    check "$name: the run through VirtGPU" test $? -eq 0
    check "$name: the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/$name.out"
}

count() { grep -c -- "$2" "$TEST_TMP/$1.err" || true; }

run_on_device_b pinned
registered=$(count pinned "): registered")
check "pinned: the host pinned shared memory" test "$registered" -ge 1
check_contains "pinned: the host says so at debug level" "$TEST_TMP/pinned.err" "pinned for the device's copies"
check "pinned: each blob registered once (no overlapping registration)" test "$(count pinned overlaps)" -eq 0
check "pinned: every registration undone when the context ends" \
    test "$(count pinned "): unregistered")" -eq "$registered"
check "pinned: nothing unregistered that was not registered" test "$(count pinned "not registered")" -eq 0
check_contains "pinned: llama.cpp's CPU compute buffer is in the device's host buffer type" \
    "$TEST_TMP/pinned.log" "VirtGPU1-TestB_Host compute buffer size"
check_contains "pinned: the prompt's token embeddings are taken from shared memory, not copied" \
    "$TEST_TMP/pinned.log" "#embd#0' taken by the host from the shared memory"
# the two debug logs give a token timeline: each graph run of the guest is one of the host's
python3 "$(dirname "$0")/../bench/timeline.py" "$TEST_TMP/pinned.err" "$TEST_TMP/pinned.log" >"$TEST_TMP/timeline.txt"
check_contains "pinned: bench/timeline.py pairs the guest's graph runs with the host's" \
    "$TEST_TMP/timeline.txt" "token timeline over"

run_on_device_b not-pinned GGML_VIRTGPU_NO_PIN=1
check "not-pinned: GGML_VIRTGPU_NO_PIN=1 pins nothing" test "$(count not-pinned cudaHostRegister)" -eq 0

run_on_device_b no-host-buffer GGML_VIRTGPU_NO_HOST_BUFFER=1
check "no-host-buffer: GGML_VIRTGPU_NO_HOST_BUFFER=1 offers no host buffer type" \
    bash -c "! grep -q 'VirtGPU1-TestB_Host' '$TEST_TMP/no-host-buffer.log'"
check "no-host-buffer: nothing is taken from shared memory of the guest's buffers" \
    bash -c "! grep -q 'taken by the host from the shared memory' '$TEST_TMP/no-host-buffer.log'"

run_on_device_b refused TWO_DEVICES_PIN_FAIL=1
check_contains "refused: the host says the memory could not be pinned" "$TEST_TMP/refused.err" "could not be pinned"
blobs=$(grep -o "cudaHostRegister([^,]*" "$TEST_TMP/refused.err" | sort -u | wc -l)
check "refused: registering tried once per blob" test "$(count refused "cudaHostRegister(")" -eq "$blobs"
check "refused: the runtime's error cleared before the next compute" \
    bash -c "! grep -q 'left uncleared' '$TEST_TMP/refused.err'"
finish
