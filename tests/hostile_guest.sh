#!/usr/bin/env bash
# The trust boundary as a hostile guest meets it: a real apir-server on a
# temporary socket, two hostile guests (hostile_guest: forged vtest
# messages, APIR commands, forwarded calls, tensor extents, colliding graph
# ids; test_host_calls: graphs ggml itself would crash on, indices out of
# range, limits) and, at the same time, a good guest running llama-completion.
# Every attack is refused or contained; the good guest gets the native
# tokens; afterwards the server's memory and process count are back where
# they started.
# usage: hostile_guest.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER HOSTILE HOST_CALLS   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1
HOST_LIBRARY=$2
FRONTEND=$3
MAKER=$4
HOSTILE=$5
HOST_CALLS=$6

"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null
check "native run" complete native tiny -ngl 0 -n 64

# a sanitizer build's allocator returns NULL for a huge size, as glibc does
export ASAN_OPTIONS=allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
start_server host --backend-library "$HOST_LIBRARY" --ggml-library "$GGML_HOST_LIB_DIR/libggml-cpu.so" \
    --max-context-memory 256M
SOCKET=$TEST_TMP/host.sock
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
children() { pgrep -c -P "$1" || true; }
baseline_rss=$(rss_kib "$SERVER_PID")
baseline_children=$(children "$SERVER_PID")

VTEST_SOCKET_NAME=$SOCKET "$HOSTILE" >"$TEST_TMP/hostile.out" 2>&1 &
hostile=$!
VTEST_SOCKET_NAME=$SOCKET "$HOST_CALLS" >"$TEST_TMP/host_calls.out" 2>&1 &
host_calls=$!
check "a good guest, meanwhile, runs llama-completion through VirtGPU" \
    with_virtgpu VTEST_SOCKET_NAME="$SOCKET" GGML_REMOTING_USE_APIR_CAPSET=1 -- \
    complete good tiny -ngl 99 --device VirtGPU0-CPU -n 64
check "the good guest gets the native tokens" cmp "$TEST_TMP/native.out" "$TEST_TMP/good.out"
wait "$hostile"
check "every forged message, command and call is refused or contained (hostile_guest)" test $? -eq 0
grep -E '^FAIL|passed' "$TEST_TMP/hostile.out"
wait "$host_calls"
check "every hostile graph and op is refused, the context goes on (test_host_calls)" test $? -eq 0
grep -E '^FAIL|passed' "$TEST_TMP/host_calls.out"

check "the server is still running" kill -0 "$SERVER_PID"
for _ in $(seq 100); do
    [[ $(children "$SERVER_PID") -le $baseline_children ]] && break
    sleep 0.1
done
check "its processes are back to $baseline_children once the guests are gone (now $(children "$SERVER_PID"))" \
    test "$(children "$SERVER_PID")" -le "$baseline_children"
rss=$(rss_kib "$SERVER_PID")
check "its memory is back to baseline ($baseline_rss KiB, now $rss KiB)" test "$rss" -le $((baseline_rss + 512))
check "no sanitizer report in its log" bash -c "! grep -qE 'Sanitizer|runtime error' '$TEST_TMP/host.err'"
check "SIGTERM stops it with status 0" stop_server "$SERVER_PID"
finish
