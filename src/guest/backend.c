#define _POSIX_C_SOURCE 200809L
/* The VirtGPU backend (stream): graph compute on the host device. The graph
 * is serialized straight into the shared data blob. */
#include <stdlib.h>

#include "backend.h"
#include "calls.h"
#include "clock.h"
#include "frontend.h"
#include "graph-run.h"
#include "host-buffer.h"
#include "lock.h"
#include "queued-writes.h"
#include "remote.h"
#include "wire.h"

/* for struct ggml_cgraph's uid; the header also defines static helpers
 * this file does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop

struct vgpu_backend {
    struct vgpu_device *device;
    struct vgpu_tensor_set tensors; /* reused by every graph */
    uint64_t kept_uid;              /* uid of the graph the host keeps for us; 0: none */
    struct wire_msg_graph_run run;  /* the request of a graph run (large: not on the stack) */
    struct vgpu_run_outputs outputs; /* where a run's outputs will be in the data blob */
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

/* the graph serialized into the data blob: its size, 0 on failure (logged) */
static uint64_t serialize(struct vgpu_backend *b, struct vgpu_remote *r, const struct ggml_cgraph *graph)
{
    const int64_t start = r->debug ? monotonic_ns() : 0;
    const size_t size = vgpu_serialize_graph(&b->tensors, graph, r->data.ptr, vgpu_data_capacity(r));
    if (r->debug) {
        LOG_DEBUG("%s: %d nodes serialized into %zu bytes in %.1f us", b->device->name,
                  ggml_graph_n_nodes((struct ggml_cgraph *)graph), size, (double)(monotonic_ns() - start) / 1e3);
    }
    return size;
}

/* The base protocol: the whole graph every time (queued writes were sent
 * before it by vgpu_request). */
static int32_t compute_whole(struct vgpu_backend *b, struct vgpu_remote *r, const struct ggml_cgraph *graph)
{
    struct wire_msg_graph req = { .res_id = r->data.res_id, .size = serialize(b, r, graph) };
    struct wire_msg_i32 status = { .value = GGML_STATUS_FAILED };
    if (req.size == 0 || vgpu_backend_graph_compute_locked(r, &req, &status) != APIR_CALL_OK) {
        return GGML_STATUS_FAILED;
    }
    return status.value;
}

/* Where the host puts the graph's outputs in the data blob (the layout of
 * wire-calls.h), as far as they fit APIR_MAX_OUTPUTS: for get_tensor to
 * find, once the reply says how many came. */
static void layout_outputs(const struct ggml_cgraph *graph, struct vgpu_run_outputs *out)
{
    struct ggml_cgraph *g = (struct ggml_cgraph *)graph;
    uint64_t used = 0;
    out->count = 0;
    for (int i = 0; i < ggml_graph_n_nodes(g) && out->count < APIR_MAX_OUTPUTS; i++) {
        const struct ggml_tensor *node = ggml_graph_node(g, i);
        if ((node->flags & GGML_TENSOR_FLAG_OUTPUT) == 0) {
            continue;
        }
        const struct vgpu_buffer *buffer = vgpu_buffer_of(node->buffer); /* serialized: one of ours */
        const uint64_t at = wire_output_offset(used);
        used = at + ggml_nbytes(node);
        out->items[out->count++] = (struct vgpu_run_output){
            .buffer = buffer->handle, .start = (uintptr_t)node->data, .size = ggml_nbytes(node), .at = (size_t)at
        };
    }
}

/* One graph run: with ext_graph_run_async, graph_compute returns as soon
 * as the host has taken the work (*taken), and the run's end is waited for
 * where ggml needs it (the next call, get_tensor, synchronize); a host
 * without it gets ext_graph_run. */
static uint32_t run_once(struct vgpu_backend *b, struct vgpu_remote *r, struct wire_msg_graph_result *result,
                         bool *taken)
{
    struct wire_msg_graph_run *req = &b->run;
    *taken = false;
    if (!r->no_async_run) {
        const uint32_t rc = vgpu_graph_run_async_locked(r, req, &b->outputs, result);
        if (rc == VGPU_ACCEPTED) {
            *taken = true;
            return APIR_CALL_OK;
        }
        if (rc != APIR_CALL_INVALID_INDEX) {
            return rc;
        }
        r->no_async_run = true; /* an older host */
    }
    return vgpu_ext_graph_run_locked(r, req, result);
}

/* The extension: the queued writes (the token's inputs) and the graph in
 * one round trip. A graph ggml kept since the last run (same uid: ggml-cuda
 * relies on the same promise) is named, not sent; the host answers
 * kept = false when it no longer has it, and then gets it whole. Returns
 * the call's code; APIR_CALL_INVALID_INDEX from a host without it. */
static uint32_t run_with_writes(struct vgpu_backend *b, struct vgpu_remote *r, const struct ggml_cgraph *graph,
                                int32_t *status)
{
    struct wire_msg_graph_run *req = &b->run;
    vgpu_take_writes(r, &req->writes);
    req->key = graph->uid;
    req->res_id = r->data.res_id;
    req->outputs_max = vgpu_data_capacity(r);
    const bool named = graph->uid != 0 && graph->uid == b->kept_uid;
    req->size = named ? 0 : serialize(b, r, graph);
    layout_outputs(graph, &b->outputs);
    struct wire_msg_graph_result result = { .status = GGML_STATUS_FAILED, .kept = false };
    bool taken = false;
    uint32_t rc = named || req->size > 0 ? run_once(b, r, &result, &taken) : APIR_CALL_FAILED;
    if (rc == APIR_CALL_OK && !taken && !result.kept) {
        req->size = serialize(b, r, graph);
        rc = req->size > 0 ? run_once(b, r, &result, &taken) : APIR_CALL_FAILED;
    }
    if (rc != APIR_CALL_OK && !vgpu_send_writes(r, &req->writes)) {
        VGPU_CALL_ERROR(r, "%s: the inputs of a graph could not be written", b->device->name);
    }
    const bool ran = rc == APIR_CALL_OK && (taken || result.kept);
    b->kept_uid = ran ? graph->uid : 0;
    if (ran && !taken) {
        vgpu_note_run_outputs(r, &b->outputs, result.outputs);
    }
    *status = taken ? GGML_STATUS_SUCCESS : ran ? result.status : GGML_STATUS_FAILED;
    return rc;
}

static enum ggml_status backend_graph_compute(ggml_backend_t backend, struct ggml_cgraph *graph)
{
    struct vgpu_backend *b = backend->context;
    struct vgpu_remote *r = b->device->remote;
    int32_t status = GGML_STATUS_FAILED;
    vgpu_lock(r);
    if (r->no_graph_run || run_with_writes(b, r, graph, &status) == APIR_CALL_INVALID_INDEX) {
        r->no_graph_run = true; /* an older host: the base protocol from now on */
        status = compute_whole(b, r, graph);
    }
    vgpu_unlock(r);
    if (status != GGML_STATUS_SUCCESS) {
        VGPU_CALL_ERROR(r, "%s: graph compute of %d nodes failed (status %d)", b->device->name,
                        ggml_graph_n_nodes(graph), (int)status);
    }
    return (enum ggml_status)status;
}

/* the end of a graph run the host still runs: taking the lock waits for it */
static void backend_synchronize(ggml_backend_t backend)
{
    struct vgpu_remote *r = ((struct vgpu_backend *)backend->context)->device->remote;
    vgpu_lock(r);
    vgpu_unlock(r);
}

static const struct ggml_backend_i backend_iface = {
    .get_name = backend_get_name,
    .free = backend_free,
    .synchronize = backend_synchronize,
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
