# Helpers shared by the shell tests. Each test sources this file, calls the
# check_* functions, and ends with `finish`, which prints the counts and sets
# the exit status.
set -uo pipefail

# the seed's variables and ours start unset: each test sets what it tests
unset VIRGL_APIR_BACKEND_LIBRARY APIR_LLAMA_CPP_GGML_LIBRARY_PATH APIR_LLAMA_CPP_GGML_LIBRARY_REG \
      VIRGL_ROUTE_VENUS_TO_APIR GGML_REMOTING_USE_APIR_CAPSET GGML_BACKEND_PATH VTEST_SOCKET_NAME \
      GGML_VIRTGPU_SOCKETS GGML_VIRTGPU_NO_SANDBOX GGML_VIRTGPU_NO_PIN GGML_VIRTGPU_NO_HOST_BUFFER \
      TWO_DEVICES_MISBEHAVE TWO_DEVICES_PIN_FAIL APIR_SERVER_SOCKET GGML_VIRTGPU_APIR_SERVER

# the GGML that the host side runs (its libggml-cpu.so): in the sanitizer
# builds ctest sets GGML_HOST_LIB_DIR to the copy with ASan and UBSan
# (scripts/deps.sh --asan); llama.cpp's tools, the guest, stay on LLAMA_BIN_DIR's
GGML_HOST_LIB_DIR=${GGML_HOST_LIB_DIR:-${LLAMA_BIN_DIR:-}}

# the arguments of the tests that run on the test GGML library
# (tests/c/two_devices_backend.c): APIR_SERVER HOST_LIBRARY FRONTEND MAKER TWO_DEVICES
two_devices_test_args() {
    APIR_SERVER=$1
    HOST_LIBRARY=$2
    FRONTEND=$3
    MAKER=$4
    TWO_DEVICES=$5
    CPU_LIBRARY=$GGML_HOST_LIB_DIR/libggml-cpu.so
    export TWO_DEVICES_CPU_LIBRARY=$CPU_LIBRARY
    export GGML_REMOTING_USE_APIR_CAPSET=1
}

CHECKS_PASSED=0
CHECKS_FAILED=0
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/virtgpu-test.XXXXXX")
OTHERS_DIR=  # made by bring_for_others
# whatever a test leaves running is stopped when it ends
trap 'kill $(jobs -p) 2>/dev/null; [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$TEST_TMP" ${OTHERS_DIR:+"$OTHERS_DIR"}' EXIT

