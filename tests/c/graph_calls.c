/* What the C tests of the host library share (graph_calls.h). */
#include "graph_calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "connection.h"
#include "lock.h"
#include "loopback.h"
#include "transport-vtest.h"
#include "virgl_loopback.h"

struct vgpu_remote *R;
struct wire_msg_none none_reply;

struct vgpu_transport *open_test_transport(struct apir_context **ctx)
{
    const char *socket_path = getenv("VTEST_SOCKET_NAME");
    *ctx = NULL;
    if (socket_path != NULL) {
        return vgpu_transport_vtest_open(socket_path, false);
    }
    if (getenv("TEST_VIRGL") != NULL) {
        return virgl_loopback_create(1);
    }
    char err[256];
    *ctx = apir_context_create(1, APIR_CAPSET_ID_APIR, "test", err, sizeof err);
    if (*ctx == NULL) {
        printf("cannot create an APIR context: %s\n", err);
        return NULL;
    }
    return loopback_create(*ctx);
}

struct wire_tensor test_tensor(uint64_t id, uint64_t buffer, uint64_t offset, uint32_t op, enum ggml_type type,
                               const uint32_t ne[4])
{
    struct wire_tensor w;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.type = type;
    w.buffer = buffer;
    w.nb[0] = (uint32_t)ggml_type_size(type);
    for (int i = 0; i < 4; i++) {
        w.ne[i] = ne[i];
        w.nb[i] = i == 0 ? w.nb[0] : w.nb[i - 1] * ne[i - 1];
    }
    w.op = op;
    w.data = offset;
    w.flags = op != GGML_OP_NONE ? GGML_TENSOR_FLAG_COMPUTE : 0; /* as ggml_build_forward_expand marks nodes */
    snprintf(w.name, sizeof w.name, "t%llu", (unsigned long long)id);
    return w;
}

bool tensor_io(uint32_t call, uint64_t buffer, const struct wire_tensor *t, uint64_t offset, uint64_t size)
{
    const struct wire_msg_tensor_io req = {
        .buffer = buffer, .tensor = *t, .res_id = R->data.res_id, .offset = offset, .size = size
    };
    return call == APIR_CALL_BUFFER_SET_TENSOR ? vgpu_buffer_set_tensor(R, &req, &none_reply)
                                               : vgpu_buffer_get_tensor(R, &req, &none_reply);
}

bool set_bytes(uint64_t buffer, const struct wire_tensor *t, const void *v, size_t size)
{
    memcpy(R->data.ptr, v, size);
    return tensor_io(APIR_CALL_BUFFER_SET_TENSOR, buffer, t, 0, size);
}

bool get_bytes(uint64_t buffer, const struct wire_tensor *t, void *v, size_t size)
{
    const bool ok = tensor_io(APIR_CALL_BUFFER_GET_TENSOR, buffer, t, 0, size);
    memcpy(v, R->data.ptr, size);
    return ok;
}

uint64_t serialize_graph(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes)
{
    struct wire_graph_writer g;
    wire_graph_begin(&g, R->data.ptr, R->data.size, n_nodes);
    for (uint32_t i = n - n_nodes; i < n; i++) {
        wire_graph_put_node(&g, tensors[i].id);
    }
    for (uint32_t i = 0; i < n; i++) {
        wire_graph_put_tensor(&g, &tensors[i]);
    }
    return wire_graph_end(&g);
}

uint32_t compute_rc(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes, int32_t *status)
{
    const struct wire_msg_graph req = { .res_id = R->data.res_id, .size = serialize_graph(tensors, n, n_nodes) };
    struct wire_msg_i32 reply = { .value = -100 };
    vgpu_lock(R);
    const uint32_t rc = vgpu_backend_graph_compute_locked(R, &req, &reply);
    vgpu_unlock(R);
    *status = reply.value;
    return rc;
}

bool compute(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes, int32_t *status)
{
    return compute_rc(tensors, n, n_nodes, status) == APIR_CALL_OK;
}

bool free_buffer(uint64_t buffer)
{
    const struct wire_msg_u64 req = { .value = buffer };
    return vgpu_buffer_free_buffer(R, &req, &none_reply);
}

uint64_t alloc_buffer(uint64_t buft, uint64_t size)
{
    const struct wire_msg_alloc req = { .buft = buft, .size = size };
    struct wire_msg_u64 handle = { .value = 0 };
    return vgpu_buffer_type_alloc_buffer(R, &req, &handle) ? handle.value : 0;
}
