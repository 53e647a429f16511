#!/usr/bin/env bash
# Several VirtGPU devices: a host whose GGML library has two devices, and two
# apir-server instances combined with GGML_VIRTGPU_SOCKETS. llama-completion
# splits the model over them by layers (-sm layer, -ts) and must give the
# native tokens; test-backend-ops passes on each device; a host without the
# multi-device extension (llama.cpp's own host library) shows one device.
# usage: multi_device.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER TWO_DEVICES_LIBRARY
#        (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
two_devices_test_args "$@"

"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null

# split_over NAME DEV_A DEV_B ENV... : layer splits over both devices give
# the native tokens, and both devices get layers
split_over() {
    local name=$1 a=$2 b=$3; shift 3
    with_virtgpu "$@" -- "$LLAMA_BIN_DIR/llama-completion" --list-devices >"$TEST_TMP/$name.devices" 2>&1
    check_contains "$name: $a is listed" "$TEST_TMP/$name.devices" "$a"
    check_contains "$name: $b is listed" "$TEST_TMP/$name.devices" "$b"
    for split in "" "3,1"; do
        local run=$name${split:+-ts}
        check "$name: -sm layer ${split:+-ts $split }runs" \
            with_virtgpu "$@" -- complete "$run" tiny -ngl 99 -sm layer -dev "$a,$b" ${split:+-ts "$split"} -v
        check "$name: -sm layer ${split:+-ts $split }gives the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/$run.out"
        check_contains "$name: layers on $a" "$TEST_TMP/$run.log" "assigned to device $a"
        check_contains "$name: layers on $b" "$TEST_TMP/$run.log" "assigned to device $b"
    done
    for dev in "$a" "$b"; do
        with_virtgpu "$@" -- "$LLAMA_BIN_DIR/test-backend-ops" test -b "$dev" -o "ADD,RMS_NORM,SOFT_MAX" \
            >"$TEST_TMP/$name-ops.out" 2>&1
        check "$name: test-backend-ops passes on $dev" grep -qE "Backend $dev: .*OK" "$TEST_TMP/$name-ops.out"
        printf '%s: %s\n' "$dev" "$(grep -E '[0-9]+/[0-9]+ tests passed' "$TEST_TMP/$name-ops.out" | tr -s ' ')"
    done
}

check "native CPU run" complete native tiny -ngl 0

# one host, two devices
start_server two --backend-library "$HOST_LIBRARY" --ggml-library "$TWO_DEVICES"
split_over two-devices VirtGPU0-TestA VirtGPU1-TestB VTEST_SOCKET_NAME="$TEST_TMP/two.sock"
stop_server "$SERVER_PID"

# two hosts
start_server a --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
server_a=$SERVER_PID
start_server b --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
server_b=$SERVER_PID
split_over two-hosts VirtGPU0-CPU VirtGPU1-CPU GGML_VIRTGPU_SOCKETS="$TEST_TMP/a.sock:$TEST_TMP/b.sock"
stop_server "$server_a"
stop_server "$server_b"

# a host without the extension: one device (llama.cpp's host library links
# llama.cpp's libggml-base, so its devices run on llama.cpp's libggml-cpu: in
# the sanitizer builds, not on the host side's copy with ASan)
TWO_DEVICES_CPU_LIBRARY=$LLAMA_BIN_DIR/libggml-cpu.so \
    start_server ref --backend-library "$LLAMA_BIN_DIR/libggml-virtgpu-backend.so" --ggml-library "$TWO_DEVICES"
with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/ref.sock" -- \
    "$LLAMA_BIN_DIR/llama-completion" --list-devices >"$TEST_TMP/ref.devices" 2>&1
check_contains "llama.cpp's host library: its device 0 is shown" "$TEST_TMP/ref.devices" "VirtGPU0-TestA"
check "llama.cpp's host library: no second device" bash -c "! grep -q VirtGPU1 '$TEST_TMP/ref.devices'"
# without this project's extensions (queued writes, graph run) the guest
# falls back to the base protocol
check "llama.cpp's host library: a run on its device" \
    with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/ref.sock" -- complete ref tiny -ngl 99 -dev VirtGPU0-TestA
check "llama.cpp's host library: the native tokens through the base protocol" cmp "$TEST_TMP/native.out" "$TEST_TMP/ref.out"
stop_server "$SERVER_PID"
finish
