/* How the guest frontend reaches an APIR host (after Mesa's vn_renderer.h):
 * one ops table over shared-memory blobs that both sides map and command
 * submission, implemented by transport-vtest.c (a Unix socket to apir-server
 * or any vtest server hosting APIR) and transport-drm.c (the virtio-gpu
 * device of a VM); endpoints.c chooses them from the environment. */
#ifndef VGPU_TRANSPORT_H
#define VGPU_TRANSPORT_H

#include <stdatomic.h>
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
    const char *lost;     /* what it means when alive() turns false, and where to look */
    bool venus_capset;    /* commands carry the Venus offset */
    /* its blobs are ordinary memory, which the kernel's I/O can read and
     * write: true for vtest (a shared memfd); false for a VM's virtio-gpu,
     * whose blob mappings are device memory (read() from 9p or with
     * O_DIRECT into them fails with EFAULT) */
    bool blobs_are_ordinary_memory;
    /* a reply word said the host context is gone (APIR_REPLY_HOST_LOST):
     * how a VM's guest hears that its context's process ended */
    _Atomic bool host_said_lost;
};

/* ---- calls through the ops table ------------------------------------------ */

static inline bool vgpu_transport_create_blob(struct vgpu_transport *t, size_t size, struct vgpu_blob *out)
{
    return t->ops->create_blob(t, size, out);
}

static inline void vgpu_transport_destroy_blob(struct vgpu_transport *t, struct vgpu_blob *blob)
{
    t->ops->destroy_blob(t, blob);
}

static inline bool vgpu_transport_submit(struct vgpu_transport *t, const void *cmd, size_t size)
{
    return t->ops->submit(t, cmd, size);
}

static inline bool vgpu_transport_alive(struct vgpu_transport *t)
{
    return !atomic_load_explicit(&t->host_said_lost, memory_order_relaxed) && t->ops->alive(t);
}

static inline void vgpu_transport_destroy(struct vgpu_transport *t)
{
    t->ops->destroy(t);
}

#endif
