#!/usr/bin/env bash
# apir-server's sandbox and lost contexts, as a user meets them: a guest's
# process is sandboxed once its device is started; a GGML library that
# forks or execs there dies by SIGSYS; a GGML abort is logged with its
# message; a host process that dies (abort, SIGSYS, SIGKILL) is logged with
# its signal, and its guest reports the context lost at once and fails
# cleanly (llama.cpp's tools too); --no-sandbox and its variable turn the
# sandbox off. The misbehaving GGML library is the two-device test library
# with TWO_DEVICES_MISBEHAVE set.
# usage: sandbox.sh APIR_SERVER HOST_LIBRARY CLIENT TEST_LIBRARY FRONTEND MAKER   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1 HOST_LIBRARY=$2 CLIENT=$3 TEST_LIBRARY=$4 FRONTEND=$5 MAKER=$6
export TWO_DEVICES_CPU_LIBRARY=$GGML_HOST_LIB_DIR/libggml-cpu.so
export GGML_REMOTING_USE_APIR_CAPSET=1
LOST="the host context was lost: apir-server's process for this guest ended; see the server's log"

"$APIR_SERVER" --help >"$TEST_TMP/help" 2>&1
check_contains "--help lists --no-sandbox" "$TEST_TMP/help" "--no-sandbox"
check_contains "--help names its variable" "$TEST_TMP/help" "GGML_VIRTGPU_NO_SANDBOX"

