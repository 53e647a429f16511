#!/usr/bin/env bash
# The seed's scenario in a real VM (scripts/vm.sh): Debian 13's QEMU,
# unmodified, with our libvirglrenderer.so.1 in virglrenderer's place and the
# CPU backend on the host; Debian's kernel in the guest, whose llama.cpp
# tools reach the host through the virtio-gpu render node (drm transport) on
# the Venus capset, routed to APIR by VIRGL_ROUTE_VENUS_TO_APIR.
# usage: vm_test.sh BUILD_DIR MAKER   (LLAMA_BIN_DIR set; as root)
source "$(dirname "$0")/../lib.sh"
BUILD=$(realpath "$1")
MAKER=$2
VM=$(realpath "$(dirname "$0")/../../scripts/vm.sh")
DEVICE=VirtGPU0-CPU
# ops whose cases are few (under TCG the guest computes the reference results)
OPS=${VM_TEST_OPS:-ADD,MUL,RMS_NORM,SCALE,SILU,GLU}
export VM_BUILD=$BUILD

"$MAKER" --preset tiny --seed 5 -o "$TEST_TMP/tiny.gguf" >/dev/null

# in_vm NAME ARGS...: runs scripts/vm.sh ARGS with HOST_VARS (VAR=VALUE
# words; VAR= removes VAR on the host side); the guest command's stdout in
# NAME.out, its stderr in NAME.log, the host's log in NAME.host
HOST_VARS=()
in_vm() {
    local name=$1; shift
    env "${HOST_VARS[@]}" VM_LOG="$TEST_TMP/$name.host" "$VM" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.log"
}

# same_tokens A B: A.out and B.out are the same text (else both are shown)
same_tokens() {
    cmp -s "$TEST_TMP/$1.out" "$TEST_TMP/$2.out" && return 0
    echo "    $1: $(cat -A "$TEST_TMP/$1.out")"
    echo "    $2: $(cat -A "$TEST_TMP/$2.out")"
    return 1
}

# the llama-completion run of lib.sh's complete(), as a command line
completion=("$LLAMA_BIN_DIR/llama-completion" -m "$TEST_TMP/tiny.gguf" -p "The capital of France is" -n 16
            --temp 0 -s 42 --ignore-eos -no-cnv --no-display-prompt --no-warmup -c 256 -t 1)

check "native run on the host" complete native tiny -ngl 0 -t 1

# ---- the guest's device ------------------------------------------------------
check "the guest boots and runs dmesg" in_vm dmesg -- dmesg
check_contains "virtio-gpu has blobs and host-visible memory" "$TEST_TMP/dmesg.out" "+resource_blob +host_visible"
check_contains "virtio-gpu has context init" "$TEST_TMP/dmesg.out" "+context_init"
check "the Venus capset (4) is offered" grep -qE "cap set [0-9]+: id 4," "$TEST_TMP/dmesg.out"
check "virgl's capset (1) comes from the real virglrenderer" grep -qE "cap set 0: id 1, max-version [1-9]" \
    "$TEST_TMP/dmesg.out"
grep -E "\[drm\] (features|number of cap|cap set)" "$TEST_TMP/dmesg.out" | sed 's/^/    guest: /'

# ---- llama-completion through VirtGPU --------------------------------------------
check "llama-completion in the guest" in_vm virtgpu --env GGML_VIRTGPU_DEBUG=1 -- "${completion[@]}" -ngl 99 \
    --device "$DEVICE" -v
check_contains "the VirtGPU device is used" "$TEST_TMP/virtgpu.log" "using device $DEVICE"
check_contains "the host served it on the routed Venus capset" "$TEST_TMP/virtgpu.host" "created on capset 4"
check "the guest gets the native tokens" same_tokens native virtgpu
sed 's/^/    tokens: /' "$TEST_TMP/virtgpu.out"; echo
check_contains "QEMU's library started a private apir-server" "$TEST_TMP/virtgpu.host" "started a private apir-server"
check_contains "whose process ran the context" "$TEST_TMP/virtgpu.host" "served by an apir-server process"
check_contains "in its sandbox" "$TEST_TMP/virtgpu.host" "sandboxed (seccomp filter"

# ---- a VM served by a running apir-server (APIR_SERVER_SOCKET) ---------------------
APIR_SERVER=$BUILD/bin/apir-server
VIRGL_ROUTE_VENUS_TO_APIR=1 check "an apir-server service starts" start_server service \
    --backend-library "$BUILD/lib/libggml-virtgpu-backend.so" --ggml-library "$LLAMA_BIN_DIR/libggml-cpu.so" \
    --log-file "$TEST_TMP/service.log"
