#!/bin/busybox sh
# /init of the guest that scripts/vm.sh boots: loads the virtio modules,
# mounts the host's root read-only over 9p (tag hostroot) and vm.sh's
# results folder (tag out), runs out/job.sh inside the host's root (so the
# host's binaries run unchanged in the guest) and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do
    args=""
    # no fbdev console: it would flush a framebuffer to the host every 200 ms
    [ "$m" = drm_kms_helper.ko ] && args="fbdev_emulation=0"
    insmod "/lib/modules/$m" $args || echo "vm-init: cannot load $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /mnt/host || echo "vm-init: no host root"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /mnt/out || echo "vm-init: no results share"
for d in proc sys dev; do mount --bind "/$d" "/mnt/host/$d"; done
# a writable /run in the host's root, the results share inside it
mount -t tmpfs run /mnt/host/run
mkdir -p /mnt/host/run/vm-out
mount --bind /mnt/out /mnt/host/run/vm-out
if [ -f /mnt/out/job.sh ]; then
    chroot /mnt/host /bin/sh /run/vm-out/job.sh
fi
dmesg > /mnt/out/dmesg.txt
sync
poweroff -f