pass() { CHECKS_PASSED=$((CHECKS_PASSED + 1)); printf 'ok: %s\n' "$1"; }
fail() { CHECKS_FAILED=$((CHECKS_FAILED + 1)); printf 'FAIL: %s\n' "$1"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# check_contains DESCRIPTION FILE TEXT: passes when FILE contains TEXT verbatim
check_contains() {
    if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1 (no '$3' in $2:)"; sed 's/^/    /' "$2" | tail -20; fi
}

finish() {
    printf '%d passed, %d failed\n' "$CHECKS_PASSED" "$CHECKS_FAILED"
    [[ $CHECKS_FAILED -eq 0 && $CHECKS_PASSED -gt 0 ]]
}

# start_server NAME ARGS...: starts apir-server (path in $APIR_SERVER) on
# $TEST_TMP/NAME.sock with its stderr in $TEST_TMP/NAME.err; waits until it
# listens. The pid goes in SERVER_PID.
start_server() {
    local name=$1; shift
    rm -f "$TEST_TMP/$name.sock"
    "$APIR_SERVER" --socket "$TEST_TMP/$name.sock" "$@" 2>"$TEST_TMP/$name.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        [[ -S "$TEST_TMP/$name.sock" ]] && return 0
        sleep 0.05
    done
    echo "apir-server did not start:"; cat "$TEST_TMP/$name.err"
    return 1
}

# stop_server PID: SIGTERM, then waits; returns the server's exit status
stop_server() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

# use_frontend_runtime: for an uninstrumented llama.cpp tool that will load
# our frontend, in this (sub)shell; in a sanitizer build the runtime is
# preloaded (llama.cpp's own allocations at exit are not ours to check: no
# leak report there)
use_frontend_runtime() {
    if [[ -n "${SANITIZER_PRELOAD:-}" ]]; then
        export LD_PRELOAD=$SANITIZER_PRELOAD ASAN_OPTIONS=detect_leaks=0
    fi
}

# with_virtgpu VAR=VALUE... -- CMD...: runs CMD (a function, or a program
# that replaces the subshell) with the frontend $FRONTEND loaded and the
# variables set
with_virtgpu() {
    (
        export GGML_BACKEND_PATH="$FRONTEND"
        use_frontend_runtime
        while [[ $1 != -- ]]; do export "${1?}"; shift; done
        shift
        if declare -F "$1" >/dev/null; then "$@"; else exec "$@"; fi
    )
}

# complete NAME MODEL [llama-completion args...]: 16 tokens, greedy, from
# $TEST_TMP/MODEL.gguf into $TEST_TMP/NAME.out (log: NAME.log)
complete() {
    local name=$1 model=$2; shift 2
    "$LLAMA_BIN_DIR/llama-completion" -m "$TEST_TMP/$model.gguf" -p "The capital of France is" -n 16 \
        --temp 0 -s 42 --ignore-eos -no-cnv --no-display-prompt --no-warmup -c 256 -t 2 "$@" \
        >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.log"
}

# Programs run as another user: the checkout and the dependency cache may be
# where only their owner can read (a clone in root's mode-0700 home), so such
# a program is run from a copy that bring_for_others makes.
SYSTEM_LIBRARY='^/(usr/)?lib(32|64|x32)?/'

# copy_with_libraries DIR PROGRAM: copies PROGRAM into DIR/bin and every
# library it loads from outside the system's folders into DIR/lib (the
# build's layout: its programs look for their libraries in ../lib)
copy_with_libraries() {
    mkdir -p "$1/bin" "$1/lib" &&
        cp "$2" "$1/bin/" &&
        ldd "$2" | awk -v system_library="$SYSTEM_LIBRARY" '$2 == "=>" && $3 ~ /^\// && $3 !~ system_library { print $3 }' |
        xargs -r cp -t "$1/lib/"
}

# bring_for_others VAR PROGRAM: copies PROGRAM and its libraries into a
# mode-0755 folder under /tmp that any user can read (OTHERS_DIR, removed at
# exit); VAR gets the copy's path
bring_for_others() {
    local -n copy=$1
    if [[ -z "$OTHERS_DIR" ]]; then
        OTHERS_DIR=$(mktemp -d /tmp/virtgpu-others.XXXXXX) || return 1
    fi
    copy_with_libraries "$OTHERS_DIR" "$2" && chmod -R a+rX "$OTHERS_DIR" || return 1
    copy=$OTHERS_DIR/bin/${2##*/}
}

# run_as UID PROGRAM [ARGS...]: a program that bring_for_others copied, run
# as user and group UID with no other groups, its libraries taken from the
# copies. In a subshell (in the background, in a pipeline) it becomes the
# program, so that $! is the program's pid.
run_as() {
    local id=$1 run=(); shift
    [[ $BASHPID == "$$" ]] || run=(exec)
    "${run[@]}" env LD_LIBRARY_PATH="$OTHERS_DIR/lib" setpriv --reuid="$id" --regid="$id" --clear-groups "$@"
}

# loads_only_copies UID PROGRAM: true when PROGRAM, run as UID, finds every
# library it needs, each either the system's or one of bring_for_others' copies
loads_only_copies() {
    local libraries
    libraries=$(run_as "$1" env LD_TRACE_LOADED_OBJECTS=1 "$2" | awk '$2 == "=>" { print $3 }') || return 1
    printf '%s\n' "$libraries" | sed 's/^/    /'
    ! printf '%s\n' "$libraries" | grep -vE "$SYSTEM_LIBRARY|^$OTHERS_DIR/lib/"
}
