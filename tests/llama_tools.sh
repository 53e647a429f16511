#!/usr/bin/env bash
# Unmodified llama.cpp tools through VirtGPU (GGML_BACKEND_PATH) against a
# real apir-server running the CPU backend: the same tokens as a native run,
# llama-bench and llama-server, and the guest carrying on without the
# device (with the reason logged) whenever the host is missing or refuses.
# usage: llama_tools.sh APIR_SERVER HOST_LIBRARY FRONTEND MAKER   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/lib.sh"
APIR_SERVER=$1
HOST_LIBRARY=$2
FRONTEND=$3
MAKER=$4
CPU_LIBRARY=$GGML_HOST_LIB_DIR/libggml-cpu.so
DEVICE=VirtGPU0-CPU

"$MAKER" --preset tiny --seed 3 -o "$TEST_TMP/tiny.gguf" >/dev/null
"$MAKER" --preset small --type q8_0 --seed 4 -o "$TEST_TMP/small.gguf" >/dev/null

APIR_CAPSET=GGML_REMOTING_USE_APIR_CAPSET=1

start_server main --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
MAIN_PID=$SERVER_PID
ON_MAIN=VTEST_SOCKET_NAME=$TEST_TMP/main.sock

for model in tiny small; do
    check "$model: native CPU run" complete "native-$model" "$model" -ngl 0
    check "$model: VirtGPU run" with_virtgpu "$ON_MAIN" "$APIR_CAPSET" -- \
        complete "virtgpu-$model" "$model" -ngl 99 --device "$DEVICE" -v
    check_contains "$model: the VirtGPU device is used" "$TEST_TMP/virtgpu-$model.log" "using device $DEVICE"
    check_contains "$model: every layer is offloaded" "$TEST_TMP/virtgpu-$model.log" "offloaded"
    check "$model: VirtGPU gives the native tokens" cmp "$TEST_TMP/native-$model.out" "$TEST_TMP/virtgpu-$model.out"
done
printf 'native:  %s\nvirtgpu: %s\n' "$(cat "$TEST_TMP/native-small.out")" "$(cat "$TEST_TMP/virtgpu-small.out")"

# llama-bench: pp16 and tg4 on the VirtGPU device, of the model a native run measures
# bench_results CSV: each test's n_prompt, n_gen, devices and t/s
# bench_model CSV: the model (type, size, parameters) each test measured
bench_column() {
    python3 -c 'import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    print(*(row[name].replace(" ", "_") for name in sys.argv[2:]))' "$@"
}
bench_results() { bench_column "$1" n_prompt n_gen devices avg_ts; }
bench_model() { bench_column "$1" model_type model_size model_n_params; }
"$LLAMA_BIN_DIR/llama-bench" -m "$TEST_TMP/tiny.gguf" -p 16 -n 4 -r 1 -ngl 0 -o csv \
    >"$TEST_TMP/bench-native.csv" 2>"$TEST_TMP/bench-native.log"
with_virtgpu "$ON_MAIN" "$APIR_CAPSET" -- "$LLAMA_BIN_DIR/llama-bench" -m "$TEST_TMP/tiny.gguf" \
    -p 16 -n 4 -r 1 -ngl 99 -dev "$DEVICE" -o csv >"$TEST_TMP/bench.csv" 2>"$TEST_TMP/bench.log"
check "llama-bench runs through VirtGPU" test $? -eq 0
bench_results "$TEST_TMP/bench.csv" | tee "$TEST_TMP/bench.results" | sed 's/^/    /'
check "llama-bench measured pp16 and tg4 on $DEVICE" \
    diff <(printf '16 0 %s\n0 4 %s\n' "$DEVICE" "$DEVICE") <(cut -d' ' -f1-3 "$TEST_TMP/bench.results")
