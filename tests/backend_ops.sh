#!/usr/bin/env bash
# test-backend-ops in test mode against the VirtGPU device (apir-server with
# the CPU backend): every op/type the host supports must match the local CPU
# backend. Prints the counts.
# usage: backend_ops.sh APIR_SERVER HOST_LIBRARY FRONTEND [OPS]   (LLAMA_BIN_DIR set)
# OPS: test-backend-ops -o list; empty for the full suite.
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1
HOST_LIBRARY=$2
FRONTEND=$3
OPS=${4:-}
start_server ops --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-cpu.so"
(
    export GGML_BACKEND_PATH="$FRONTEND" VTEST_SOCKET_NAME="$TEST_TMP/ops.sock" GGML_REMOTING_USE_APIR_CAPSET=1
    use_frontend_runtime
    exec "$LLAMA_BIN_DIR/test-backend-ops" test -b VirtGPU0-CPU ${OPS:+-o "$OPS"}
) >"$TEST_TMP/ops.out" 2>&1
rc=$?
passed=$(grep -c ': .*OK' "$TEST_TMP/ops.out")
failed=$(grep -c ': .*FAIL' "$TEST_TMP/ops.out")
unsupported=$(grep -c 'not supported' "$TEST_TMP/ops.out")
printf 'test-backend-ops on VirtGPU0-CPU%s: %d passed, %d not supported, %d failed\n' \
    "${OPS:+ (ops $OPS)}" "$passed" "$unsupported" "$failed"
grep ': .*FAIL' "$TEST_TMP/ops.out" | head -20
check "test-backend-ops exits 0" test $rc -eq 0
check "some cases ran" test "$passed" -gt 0
check "no case failed" test "$failed" -eq 0
check "test-backend-ops says the VirtGPU backend passed" grep -qE "Backend VirtGPU0-CPU: .*OK" "$TEST_TMP/ops.out"
stop_server "$SERVER_PID"
finish
