/* libggml-virtgpu internals: the ggml objects of the frontend. */
#ifndef VGPU_FRONTEND_H
#define VGPU_FRONTEND_H

#include <pthread.h>

#include "apir-calls.h"
#include "ggml-backend-impl.h"

struct vgpu_remote;

#define VGPU_NAME_SIZE 128
#define VGPU_OP_CACHE_SIZE 4096

/* answers of the host that depend only on a tensor's shape and op */
struct vgpu_cache_entry {
    uint64_t key; /* 0: empty */
    uint64_t value;
};

struct vgpu_cache {
    pthread_mutex_t lock;
    struct vgpu_cache_entry entries[VGPU_OP_CACHE_SIZE];
};


/* A buffer type of the host's device as ggml sees it: the device's own, or
 * one of its extra types (ggml-cpu's repacking type), whose tensors are
 * written whole, once, and never read back. */
struct vgpu_buft {
    struct ggml_backend_buffer_type buft; /* its context is this struct */
    struct vgpu_device *device;
    uint64_t handle;                      /* the host's */
    size_t alignment, max_size;
    bool extra;
    char name[VGPU_NAME_SIZE];            /* VirtGPU<index>-<host name> */
};

#define VGPU_MAX_EXTRA_BUFTS APIR_MAX_HANDLES

/* One VirtGPU device: one host device behind one connection. */
struct vgpu_device {
    struct vgpu_remote *remote;
    int index;
    char name[VGPU_NAME_SIZE];        /* VirtGPU<index>-<host device name> */
    char description[VGPU_NAME_SIZE]; /* the host device's description */
    enum ggml_backend_dev_type type;
    size_t memory_free, memory_total;
    struct vgpu_buft buft;
    struct vgpu_buft extra[VGPU_MAX_EXTRA_BUFTS];
    uint32_t n_extra;
    /* the extra types' ggml buffer types, NULL-terminated (llama.cpp's
     * ggml_backend_dev_get_extra_bufts) */
    ggml_backend_buffer_type_t extra_list[VGPU_MAX_EXTRA_BUFTS + 1];
    /* guest memory the host copies from (shared-buffer.c); offered when
     * the host's device has a host buffer type of its own (pinned memory) */
    bool has_host_buft;
    struct ggml_backend_buffer_type host_buft;
    char host_buft_name[VGPU_NAME_SIZE];
    struct ggml_backend_device dev;
    struct vgpu_cache supports_op;
    struct vgpu_cache alloc_size;
};

struct vgpu_buffer {
    struct vgpu_device *device;
    uint64_t handle;
    uint64_t base;   /* the host's base for tensor offsets */
};

/* Files, each using only those listed after it: reg.c (the registry),
 * device.c, backend.c, buffer.c, shared-buffer.c (ggml's interfaces),
 * wire.c (tensors and graphs on the wire), host-buffer.c, op-cache.c;
 * then the connection to the host (remote.h): connection.c,
 * shared-blobs.c, calls.c, lock.c, queued-writes.c, graph-run.c, remote.c,
 * reply-wait.c, call-stats.c, transport*.c, log.c. */

/* device.c */
bool vgpu_device_init(struct vgpu_device *d, struct vgpu_remote *remote, int index, ggml_backend_reg_t reg);
/* the device's extra buffer types, NULL-terminated (maybe none); NULL for
 * a device that is not a VirtGPU one */
ggml_backend_buffer_type_t *vgpu_device_extra_bufts(ggml_backend_dev_t dev);
/* the VirtGPU buffer type behind a ggml one of dev, or NULL */
struct vgpu_buft *vgpu_buft_of(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft);

/* backend.c */
ggml_backend_t vgpu_backend_init(struct vgpu_device *d);

/* buffer.c */
extern const struct ggml_backend_buffer_type_i vgpu_buffer_type_iface;

/* shared-buffer.c */
/* d's host buffer type, named after d (d->name set) */
void vgpu_shared_buft_init(struct vgpu_device *d);

/* host-buffer.c */
/* the free_buffer of every VirtGPU buffer: frees the host's buffer too */
void vgpu_buffer_release(ggml_backend_buffer_t buffer);
/* the VirtGPU buffer behind a ggml buffer, or NULL (another backend's) */
struct vgpu_buffer *vgpu_buffer_of(ggml_backend_buffer_t buffer);

/* op-cache.c */
void vgpu_cache_init(struct vgpu_cache *c);
bool vgpu_cache_get(struct vgpu_cache *c, uint64_t key, uint64_t *value);
void vgpu_cache_put(struct vgpu_cache *c, uint64_t key, uint64_t value);
/* a key over what such answers depend on: op, parameters, types, layouts */
uint64_t vgpu_op_key(const struct ggml_tensor *t, uint64_t salt);

/* wire.c: ggml tensors on the wire */
struct vgpu_tensor_set_slot {
    const struct ggml_tensor *tensor;
    uint32_t generation;
};

/* the tensors already written, reused across graphs (no clearing: a slot
 * counts only when it has the current generation) */
struct vgpu_tensor_set {
    struct vgpu_tensor_set_slot *slots;
    size_t cap;
    size_t count;
    uint32_t generation;
};

bool vgpu_wire_tensor(const struct ggml_tensor *t, struct apir_wire_tensor *out);
/* the tensor of supports_op / get_alloc_size, with its sources */
void vgpu_inline_op(const struct ggml_tensor *t, struct apir_inline_op *out);
/* serializes the graph into [out, out + cap); the size written, 0 on failure */
size_t vgpu_serialize_graph(struct vgpu_tensor_set *set, const struct ggml_cgraph *graph, void *out, size_t cap);

#endif
