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