service_pid=$SERVER_PID
# service_status_lists_vm PID: --status names the VM's context (QEMU's pid, the guest's
# process name) while the VM of `pid` (vm.sh) runs
service_status_lists_vm() {
    local qemu
    for _ in $(seq 900); do
        qemu=$(cat "$TEST_TMP/service-out/qemu.pid" 2>/dev/null)
        if [[ -n $qemu ]] && "$APIR_SERVER" --status "$TEST_TMP/service.sock" >"$TEST_TMP/service.status" 2>&1 &&
            grep -q "'llama-completio.*guest pid $qemu (uid" "$TEST_TMP/service.status"; then
            grep "guest pid $qemu" "$TEST_TMP/service.status" | sed 's/^/    status: /'
            return 0
        fi
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
HOST_VARS=(APIR_SERVER_SOCKET="$TEST_TMP/service.sock")
VM_OUT="$TEST_TMP/service-out" in_vm service -- "${completion[@]}" -ngl 99 --device "$DEVICE" &
vm_pid=$!
HOST_VARS=()
check "apir-server --status lists the VM's context, with QEMU's pid" service_status_lists_vm "$vm_pid"
check "llama-completion in a VM served by the service" wait "$vm_pid"
check "the guest gets the native tokens" same_tokens native service
check "QEMU's library started no server of its own" bash -c "! grep -q 'private apir-server' '$TEST_TMP/service.host'"
check_contains "the service served the context" "$TEST_TMP/service.log" "APIR backend library loaded"
stop_server "$service_pid"

# ---- the context's process killed mid-generation -------------------------------------
# ms_since T0: milliseconds from T0 (date +%s%N) to now
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# kill_mid_generation: once the guest's tokens flow, kills its context's process (a child
# of the private apir-server, QEMU's child) and times what the guest says
kill_mid_generation() {
    local out=$TEST_TMP/killed-out qemu server killed_at
    for _ in $(seq 1200); do
        [[ $(stat -c %s "$out/stdout" 2>/dev/null || echo 0) -gt 40 ]] && break
        sleep 0.1
    done
    qemu=$(cat "$out/qemu.pid") && server=$(pgrep -P "$qemu" -x apir-server) || return 1
    killed_at=$(date +%s%N)
    pkill -KILL -P "$server" || return 1
    until grep -q "the host context was lost" "$out/stderr" 2>/dev/null; do
        (( $(ms_since "$killed_at") < 10000 )) || return 1
        sleep 0.01
    done
    said_ms=$(ms_since "$killed_at")
    until [[ -s $out/status ]]; do
        (( $(ms_since "$killed_at") < 20000 )) || return 1
        sleep 0.01
    done
    exited_ms=$(ms_since "$killed_at")
    kill -0 "$qemu"  # QEMU runs on (the guest powers off after the command)
}
VM_OUT="$TEST_TMP/killed-out" in_vm killed -- "${completion[@]}" -ngl 99 --device "$DEVICE" -c 2048 -n 1500 &
vm_pid=$!
said_ms=-1 exited_ms=-1
check "the context's process killed while the guest generates" kill_mid_generation
wait "$vm_pid"
check "the VM ran to its end (QEMU did not crash)" test $? -ne 125
echo "    the guest said why ${said_ms} ms after the kill; its llama-completion ended after ${exited_ms} ms"
check "the guest says the context was lost within 1 s" test "$said_ms" -ge 0 -a "$said_ms" -lt 1000
# its end includes llama.cpp's teardown and report in the emulated guest (0.5 to 1.2 s measured)
check "and its llama-completion ends soon after (within 3 s)" test "$exited_ms" -ge 0 -a "$exited_ms" -lt 3000
check_contains "QEMU's library saw the process end" "$TEST_TMP/killed.host" "its apir-server process ended"
check_contains "the server logged the kill" "$TEST_TMP/killed.host" "was killed by signal 9"

# ---- QEMU's monitor answers while the guest runs long prompt batches ---------------------
# a 512-token batch of this model takes the host's CPU hundreds of ms; in QEMU's process
# (before issue 22) the monitor did not answer for that long, once per batch
"$MAKER" --preset small --type q8_0 --n-layer 4 --n-embd 512 --n-head 8 --n-head-kv 8 --tied --seed 5 \
    -o "$TEST_TMP/batch.gguf" >/dev/null
python3 "$(dirname "$0")/qmp_latency.py" "$TEST_TMP/qmp.sock" 10 >"$TEST_TMP/qmp.out" 2>&1 &
qmp_pid=$!
VM_QMP="$TEST_TMP/qmp.sock" check "llama-bench -p 512 in the guest" in_vm batch -- \
    "$LLAMA_BIN_DIR/llama-bench" -m "$TEST_TMP/batch.gguf" -p 512 -n 0 -r 3 -ngl 99 -o csv
wait "$qmp_pid"
tps=$(tail -1 "$TEST_TMP/batch.out" | awk -F, '{gsub(/"/, "", $(NF-1)); print $(NF-1)}')
echo "    a 512-token batch took $(awk -v t="$tps" 'BEGIN { printf "%.0f", (t > 0 ? 512000 / t : -1) }') ms on the host"
echo "    QMP query-status: $(cat "$TEST_TMP/qmp.out")"
p99=$(awk '{ for (i = 1; i < NF; i++) if ($i == "p99_ms") print $(i + 1) }' "$TEST_TMP/qmp.out")
check "QEMU's monitor answers within 20 ms at p99 meanwhile" awk -v p="${p99:-1e9}" 'BEGIN { exit !(p < 20) }'

# ---- test-backend-ops on the VirtGPU device -------------------------------------
check "test-backend-ops ($OPS) in the guest" in_vm ops -- "$LLAMA_BIN_DIR/test-backend-ops" test -b "$DEVICE" -o "$OPS"
check "test-backend-ops ran cases" grep -q ': .*OK' "$TEST_TMP/ops.out"
check "no case failed" bash -c "! grep -q ': .*FAIL' '$TEST_TMP/ops.out'"
check "the VirtGPU backend passed" grep -qE "Backend $DEVICE: .*OK" "$TEST_TMP/ops.out"
echo "    $(grep -c ': .*OK' "$TEST_TMP/ops.out") cases passed"

# ---- llama.cpp's own frontend against our host ------------------------------------
HOST_VARS=(VM_FRONTEND=reference)
check "llama-completion with llama.cpp's own frontend in the guest" in_vm reference -- "${completion[@]}" -ngl 99 -v
HOST_VARS=()
check_contains "our host served it on the routed Venus capset" "$TEST_TMP/reference.host" "created on capset 4"
check_contains "and loaded its backend library" "$TEST_TMP/reference.host" "APIR backend library loaded and initialized"
check_contains "it offloaded every layer" "$TEST_TMP/reference.log" "offloaded 5/5 layers to GPU"
check "the reference frontend gets the native tokens" same_tokens native reference

# ---- a host device with pinned memory -------------------------------------------------
# the test GGML library's TestA has a host buffer type, as a GPU has: outside
# a VM the guest offers one in shared memory (tests/pinned_memory.sh), but
# not in a VM, whose blob mappings are device memory that the model's file
# cannot be read into ("read error: Bad address" from 9p); a prompt of 30
# sentences has more than 64 KiB of token embeddings
long_prompt=(-p "$(printf 'The capital of France is Paris. %.0s' $(seq 30))")
check "native run of the long prompt on the host" complete native-long tiny -ngl 0 -t 1 "${long_prompt[@]}"
HOST_VARS=(APIR_LLAMA_CPP_GGML_LIBRARY_PATH="$BUILD/lib/libtwo_devices_backend.so"
           TWO_DEVICES_CPU_LIBRARY="$LLAMA_BIN_DIR/libggml-cpu.so")
check "llama-completion of the long prompt on a device with pinned memory" in_vm shared \
    --env GGML_VIRTGPU_DEBUG=1 -- "${completion[@]}" -ngl 99 --device VirtGPU0-TestA -v "${long_prompt[@]}"
HOST_VARS=()
check "no host buffer type in shared memory in a VM" bash -c "! grep -q 'VirtGPU0-TestA_Host' '$TEST_TMP/shared.log'"
check "the guest gets the native tokens of the long prompt" same_tokens native-long shared

# ---- the seed's error paths, seen from the guest: the tools carry on without it ---
# expect_fallback NAME MESSAGE [VAR=VALUE]... [-- vm.sh options]: in a VM
# so set up, llama-completion says MESSAGE and gives the native tokens on
# the guest's CPU
expect_fallback() {
    local name=$1 message=$2; shift 2
    HOST_VARS=()
    while (($#)) && [[ $1 != -- ]]; do HOST_VARS+=("$1"); shift; done
    [[ ${1:-} == -- ]] && shift
    check "$name: llama-completion carries on" in_vm "$name" "$@" -- "${completion[@]}" -ngl 99
    HOST_VARS=()
    check_contains "$name: the guest says why" "$TEST_TMP/$name.log" "$message"
    check "$name: native tokens on the guest's CPU" same_tokens native "$name"
}
expect_fallback no-ggml-library \
    "cannot open the GGML library: env var 'APIR_LLAMA_CPP_GGML_LIBRARY_PATH' not defined" \
    APIR_LLAMA_CPP_GGML_LIBRARY_PATH=
expect_fallback apir-capset "does not offer the APIR capset (10): an unmodified QEMU offers only Venus's" \
    -- --env GGML_REMOTING_USE_APIR_CAPSET=1
expect_fallback no-routing "Venus capset is Venus's own, not routed to APIR: set VIRGL_ROUTE_VENUS_TO_APIR" \
    VIRGL_ROUTE_VENUS_TO_APIR=

finish
