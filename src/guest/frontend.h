/* libggml-virtgpu internals: the ggml objects of the frontend (types only;
 * each file declares its functions in its own header). */
#ifndef VGPU_FRONTEND_H
#define VGPU_FRONTEND_H

#include <pthread.h>

#include "wire-calls.h"
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
 * reply-wait.c, call-stats.c, endpoints.c, transport-*.c, log.c. */

/* ggml tensors on the wire (wire.c) */
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

#endif
