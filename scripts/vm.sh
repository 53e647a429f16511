#!/usr/bin/env bash
# Runs a command in a real virtual machine whose virtio-gpu is served by our
# APIR component: Debian 13's QEMU (unmodified) loads build/lib/virgl's
# libvirglrenderer.so.1 in virglrenderer's place; the guest (Debian's kernel,
# the host's root read-only over 9p) uses the Venus capset, which the host
# routes to APIR (VIRGL_ROUTE_VENUS_TO_APIR), as the seed's transition setup.
#
#   scripts/vm.sh [--env NAME=VALUE]... -- COMMAND [ARGS...]
#
# COMMAND runs in the guest, in this checkout's directory, with
# GGML_BACKEND_PATH set to the frontend (and each --env), as root; its stdout
# and stderr are printed here and vm.sh exits with its status (125: the guest
# did not run it). /tmp and the rest of the host's tree are read-only in the
# guest; /run is a writable tmpfs (TMPDIR points there).
#
# Environment of the host side (QEMU and our component), each defaulted:
#   VIRGL_ROUTE_VENUS_TO_APIR          1
#   VIRGL_APIR_BACKEND_LIBRARY         build/lib/libggml-virtgpu-backend.so
#   APIR_LLAMA_CPP_GGML_LIBRARY_PATH   the pinned llama.cpp's libggml-cpu.so
#   APIR_LLAMA_CPP_GGML_LIBRARY_REG    (unset: the library's ggml_backend_init)
#   GGML_VIRTGPU_VIRGLRENDERER         (unset: the root's own virglrenderer)
# A variable set to the empty string is removed instead (to see what happens
# without it). Also:
#   VM_FRONTEND   ours (default) or reference: llama.cpp's own frontend
#   VM_LOG        the host log file (default: a temporary one, named on stderr)
#   VM_BUILD      the build folder (default build)
#   VM_ACCEL      tcg (default) or kvm (where /dev/kvm runs unmodified guests)
#   VM_TIMEOUT    seconds before the VM is stopped (default 900)
#   VM_MEMORY     guest memory (default 2G); VM_HOSTMEM: host-visible region (default 1G)
#   VM_OUT        the folder of the guest's results (default: a temporary one): its stdout,
#                 stderr and status files grow there while the guest runs, and QEMU's pid
#                 is in its qemu.pid
#   VM_QMP        a path for QEMU's QMP monitor socket (default: none)
# QEMU's environment also passes on to our library: APIR_SERVER_SOCKET names a running
# apir-server to serve the VM's contexts (else the library starts a private one), and
# the APIR_MAX_* limits.
set -euo pipefail
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CHECKOUT"

die() { printf 'vm.sh: error: %s\n' "$*" >&2; exit 125; }