check "each at a speed above 0 t/s" test "$(awk '$4 > 0' "$TEST_TMP/bench.results" | wc -l)" -eq 2
check "of the model a native llama-bench measures (type, size, parameters)" \
    diff <(bench_model "$TEST_TMP/bench-native.csv") <(bench_model "$TEST_TMP/bench.csv")

# llama-server: one completion over loopback
port=$((20000 + RANDOM % 20000))
(   # a subshell that becomes llama-server, so that $! is its pid
    export GGML_BACKEND_PATH="$FRONTEND" "$ON_MAIN" "$APIR_CAPSET"
    use_frontend_runtime
    exec "$LLAMA_BIN_DIR/llama-server" -m "$TEST_TMP/tiny.gguf" --host 127.0.0.1 --port "$port" -ngl 99 \
        -dev "$DEVICE" -c 256 -t 2 -v
) >"$TEST_TMP/server.log" 2>&1 &
llama_server=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
# the request llama-completion's greedy 16 tokens answer natively (complete in lib.sh)
curl -sf "http://127.0.0.1:$port/completion" -H 'Content-Type: application/json' \
    -d '{"prompt": "The capital of France is", "n_predict": 16, "temperature": 0, "ignore_eos": true}' \
    >"$TEST_TMP/completion.json"
check "llama-server answers a completion through VirtGPU" test $? -eq 0
# same_content JSON TEXT: the completion's content is TEXT's (trailing newlines aside)
same_content() {
    python3 -c 'import json, sys
content = json.load(open(sys.argv[1]))["content"]
native = open(sys.argv[2]).read()
print(f"    server: {content!r}\n    native: {native!r}")
sys.exit(content.rstrip("\n") != native.rstrip("\n"))' "$1" "$2"
}
check "the completion is the native tokens" same_content "$TEST_TMP/completion.json" "$TEST_TMP/native-tiny.out"
check_contains "llama-server used the VirtGPU device" "$TEST_TMP/server.log" "$DEVICE"
kill "$llama_server"
wait "$llama_server" 2>/dev/null

# expect_fallback NAME DESCRIPTION MESSAGE VAR=VALUE...: llama-completion
# through VirtGPU still answers (on its own CPU) with the native tokens, and
# says why there is no VirtGPU device
expect_fallback() {
    local name=$1 what=$2 message=$3; shift 3
    with_virtgpu "$@" -- complete "fallback-$name" tiny -ngl 99
    check "$what: llama-completion carries on" test $? -eq 0
    check "$what: with the native tokens" cmp "$TEST_TMP/native-tiny.out" "$TEST_TMP/fallback-$name.out"
    check_contains "$what: the reason is logged" "$TEST_TMP/fallback-$name.log" "$message"
    check_contains "$what: no VirtGPU device" "$TEST_TMP/fallback-$name.log" "no VirtGPU device"
}

expect_fallback nosocket "no server listening" "cannot connect to the vtest socket" \
    VTEST_SOCKET_NAME="$TEST_TMP/nobody.sock"
if ! ls /dev/dri/renderD* >/dev/null 2>&1; then
    expect_fallback drm "the drm transport without a virtio-gpu device" "no virtio-gpu render node" \
        GGML_VIRTGPU_TRANSPORT=drm
fi
expect_fallback badtransport "an unknown transport" "GGML_VIRTGPU_TRANSPORT='carrier-pigeon' is neither" \
    GGML_VIRTGPU_TRANSPORT=carrier-pigeon
expect_fallback venus "Venus capset without routing" "set VIRGL_ROUTE_VENUS_TO_APIR on the host" "$ON_MAIN"
stop_server "$MAIN_PID"

VIRGL_ROUTE_VENUS_TO_APIR=1 start_server routed --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY"
check "Venus capset with VIRGL_ROUTE_VENUS_TO_APIR: VirtGPU run" \
    with_virtgpu VTEST_SOCKET_NAME="$TEST_TMP/routed.sock" -- complete routed tiny -ngl 99 --device "$DEVICE"
