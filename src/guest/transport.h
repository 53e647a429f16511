/* How the guest frontend reaches an APIR host: shared-memory blobs that both
 * sides map, and command submission. Implemented by transport-vtest.c (a
 * Unix socket to apir-server or any vtest server hosting APIR) and
 * transport-drm.c (the virtio-gpu device of a VM). */
#ifndef VGPU_TRANSPORT_H
#define VGPU_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vgpu_blob {
    uint32_t res_id;  /* the host's resource id, named in commands */
    void *ptr;        /* the guest's mapping */
    size_t size;
    uint32_t handle;  /* transport-private (GEM handle for drm) */
};

struct vgpu_transport;

struct vgpu_transport_ops {
    /* a mappable host blob of at least size bytes */
    bool (*create_blob)(struct vgpu_transport *t, size_t size, struct vgpu_blob *out);
    void (*destroy_blob)(struct vgpu_transport *t, struct vgpu_blob *blob);
    /* hands one command buffer (a multiple of 4 bytes) to the host */
    bool (*submit)(struct vgpu_transport *t, const void *cmd, size_t size);
    /* false once the host is known to be gone */
    bool (*alive)(struct vgpu_transport *t);
    void (*destroy)(struct vgpu_transport *t);
};

struct vgpu_transport {
    const struct vgpu_transport_ops *ops;
    const char *name;     /* "vtest" or "drm", for messages */
    bool venus_capset;    /* commands carry the Venus offset */
};

#endif
