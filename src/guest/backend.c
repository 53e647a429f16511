#define _POSIX_C_SOURCE 200809L
/* The VirtGPU backend (stream): graph compute on the host device. The graph
 * is serialized straight into the shared data blob. */
#include <stdlib.h>

#include "clock.h"
#include "frontend.h"

struct vgpu_backend {
    struct vgpu_device *device;
    struct vgpu_tensor_set tensors; /* reused by every graph */
};

static const char *backend_get_name(ggml_backend_t backend)
{
    return ((struct vgpu_backend *)backend->context)->device->name;
}

static void backend_free(ggml_backend_t backend)
{
    struct vgpu_backend *b = backend->context;
    free(b->tensors.slots);
    free(b);
    free(backend);
}

static enum ggml_status backend_graph_compute(ggml_backend_t backend, struct ggml_cgraph *graph)
{
    struct vgpu_backend *b = backend->context;
    struct vgpu_remote *r = b->device->remote;
    struct apir_msg_graph req = { .res_id = r->data.res_id };
    struct apir_msg_i32 status = { .value = GGML_STATUS_FAILED };
    vgpu_lock(r);
    const int64_t start = r->debug ? monotonic_ns() : 0;
    req.size = vgpu_serialize_graph(&b->tensors, graph, r->data.ptr, r->data.size);
    if (r->debug) {
        LOG_DEBUG("%s: %d nodes serialized into %llu bytes in %.1f us", b->device->name, ggml_graph_n_nodes(graph),
                  (unsigned long long)req.size, (double)(monotonic_ns() - start) / 1e3);
    }
    if (req.size > 0 && vgpu_backend_graph_compute_locked(r, &req, &status) != APIR_CALL_OK) {
        status.value = GGML_STATUS_FAILED;
    }
    vgpu_unlock(r);
    if (status.value != GGML_STATUS_SUCCESS) {
        LOG_ERROR("%s: graph compute of %d nodes failed (status %d)", b->device->name, ggml_graph_n_nodes(graph),
                  (int)status.value);
    }
    return (enum ggml_status)status.value;
}

static const struct ggml_backend_i backend_iface = {
    .get_name = backend_get_name,
    .free = backend_free,
    .graph_compute = backend_graph_compute,
};

static ggml_guid_t backend_guid(void)
{
    static ggml_guid guid = { 0x56, 0x69, 0x72, 0x74, 0x47, 0x50, 0x55, 0x2d,
                              0x41, 0x50, 0x49, 0x52, 0x2d, 0x43, 0x31, 0x31 };
    return &guid;
}

ggml_backend_t vgpu_backend_init(struct vgpu_device *d)
{
    struct vgpu_backend *b = calloc(1, sizeof *b);
    ggml_backend_t backend = calloc(1, sizeof *backend);
    if (b == NULL || backend == NULL) {
        free(b);
        free(backend);
        return NULL;
    }
    b->device = d;
    *backend = (struct ggml_backend){ .guid = backend_guid(), .iface = backend_iface, .device = &d->dev, .context = b };
    return backend;
}