check "Venus capset with routing gives the native tokens" cmp "$TEST_TMP/native-tiny.out" "$TEST_TMP/routed.out"
stop_server "$SERVER_PID"

# refused_by_host NAME DESCRIPTION GUEST-MESSAGE HOST-MESSAGE SERVER-ARGS...: a
# host configured so that it refuses; the guest carries on, both say why
refused_by_host() {
    local name=$1 what=$2 guest_msg=$3 host_msg=$4; shift 4
    start_server "$name" "$@"
    expect_fallback "$name" "$what" "$guest_msg" VTEST_SOCKET_NAME="$TEST_TMP/$name.sock" "$APIR_CAPSET"
    stop_server "$SERVER_PID"
    check_contains "$what: the host logs it" "$TEST_TMP/$name.err" "$host_msg"
}
refused_by_host nolib "APIR_LLAMA_CPP_GGML_LIBRARY_PATH unset on the host" "cannot open the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_PATH' not defined" \
    "cannot open the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_PATH' not defined" \
    --backend-library "$HOST_LIBRARY"
refused_by_host nofile "the GGML library path names a missing file" \
    "cannot open the GGML library named by APIR_LLAMA_CPP_GGML_LIBRARY_PATH" \
    "cannot open the GGML library: /nonexistent/libggml-cuda.so" \
    --backend-library "$HOST_LIBRARY" --ggml-library /nonexistent/libggml-cuda.so
refused_by_host noreg "a registration symbol that does not exist" "set APIR_LLAMA_CPP_GGML_LIBRARY_REG" \
    "cannot register the GGML library: no symbol 'ggml_backend_nope_reg'" \
    --backend-library "$HOST_LIBRARY" --ggml-library "$CPU_LIBRARY" --ggml-reg ggml_backend_nope_reg
refused_by_host nobackend "VIRGL_APIR_BACKEND_LIBRARY unset" "set VIRGL_APIR_BACKEND_LIBRARY" \
    "env var 'VIRGL_APIR_BACKEND_LIBRARY' not defined" --ggml-library "$CPU_LIBRARY"
refused_by_host wrongbackend "VIRGL_APIR_BACKEND_LIBRARY names a missing file" \
    "cannot open the APIR backend library named by VIRGL_APIR_BACKEND_LIBRARY" \
    "cannot open the APIR backend library '/nonexistent/libggml-virtgpu-backend.so'" \
    --backend-library /nonexistent/libggml-virtgpu-backend.so --ggml-library "$CPU_LIBRARY"

python3 "$(dirname "$0")/fake_vtest_server.py" "$TEST_TMP/major.sock" 1 &
fake=$!
for _ in $(seq 100); do [[ -S "$TEST_TMP/major.sock" ]] && break; sleep 0.05; done
expect_fallback major "a host with another protocol major version" "major versions differ" \
    VTEST_SOCKET_NAME="$TEST_TMP/major.sock" "$APIR_CAPSET"
kill "$fake"

# a real vtest server without APIR (virglrenderer's own, Venus only)
if command -v virgl_test_server >/dev/null; then
    virgl_test_server --venus --use-egl-surfaceless --socket-path="$TEST_TMP/virgl.sock" >"$TEST_TMP/virgl.log" 2>&1 &
    virgl=$!
    for _ in $(seq 100); do [[ -S "$TEST_TMP/virgl.sock" ]] && break; sleep 0.05; done
    expect_fallback virgl "virgl_test_server (no APIR), Venus capset" "is not APIR's (a Venus server that does not route Venus to APIR?)" \
        VTEST_SOCKET_NAME="$TEST_TMP/virgl.sock"
    expect_fallback virgl-apir "virgl_test_server (no APIR), APIR capset" "does not offer the APIR capset" \
        VTEST_SOCKET_NAME="$TEST_TMP/virgl.sock" "$APIR_CAPSET"
    kill "$virgl"
else
    fail "virgl_test_server is not installed (Debian package virgl-server)"
fi
finish
