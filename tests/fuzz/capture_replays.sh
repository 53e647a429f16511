#!/usr/bin/env bash
# The capture (GGML_VIRTGPU_CAPTURE_DIR) writes what the fuzz targets read:
# the host-call tests run with it set, and their sessions and graphs replay
# through the targets, with the graphs' renumbered buffers in place.
# usage: capture_replays.sh TEST_HOST_CALLS REPLAY_HOST_CALLS REPLAY_APIR_COMMAND REPLAY_GRAPH_COMPUTE
#        (the host-call tests' environment set)
source "$(dirname "$0")/../lib.sh"
mkdir -p "$TEST_TMP/capture"
GGML_VIRTGPU_CAPTURE_DIR=$TEST_TMP/capture "$1" >"$TEST_TMP/calls.log" 2>&1
check "the host-call tests pass while captured" test $? -eq 0
sessions=("$TEST_TMP"/capture/session-*.bin)
graphs=("$TEST_TMP"/capture/graph-*.bin)
check "a session is captured" test -s "${sessions[0]}"
check "a graph is captured" test -s "${graphs[0]}"
check "the sessions replay through host_calls" "$2" "${sessions[@]}"
check "the sessions replay through apir_command" "$3" "${sessions[@]}"
FUZZ_LOG=1 "$4" "${graphs[@]}" >"$TEST_TMP/graphs.log" 2>&1
check "the graphs replay through graph_compute" test $? -eq 0
if grep -q "lies outside its buffer\|unknown buffer handle" "$TEST_TMP/graphs.log"; then
    fail "a captured graph names buffers the harness does not make:"; grep -m3 "buffer" "$TEST_TMP/graphs.log"
else
    pass "every captured graph finds its buffers"
fi
finish