guest_env=()
while (($#)); do
    case "$1" in
    --env) [[ $# -ge 2 && "$2" == *=* ]] || die "--env takes NAME=VALUE"; guest_env+=("$2"); shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
(($#)) || die "no command: scripts/vm.sh [--env NAME=VALUE]... -- COMMAND [ARGS...]"
[[ $(id -u) == 0 ]] || die "needs root (a private mount namespace and a chroot for Debian 13's QEMU)"

DEPS_DIR=${DEPS_DIR:-$(scripts/deps.sh --print-prefix)}
BUILD=$(realpath "${VM_BUILD:-build}")
scripts/vm-deps.sh
VM_DEPS=$(scripts/vm-deps.sh --print-prefix)
GUEST=$(scripts/vm-deps.sh --print-guest)
ROOT=$VM_DEPS/root

case "${VM_FRONTEND:-ours}" in
ours) FRONTEND=$BUILD/lib/libggml-virtgpu.so ;;
reference) FRONTEND=$(scripts/reference-frontend.sh --print-path) && scripts/reference-frontend.sh >&2 ;;
*) die "VM_FRONTEND is ours or reference, not '$VM_FRONTEND'" ;;
esac
for f in "$FRONTEND" "$BUILD/lib/virgl/libvirglrenderer.so.1" "$BUILD/lib/libggml-virtgpu-backend.so"; do
    [[ -f $f ]] || die "$f is missing: build first (make)"
done

work=$(mktemp -d /tmp/vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
OUT=$(realpath -m "${VM_OUT:-$work/out}")
mkdir -p "$OUT"
rm -f "$OUT/stdout" "$OUT/stderr" "$OUT/status" "$OUT/dmesg.txt" "$OUT/qemu.pid"
qmp=()
if [[ -n ${VM_QMP:-} ]]; then
    VM_QMP=$(realpath -m "$VM_QMP")
    qmp=(-qmp "unix:$VM_QMP,server=on,wait=off")
fi
LOG=${VM_LOG:-$(mktemp /tmp/vm-host.XXXXXX.log)}
: >"$LOG"
LOG=$(realpath "$LOG")

# the job the guest's /init runs inside the host's root (results in /run/vm-out)
{
    echo "cd $(printf '%q' "$CHECKOUT")"
    echo "export HOME=/run TMPDIR=/run PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "export GGML_BACKEND_PATH=$(printf '%q' "$FRONTEND")"
    for e in "${guest_env[@]}"; do echo "export $(printf '%q' "$e")"; done
    printf '%q ' "$@"
    echo '>/run/vm-out/stdout 2>/run/vm-out/stderr'
    echo 'echo $? >/run/vm-out/status'
} >"$OUT/job.sh"

# the host side's environment: defaults, overrides, removals
declare -A host_vars=([VIRGL_ROUTE_VENUS_TO_APIR]=1
                      [VIRGL_APIR_BACKEND_LIBRARY]="$BUILD/lib/libggml-virtgpu-backend.so"
                      [APIR_LLAMA_CPP_GGML_LIBRARY_PATH]="$DEPS_DIR/build/bin/libggml-cpu.so")
host_unset=()
for name in VIRGL_ROUTE_VENUS_TO_APIR VIRGL_APIR_BACKEND_LIBRARY APIR_LLAMA_CPP_GGML_LIBRARY_PATH \
            APIR_LLAMA_CPP_GGML_LIBRARY_REG GGML_VIRTGPU_VIRGLRENDERER GGML_VIRTGPU_DEBUG; do
    if [[ -n "${!name+set}" && -z "${!name}" ]]; then
        unset "host_vars[$name]"
        host_unset+=(-u "$name")
    elif [[ -n "${!name:-}" ]]; then
        host_vars[$name]=${!name}
    fi
done
host_env=()
for name in "${!host_vars[@]}"; do host_env+=("$name=${host_vars[$name]}"); done

accel=(-accel tcg -cpu max)
[[ "${VM_ACCEL:-tcg}" == kvm ]] && accel=(-accel kvm -cpu host)

# Runs QEMU inside the Debian 13 root, in a private mount namespace: the
# host's root (read-only), the checkout, the dependencies and the work
# folder appear at their own paths in it; all mounts vanish with it.
run_qemu() {
    local dir
    mkdir -p "$ROOT/mnt/hostroot" "$ROOT/mnt/guest" "$ROOT/mnt/out"
    mount --bind / "$ROOT/mnt/hostroot" && mount -o remount,bind,ro "$ROOT/mnt/hostroot"
    mount --bind "$GUEST" "$ROOT/mnt/guest"
    mount --bind "$OUT" "$ROOT/mnt/out"
    mount -t tmpfs tmpfs "$ROOT/tmp"
    for dir in "$CHECKOUT" "$DEPS_DIR" "$BUILD" "$work" "$(dirname "$LOG")" "$(dirname "$FRONTEND")" \
               ${VM_QMP:+"$(dirname "$VM_QMP")"} ${APIR_SERVER_SOCKET:+"$(dirname "$APIR_SERVER_SOCKET")"}; do
        mkdir -p "$ROOT$dir" && mount --bind "$dir" "$ROOT$dir"
    done
    mount -t proc proc "$ROOT/proc"
    mount --rbind /sys "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    # Xvfb picks a free display (-displayfd) and listens only on its socket
    # file in this namespace's /tmp: VMs started at once do not meet
    chroot "$ROOT" /usr/bin/Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp -nolisten local \
        3>"$work/display" >>"$LOG" 2>&1 &
    local xvfb=$! display=
    for _ in $(seq 200); do
        display=$(cat "$work/display" 2>/dev/null)
        [[ -n $display && -S $ROOT/tmp/.X11-unix/X$display ]] && break
        sleep 0.05
    done
    # DBUS_SESSION_BUS_ADDRESS: SDL must not start a dbus-launch that outlives QEMU
    local rc=0
    chroot "$ROOT" /usr/bin/env "${host_unset[@]}" DISPLAY=":$display" DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent \
        NO_AT_BRIDGE=1 LD_LIBRARY_PATH="$BUILD/lib/virgl" VIRGL_APIR_LOG_TO_FILE="$LOG" "${host_env[@]}" \
        timeout -k 5 "${VM_TIMEOUT:-900}" /usr/bin/qemu-system-x86_64 "${accel[@]}" -smp 1 -m "${VM_MEMORY:-2G}" \
        -nodefaults -no-user-config -serial "file:$work/console.log" -no-reboot -display sdl,gl=on \
        -pidfile /mnt/out/qemu.pid "${qmp[@]}" \
        -device "virtio-gpu-gl-pci,venus=on,blob=on,hostmem=${VM_HOSTMEM:-1G}" \
        -kernel /mnt/guest/vmlinux -initrd /mnt/guest/initramfs.cpio.gz \
        -append "console=ttyS0 panic=-1 quiet loglevel=4" \
        -virtfs local,path=/mnt/hostroot,mount_tag=hostroot,security_model=none,readonly=on \
        -virtfs local,path=/mnt/out,mount_tag=out,security_model=none >>"$LOG" 2>&1 || rc=$?
    kill "$xvfb" 2>/dev/null
    wait "$xvfb" 2>/dev/null || true
    # anything else still running in the root from this namespace (Venus's
    # render server exits shortly after QEMU) is ours to end
    sleep 0.5
    local p ours
    ours=$(readlink /proc/self/ns/mnt)
    for p in /proc/[0-9]*; do
        [[ "$(readlink "$p/root" 2>/dev/null)" == "$ROOT" && "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$ours" ]] &&
            kill -9 "${p#/proc/}" 2>/dev/null
    done
    return $rc
}

set +e
unshare -m --propagation private bash -c "$(declare -f run_qemu); $(declare -p ROOT GUEST CHECKOUT DEPS_DIR BUILD \
    work OUT LOG FRONTEND host_env host_unset accel qmp); run_qemu"
qemu_rc=$?
set -e
cat "$work/console.log" >>"$LOG" 2>/dev/null || true
[[ -f $OUT/dmesg.txt ]] && { echo "== guest dmesg"; cat "$OUT/dmesg.txt"; } >>"$LOG"
echo "vm.sh: host logs (QEMU, our component, guest console): $LOG" >&2
[[ -f $OUT/stdout ]] && cat "$OUT/stdout"
[[ -f $OUT/stderr ]] && cat "$OUT/stderr" >&2
if [[ ! -f $OUT/status ]]; then
    die "the guest did not run the command (QEMU exit $qemu_rc); see $LOG"
fi
exit "$(cat "$OUT/status")"