# wait_for FILE TEXT [SECONDS]: until FILE contains TEXT (10 s at most, or SECONDS)
wait_for() {
    for _ in $(seq $((${3:-10} * 20))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ends_within SECONDS PID: the process ends in time (else it is killed);
# its exit status goes in EXIT_STATUS
ends_within() {
    for _ in $(seq $(($1 * 20))); do
        if ! kill -0 "$2" 2>/dev/null; then
            wait "$2"
            EXIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    kill -KILL "$2"
    wait "$2"
    EXIT_STATUS=$?
    return 1
}

seccomp_mode() { awk '/^Seccomp:/ { print $2 }' "/proc/$1/status"; }

# serve NAME MISBEHAVIOUR [ARGS...]: a server on the test library, whose
# graph computes misbehave so (TWO_DEVICES_MISBEHAVE)
serve() {
    local name=$1 how=$2; shift 2
    TWO_DEVICES_MISBEHAVE=$how start_server "$name" --backend-library "$HOST_LIBRARY" \
        --ggml-library "$TEST_LIBRARY" "$@"
}

# run_client NAME: the test client against NAME's server, in the background (CLIENT_PID)
run_client() {
    VTEST_SOCKET_NAME="$TEST_TMP/$1.sock" "$CLIENT" >"$TEST_TMP/$1.client" 2>&1 &
    CLIENT_PID=$!
}

# expect_lost NAME WHAT GUEST-LOG SECONDS: the guest (CLIENT_PID) ends within
# SECONDS with an error status, not a crash; it says the context was lost
# (once per device: a run both devices of the test library took ends on
# both) and nothing else after it
expect_lost() {
    local name=$1 what=$2 log=$3 seconds=$4
    check "$what: the guest ends within $seconds s" ends_within "$seconds" "$CLIENT_PID"
    check "$what: the guest fails with an error status, not a signal ($EXIT_STATUS)" \
        test "$EXIT_STATUS" -ne 0 -a "$EXIT_STATUS" -lt 128
    check_contains "$what: the guest reports the context lost" "$log" "$LOST"
    check "$what: the guest logs no error after the loss (but the loss of its other device's context)" \
        test "$(sed -n "/host context was lost/,\$p" "$log" | grep 'ggml-virtgpu: error' | grep -vc 'context was lost')" -eq 0
}

# a sandboxed process killed under a guest waiting on it
serve killed hang
run_client killed
check "killed: the graph compute hangs on the host" wait_for "$TEST_TMP/killed.err" "graph compute hangs"
child=$(pgrep -P "$SERVER_PID")
check "the connection's process runs under seccomp once its device is started" \
    test "$(seccomp_mode "$child")" = 2
kill -KILL "$child"
expect_lost killed "SIGKILL to the host process" "$TEST_TMP/killed.client" 5
check "killed: the server logs the signal" \
    wait_for "$TEST_TMP/killed.err" "client 1 (pid $child) was killed by signal 9 (Killed)"
check "killed: the server keeps running" kill -0 "$SERVER_PID"
stop_server "$SERVER_PID"

# a GGML abort, under llama-completion
"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null
serve abort abort
with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/abort.sock" -- complete abort tiny -ngl 99 &
CLIENT_PID=$!
expect_lost abort "a GGML abort under llama-completion" "$TEST_TMP/abort.log" 60
check "abort: the server logs GGML's message" wait_for "$TEST_TMP/abort.err" "context 1: GGML aborted: "
check_contains "abort: with the library's words" "$TEST_TMP/abort.err" \
    "two_devices_backend: graph compute aborts (TWO_DEVICES_MISBEHAVE=abort); the context ends"
check "abort: the server logs the process's end" wait_for "$TEST_TMP/abort.err" "was killed by signal 6 (Aborted)"
stop_server "$SERVER_PID"

# fork and exec in the sandbox: SIGSYS
for how in fork exec; do
    serve "$how" "$how"
    run_client "$how"
    expect_lost "$how" "a GGML library that calls $how" "$TEST_TMP/$how.client" 10
    check "$how: the server logs SIGSYS" wait_for "$TEST_TMP/$how.err" \
        "was killed by signal 31 (Bad system call): its sandbox stopped a system call it forbids"
    stop_server "$SERVER_PID"
done

# without the sandbox
serve nosandbox fork --no-sandbox
run_client nosandbox
check "--no-sandbox: a GGML library that forks runs every call" ends_within 60 "$CLIENT_PID"
check "--no-sandbox: and the client passes" test "$EXIT_STATUS" -eq 0
stop_server "$SERVER_PID"
check "--no-sandbox: no process was killed" bash -c "! grep -q 'killed by signal' '$TEST_TMP/nosandbox.err'"

# a guest that leaves while its graph compute hangs: its context is ended anyway
serve left hang
run_client left
check "left: the graph compute hangs on the host" wait_for "$TEST_TMP/left.err" "graph compute hangs"
kill -KILL "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null
check "left: the server ends the context of the guest that left" \
    wait_for "$TEST_TMP/left.err" "left 5 s ago while a call still runs; ending its context"
check "left: and logs its process's end" wait_for "$TEST_TMP/left.err" "exited with status 3"
check "left: no process of the server is left" test -z "$(pgrep -P "$SERVER_PID")"
stop_server "$SERVER_PID"

# a command that runs past the time budget of a graph by as much again (a backend
# that cannot stop a graph, here one that hangs): its context is ended
serve overtime hang --max-graph-seconds 1
run_client overtime
check "overtime: the graph compute hangs on the host" wait_for "$TEST_TMP/overtime.err" "graph compute hangs"
check "overtime: the server ends the context past the budget by as much again" wait_for "$TEST_TMP/overtime.err" \
    "s, past the time budget of a graph (--max-graph-seconds) by as much again; ending its context" 15
# its watch looks once a second: 11 s into the command, or 12 on a loaded machine
check "overtime: 11 to 12 s into the command" grep -qE "a command has run 1[12] s, past" "$TEST_TMP/overtime.err"
check "overtime: and logs its process's end" wait_for "$TEST_TMP/overtime.err" "exited with status 4"
expect_lost overtime "a command past the time budget" "$TEST_TMP/overtime.client" 5
stop_server "$SERVER_PID"

# the server stopped while a graph compute hangs: what does not stop is killed
serve stuck hang
run_client stuck
check "stuck: the graph compute hangs on the host" wait_for "$TEST_TMP/stuck.err" "graph compute hangs"
kill -TERM "$SERVER_PID"
check "stuck: SIGTERM stops the server within 10 s" ends_within 10 "$SERVER_PID"
check_contains "stuck: it says it killed the process that did not stop" "$TEST_TMP/stuck.err" \
    "did not stop within 3000 ms; killing it"
wait "$CLIENT_PID" 2>/dev/null

GGML_VIRTGPU_NO_SANDBOX=1 serve noenv hang
run_client noenv
check "GGML_VIRTGPU_NO_SANDBOX: the graph compute hangs" wait_for "$TEST_TMP/noenv.err" "graph compute hangs"
child=$(pgrep -P "$SERVER_PID")
check "GGML_VIRTGPU_NO_SANDBOX=1: no seccomp" test "$(seccomp_mode "$child")" = 0
kill -KILL "$child"
expect_lost noenv "SIGKILL without the sandbox" "$TEST_TMP/noenv.client" 5
stop_server "$SERVER_PID"
finish
