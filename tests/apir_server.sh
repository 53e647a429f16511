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
CPU_LIBRARY=$GGML_HOST_LIB_DIR/libggml-cpu.so

"$APIR_SERVER" --help >"$TEST_TMP/help" 2>&1
check "--help exits 0" test $? -eq 0
check_contains "--help lists --ggml-library" "$TEST_TMP/help" "--ggml-library PATH"
for option in --max-context-memory --max-buffers --max-graph-nodes --max-command-bytes --max-blob-memory \
              --max-contexts --socket-fd; do
    check_contains "--help lists $option" "$TEST_TMP/help" "$option"
done
"$APIR_SERVER" --max-buffers lots >/dev/null 2>"$TEST_TMP/badlimit"
check "a limit that is not a number exits 2" test $? -eq 2
check_contains "and says why" "$TEST_TMP/badlimit" "--max-buffers: 'lots' is not a limit"
APIR_MAX_CONTEXT_MEMORY=8Q "$APIR_SERVER" >/dev/null 2>"$TEST_TMP/badenv"
check "a limit in the environment that is not a number exits 2" test $? -eq 2
check_contains "and names the variable" "$TEST_TMP/badenv" "APIR_MAX_CONTEXT_MEMORY: '8Q' is not a limit"
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
check_contains "the server logs how each connection's process ended" "$TEST_TMP/apir.log" \
    "client 1 (pid "
check "and it ended well (status 0: in sanitizer builds, no leak)" \
    grep -qE "client 1 \(pid [0-9]+\) exited with status 0" "$TEST_TMP/apir.log"
check "the host library's errors go to its log file, not stderr" \
    bash -c "! grep -q 'ggml-virtgpu-backend' '$TEST_TMP/env.err'"

# options take precedence over the environment
APIR_LLAMA_CPP_GGML_LIBRARY_PATH=/nonexistent/libggml-cpu.so \
    start_server prec --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
check "--ggml-library overrides APIR_LLAMA_CPP_GGML_LIBRARY_PATH" \
    env VTEST_SOCKET_NAME="$TEST_TMP/prec.sock" "$CLIENT"
stop_server "$SERVER_PID"

# limits as options (over the environment's): each refused call gets its
# code over vtest, the context goes on (the client checks both)
APIR_MAX_BUFFERS=1000 start_server limits --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY" \
    --max-buffers 3 --max-context-memory 2M --max-graph-nodes 8 --max-command-bytes 2K
check "limits: each refused with APIR_CALL_OVER_LIMIT, and the context goes on" \
    env VTEST_SOCKET_NAME="$TEST_TMP/limits.sock" TEST_LIMITS=1 "$CLIENT"
stop_server "$SERVER_PID"
for option in --max-context-memory --max-buffers --max-graph-nodes --max-command-bytes; do
    check_contains "limits: the server's log says $option raises the limit hit" "$TEST_TMP/limits.err" \
        "raise it with apir-server $option"
done

# --max-contexts: a guest over it is told why; the one served goes on
start_server one --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY" --max-contexts 1
VTEST_SOCKET_NAME="$TEST_TMP/one.sock" TEST_READY_FILE="$TEST_TMP/one.ready" TEST_GO_FILE="$TEST_TMP/one.go" \
    "$CLIENT" >"$TEST_TMP/first.out" 2>&1 &
first=$!
for _ in $(seq 200); do [[ -e "$TEST_TMP/one.ready" ]] && break; sleep 0.05; done
VTEST_SOCKET_NAME="$TEST_TMP/one.sock" "$CLIENT" >"$TEST_TMP/second.out" 2>&1
check "--max-contexts 1: a second guest is refused" test $? -ne 0
check_contains "--max-contexts 1: it says why" "$TEST_TMP/second.out" \
    "apir-server refused: 1 contexts already running (--max-contexts)"
touch "$TEST_TMP/one.go"
check "--max-contexts 1: the first guest goes on and passes" wait $first
served_again() {
    for _ in $(seq 20); do
        VTEST_SOCKET_NAME="$TEST_TMP/one.sock" "$CLIENT" >"$TEST_TMP/third.out" 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
check "--max-contexts 1: once it left, another guest is served" served_again
stop_server "$SERVER_PID"
check_contains "--max-contexts 1: the server logs the refusal and the option" "$TEST_TMP/one.err" \
    "client 2 refused: 1 contexts are running, the limit; raise it with apir-server --max-contexts"

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
    "cannot open the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_PATH' not defined" --backend-library "$HOST_LIBRARY"
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
    --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-base.so"
expect_refusal nobackend "VIRGL_APIR_BACKEND_LIBRARY unset" \
    "env var 'VIRGL_APIR_BACKEND_LIBRARY' not defined" "set VIRGL_APIR_BACKEND_LIBRARY" \
    --ggml-library "$CPU_LIBRARY"
expect_refusal blobs "--max-blob-memory 1M (the guest's data blob is larger)" \
    "raise it with apir-server --max-blob-memory (env APIR_MAX_BLOB_MEMORY, key apir.limits.blob_memory)" \
    "the host refused a shared blob of" \
    --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY" --max-blob-memory 1M
"$APIR_SERVER" --socket-fd 0 </dev/null >/dev/null 2>"$TEST_TMP/socketfd"
check "--socket-fd without a socket there exits 1" test $? -eq 1
check_contains "and says why" "$TEST_TMP/socketfd" "--socket-fd 0: not a connected Unix stream socket"
expect_refusal wrongbackend "VIRGL_APIR_BACKEND_LIBRARY wrong" \
    "cannot open the APIR backend library '/nonexistent/libggml-virtgpu-backend.so'" \
    "cannot open the APIR backend library named by VIRGL_APIR_BACKEND_LIBRARY" \
    --backend-library /nonexistent/libggml-virtgpu-backend.so --ggml-library "$CPU_LIBRARY"
finish
