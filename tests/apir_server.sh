#!/usr/bin/env bash
# apir-server as a user meets it: command line, serving real guest processes
# over vtest (one at a time and concurrently), the seed's configuration
# through options and the environment, its error messages, its log files,
# and a clean stop on SIGTERM.
# usage: apir_server.sh APIR_SERVER HOST_LIBRARY CLIENT   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1
HOST_LIBRARY=$2
CLIENT=$3
CPU_LIBRARY=$LLAMA_BIN_DIR/libggml-cpu.so
unset VIRGL_APIR_BACKEND_LIBRARY APIR_LLAMA_CPP_GGML_LIBRARY_PATH APIR_LLAMA_CPP_GGML_LIBRARY_REG \
      VIRGL_ROUTE_VENUS_TO_APIR GGML_REMOTING_USE_APIR_CAPSET

"$APIR_SERVER" --help >"$TEST_TMP/help" 2>&1
check "--help exits 0" test $? -eq 0
check_contains "--help lists --ggml-library" "$TEST_TMP/help" "--ggml-library PATH"
"$APIR_SERVER" --frob >/dev/null 2>"$TEST_TMP/bad"
check "an unknown option exits 2" test $? -eq 2
check_contains "an unknown option is named" "$TEST_TMP/bad" "unknown option '--frob'"

# options
start_server opts --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
check "a client runs every call over vtest (configured by options)" \
    env VTEST_SOCKET_NAME="$TEST_TMP/opts.sock" "$CLIENT"
VTEST_SOCKET_NAME="$TEST_TMP/opts.sock" "$CLIENT" >"$TEST_TMP/c1.out" 2>&1 &
c1=$!
VTEST_SOCKET_NAME="$TEST_TMP/opts.sock" "$CLIENT" >"$TEST_TMP/c2.out" 2>&1 &
c2=$!
check "two concurrent clients: first" wait $c1
check "two concurrent clients: second" wait $c2
check "SIGTERM stops the server with status 0" stop_server "$SERVER_PID"
check "the socket file is removed" test ! -e "$TEST_TMP/opts.sock"

# the environment, with both log files
VIRGL_APIR_BACKEND_LIBRARY=$HOST_LIBRARY APIR_LLAMA_CPP_GGML_LIBRARY_PATH=$CPU_LIBRARY \
VIRGL_APIR_LOG_TO_FILE=$TEST_TMP/apir.log APIR_LLAMA_CPP_LOG_TO_FILE=$TEST_TMP/ggml.log \
    start_server env
check "a client runs over vtest (configured by the environment)" \
    env VTEST_SOCKET_NAME="$TEST_TMP/env.sock" "$CLIENT"
stop_server "$SERVER_PID"
check_contains "VIRGL_APIR_LOG_TO_FILE gets the APIR component's log" "$TEST_TMP/apir.log" "context 1 created"
check_contains "APIR_LLAMA_CPP_LOG_TO_FILE gets the host library's log" "$TEST_TMP/ggml.log" "context 1 runs on CPU"
check "the host library's errors go to its log file, not stderr" \
    bash -c "! grep -q 'ggml-virtgpu-backend' '$TEST_TMP/env.err'"

# options take precedence over the environment
APIR_LLAMA_CPP_GGML_LIBRARY_PATH=/nonexistent/libggml-cpu.so \
    start_server prec --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
check "--ggml-library overrides APIR_LLAMA_CPP_GGML_LIBRARY_PATH" \
    env VTEST_SOCKET_NAME="$TEST_TMP/prec.sock" "$CLIENT"
stop_server "$SERVER_PID"

# expect_refusal NAME DESCRIPTION SERVER-MESSAGE CLIENT-MESSAGE [SERVER ARGS...]:
# the client fails with CLIENT-MESSAGE, the server logs SERVER-MESSAGE and keeps serving
expect_refusal() {
    local name=$1 what=$2 server_msg=$3 client_msg=$4; shift 4
    start_server "$name" "$@"
    VTEST_SOCKET_NAME="$TEST_TMP/$name.sock" "$CLIENT" >"$TEST_TMP/$name.client" 2>&1
    check "$what: the client is refused" test $? -ne 0
    check_contains "$what: the client says why" "$TEST_TMP/$name.client" "$client_msg"
    check "$what: the server is still running" kill -0 "$SERVER_PID"
    stop_server "$SERVER_PID"
    check_contains "$what: the server logs the seed's message" "$TEST_TMP/$name.err" "$server_msg"
}
expect_refusal nopath "APIR_LLAMA_CPP_GGML_LIBRARY_PATH unset" \
    "cannot open the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_PATH' not defined" \
    "set APIR_LLAMA_CPP_GGML_LIBRARY_PATH" --backend-library "$HOST_LIBRARY"
expect_refusal missing "GGML library path to a missing file" \
    "cannot open the GGML library: /nonexistent/libggml-cuda.so" \
    "cannot open the GGML library named by APIR_LLAMA_CPP_GGML_LIBRARY_PATH" \
    --backend-library "$HOST_LIBRARY" --ggml-library /nonexistent/libggml-cuda.so
expect_refusal badreg "a registration symbol that does not exist" \
    "cannot register the GGML library: no symbol 'ggml_backend_nope_reg'" \
    "set APIR_LLAMA_CPP_GGML_LIBRARY_REG" \
    --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY" --ggml-reg ggml_backend_nope_reg
expect_refusal noreg "the default registration symbol missing" \
    "cannot register the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_REG' not defined" \
    "set APIR_LLAMA_CPP_GGML_LIBRARY_REG" \
    --backend-library "$HOST_LIBRARY" --ggml-library "$LLAMA_BIN_DIR/libggml-base.so"
expect_refusal nobackend "VIRGL_APIR_BACKEND_LIBRARY unset" \
    "env var 'VIRGL_APIR_BACKEND_LIBRARY' not defined" "set VIRGL_APIR_BACKEND_LIBRARY" \
    --ggml-library "$CPU_LIBRARY"
expect_refusal wrongbackend "VIRGL_APIR_BACKEND_LIBRARY wrong" \
    "cannot open the APIR backend library '/nonexistent/libggml-virtgpu-backend.so'" \
    "cannot open the APIR backend library named by VIRGL_APIR_BACKEND_LIBRARY" \
    --backend-library /nonexistent/libggml-virtgpu-backend.so --ggml-library "$CPU_LIBRARY"
finish
