#!/usr/bin/env bash
# Scale-out with llama.cpp's own ggml-rpc beside VirtGPU: llama-completion
# with GGML_BACKEND_PATH (our frontend, on a real apir-server) and --rpc (a
# real ggml-rpc-server on a free loopback port) splits a model by layers
# over VirtGPU0-CPU and RPC0, gives the native tokens, and both devices get
# layers.
# usage: rpc_scale_out.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1
HOST_LIBRARY=$2
FRONTEND=$3
MAKER=$4
VIRTGPU_DEVICE=VirtGPU0-CPU
RPC_DEVICE=RPC0 # ggml-rpc names the devices of its servers RPC0, RPC1, ... in --rpc order

# free_port: a loopback port nobody listens on now (the kernel's pick)
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_rpc_server: ggml-rpc-server (CPU) on a free loopback port; sets
# RPC_PORT and RPC_PID once the port accepts connections. Another process
# may take the port between the pick and the bind: then it tries again.
start_rpc_server() {
    for _ in 1 2 3; do
        RPC_PORT=$(free_port)
        "$LLAMA_BIN_DIR/ggml-rpc-server" --host 127.0.0.1 --port "$RPC_PORT" >"$TEST_TMP/rpc.log" 2>&1 &
        RPC_PID=$!
        for _ in $(seq 100); do
            kill -0 "$RPC_PID" 2>/dev/null || break
            (exec 3<>"/dev/tcp/127.0.0.1/$RPC_PORT") 2>/dev/null && return 0
            sleep 0.05
        done
        kill "$RPC_PID" 2>/dev/null
        wait "$RPC_PID" 2>/dev/null
    done
    echo "ggml-rpc-server did not start:"; cat "$TEST_TMP/rpc.log"
    return 1
}

"$MAKER" --preset tiny --seed 7 -o "$TEST_TMP/tiny.gguf" >/dev/null
check "native CPU run" complete native tiny -ngl 0

start_server apir --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-cpu.so"
check "ggml-rpc-server starts" start_rpc_server

ON_APIR=(VTEST_SOCKET_NAME="$TEST_TMP/apir.sock" GGML_REMOTING_USE_APIR_CAPSET=1)
RPC=(--rpc "127.0.0.1:$RPC_PORT") # before -dev: llama.cpp parses its arguments in order

with_virtgpu "${ON_APIR[@]}" -- "$LLAMA_BIN_DIR/llama-completion" "${RPC[@]}" --list-devices \
    >"$TEST_TMP/devices" 2>&1
check_contains "the VirtGPU device is listed" "$TEST_TMP/devices" "$VIRTGPU_DEVICE:"
check_contains "the RPC device is listed" "$TEST_TMP/devices" "$RPC_DEVICE: 127.0.0.1:$RPC_PORT"

check "VirtGPU + RPC, -sm layer: runs" with_virtgpu "${ON_APIR[@]}" -- \
    complete both tiny "${RPC[@]}" -dev "$VIRTGPU_DEVICE,$RPC_DEVICE" -sm layer -ngl 99 -v
check "VirtGPU + RPC, -sm layer: the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/both.out"
check_contains "layers on $VIRTGPU_DEVICE" "$TEST_TMP/both.log" "assigned to device $VIRTGPU_DEVICE,"
check_contains "layers on $RPC_DEVICE" "$TEST_TMP/both.log" "assigned to device $RPC_DEVICE,"
# the weights really went to each server, not only the plan
check "weights in a $VIRTGPU_DEVICE buffer" \
    grep -qE "$VIRTGPU_DEVICE model buffer size = +[1-9]" "$TEST_TMP/both.log"
check "weights in an $RPC_DEVICE buffer" \
    grep -qE "$RPC_DEVICE\[127.0.0.1:$RPC_PORT\] model buffer size = +[1-9]" "$TEST_TMP/both.log"
check_contains "ggml-rpc-server served the run" "$TEST_TMP/rpc.log" "Accepted client connection"
printf 'native:        %s\nvirtgpu + rpc: %s\n' "$(cat "$TEST_TMP/native.out")" "$(cat "$TEST_TMP/both.out")"

kill "$RPC_PID"
wait "$RPC_PID" 2>/dev/null
check "apir-server stops cleanly" stop_server "$SERVER_PID"
finish
