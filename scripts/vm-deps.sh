#!/usr/bin/env bash
# Obtains what scripts/vm.sh needs, into a cache outside the checkout:
#   root/    a minimal Debian 13 root holding Debian 13's QEMU (the first of
#            Debian's QEMUs whose virtio-gpu-gl has context-init, blobs and
#            host-visible memory), Xvfb and Mesa for its OpenGL display;
#   guest/   Debian's kernel (vmlinux, booted through its PVH entry) and an
#            initramfs of busybox-static and the virtio modules whose /init
#            mounts the host's root read-only over 9p and runs a job.
#
#   scripts/vm-deps.sh                 obtain (no-op when the cache is warm)
#   scripts/vm-deps.sh --print-prefix  print the cache directory and exit
#   scripts/vm-deps.sh --print-guest   print the guest's folder and exit
#
# Environment: VM_DEPS_DIR (default ~/.cache/ggml-virtgpu/vm-r<recipe>),
#              MIRROR (Debian archive URL; default: the one apt uses here).
set -euo pipefail

# Bump when what is built below changes, so that old caches are rebuilt.
RECIPE=1
ROOT_PACKAGES=qemu-system-x86,qemu-system-modules-opengl,qemu-system-gui,xvfb,xauth,libgl1-mesa-dri
# libegl1: libepoxy dlopens libEGL.so.1 (QEMU aborts without it); dbus-x11:
# debootstrap cannot configure GTK's dconf-service without a session bus
# provider; libgomp1/libstdc++6: the GGML libraries QEMU loads through our
# component; virgl-server: the real virglrenderer's Venus runs in it.
ROOT_PACKAGES=$ROOT_PACKAGES,libegl-mesa0,libegl1,dbus-x11,libgomp1,libstdc++6,virgl-server
GUEST_MODULES="virtio_pci 9pnet_virtio 9p virtio-gpu"

SCRIPTS=$(cd "$(dirname "$0")" && pwd)
VM_DEPS_DIR=${VM_DEPS_DIR:-$HOME/.cache/ggml-virtgpu/vm-r$RECIPE}

log() { printf '[vm-deps] %s\n' "$*" >&2; }
die() { printf '[vm-deps] error: %s\n' "$*" >&2; exit 1; }
SECONDS=0

need_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v depmod >/dev/null || missing+=(kmod)
    command -v xz >/dev/null || missing+=(xz-utils)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

apt_mirror() {
    if [[ -n "${MIRROR:-}" ]]; then
        echo "$MIRROR"
        return
    fi
    local url
    url=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
        2>/dev/null | grep -v security | head -1 | awk '{print $2}')
    echo "${url:-http://deb.debian.org/debian}"
}

make_root() {
    local root=$VM_DEPS_DIR/root
    [[ -x $root/usr/bin/qemu-system-x86_64 ]] && return
    [[ $(id -u) == 0 ]] || die "building the Debian 13 root needs root (debootstrap): run as root or with sudo"
    log "making a minimal Debian 13 root with its QEMU (about 160 MB to download, 1-2 minutes)"
    rm -rf "$root.tmp"
    mkdir -p "$VM_DEPS_DIR/debs"
    if ! debootstrap --variant=minbase --cache-dir="$VM_DEPS_DIR/debs" --include="$ROOT_PACKAGES" \
        trixie "$root.tmp" "$(apt_mirror)" >"$VM_DEPS_DIR/debootstrap.log" 2>&1; then
        tail -20 "$VM_DEPS_DIR/debootstrap.log" >&2
        die "debootstrap failed (full log: $VM_DEPS_DIR/debootstrap.log)"
    fi
    chroot "$root.tmp" apt-get clean
    rm -rf "$VM_DEPS_DIR/debs"
    mv "$root.tmp" "$root"
    log "root ready: $(chroot "$root" /usr/bin/qemu-system-x86_64 --version | head -1) ($((SECONDS))s)"
}

# modules (paths under lib/modules/KVER) in load order, dependencies first
module_load_order() {
    local kroot=$1 kver=$2 m p
    declare -A seen=()
    local order=()
    add_module() {
        local rel=$1 dep
        [[ -n "${seen[$rel]:-}" ]] && return
        seen[$rel]=1
        for dep in $(awk -F': ' -v m="$rel" '$1 == m { print $2 }' "$kroot/lib/modules/$kver/modules.dep"); do
            add_module "$dep"
        done
        order+=("$rel")
    }
    for m in $GUEST_MODULES; do
        p=$(modinfo -b "$kroot" -k "$kver" -n "$m")
        add_module "${p#*/lib/modules/$kver/}"
    done
    printf '%s\n' "${order[@]}"
}

# the guest's folder, named by its /init so that a changed init makes a new one
guest_name() {
    echo "guest-$(sha256sum "$SCRIPTS/vm-init.sh" | cut -c1-12)"
}

make_guest() {
    local guest=$VM_DEPS_DIR/$(guest_name)
    [[ -f $guest/initramfs.cpio.gz ]] && return
    log "making the guest: Debian's kernel and a busybox initramfs"
    local work=$VM_DEPS_DIR/guest.tmp
    rm -rf "$work" && mkdir -p "$work/pkgs" "$work/kernel" "$work/busybox"
    local kpkg
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    (cd "$work/pkgs" && apt-get -o APT::Sandbox::User=root download "$kpkg" busybox-static >/dev/null) ||
        die "cannot download $kpkg and busybox-static (apt-get download)"
    dpkg-deb -x "$work"/pkgs/linux-image-*.deb "$work/kernel"
    dpkg-deb -x "$work"/pkgs/busybox-static_*.deb "$work/busybox"
    local kver
    kver=$(ls "$work/kernel/lib/modules")
    # The uncompressed ELF boots through QEMU's PVH entry: no real-mode setup
    # and no decompression in the guest, about 2 s less under TCG.
    python3 -c 'import lzma, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[d.find(b"\xfd7zXZ\x00"):]))' \
        "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinux"
    depmod -b "$work/kernel" "$kver"
    local initrd=$work/initrd
    mkdir -p "$initrd"/{bin,dev,proc,sys,tmp,mnt/host,mnt/out,lib/modules}
    cp "$work/busybox/bin/busybox" "$initrd/bin/"
    local rel
    for rel in $(module_load_order "$work/kernel" "$kver"); do
        cp "$work/kernel/lib/modules/$kver/$rel" "$initrd/lib/modules/"
        basename "$rel" >>"$initrd/modules.list"
    done
    cp "$SCRIPTS/vm-init.sh" "$initrd/init"
    chmod +x "$initrd/init"
    (cd "$initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"
    rm -rf "$VM_DEPS_DIR"/guest-*  # made by an earlier /init
    mkdir -p "$guest"
    mv "$work/vmlinux" "$work/initramfs.cpio.gz" "$guest/"
    echo "$kver" >"$guest/kernel-version"
    rm -rf "$work"
    log "guest ready: kernel $kver ($((SECONDS))s)"
}

case "${1:-}" in
--print-prefix) echo "$VM_DEPS_DIR"; exit 0 ;;
--print-guest) echo "$VM_DEPS_DIR/$(guest_name)"; exit 0 ;;
esac

need_tools
mkdir -p "$VM_DEPS_DIR"
make_guest
make_root
