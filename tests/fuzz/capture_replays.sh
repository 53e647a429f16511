#!/usr/bin/env bash
# The capture (GGML_VIRTGPU_CAPTURE_DIR) writes what the fuzz targets read:
# the host-call tests run with it set, and their sessions and graphs replay
# through the targets, with the graphs' renumbered buffers in place.
# usage: capture_replays.sh TEST_HOST_CALLS HOST_LIBRARY REPLAY_HOST_CALLS REPLAY_APIR_COMMAND
#        REPLAY_GRAPH_COMPUTE   (LLAMA_BIN_DIR set)
source "$(dirname "$0")/../lib.sh"
TEST_HOST_CALLS=$1 HOST_LIBRARY=$2 REPLAY_HOST_CALLS=$3 REPLAY_APIR_COMMAND=$4 REPLAY_GRAPH_COMPUTE=$5
mkdir -p "$TEST_TMP/capture"
GGML_VIRTGPU_CAPTURE_DIR=$TEST_TMP/capture VIRGL_APIR_BACKEND_LIBRARY=$HOST_LIBRARY \
    APIR_LLAMA_CPP_GGML_LIBRARY_PATH=$GGML_HOST_LIB_DIR/libggml-cpu.so "$TEST_HOST_CALLS" >"$TEST_TMP/calls.log" 2>&1
rc=$?
check "the host-call tests pass while captured" test $rc -eq 0
[[ $rc -eq 0 ]] || tail -5 "$TEST_TMP/calls.log"
sessions=("$TEST_TMP"/capture/session-*.bin)
graphs=("$TEST_TMP"/capture/graph-*.bin)
check "a session is captured" test -s "${sessions[0]}"
check "a graph is captured" test -s "${graphs[0]}"
check "the sessions replay through host_calls" "$REPLAY_HOST_CALLS" "${sessions[@]}"
check "the sessions replay through apir_command" "$REPLAY_APIR_COMMAND" "${sessions[@]}"
FUZZ_LOG=1 "$REPLAY_GRAPH_COMPUTE" "${graphs[@]}" >"$TEST_TMP/graphs.log" 2>&1
check "the graphs replay through graph_compute" test $? -eq 0
if grep -q "lies outside its buffer\|unknown buffer handle" "$TEST_TMP/graphs.log"; then
    fail "a captured graph names buffers the harness does not make:"; grep -m3 "buffer" "$TEST_TMP/graphs.log"
else
    pass "every captured graph finds its buffers"
fi
finish
