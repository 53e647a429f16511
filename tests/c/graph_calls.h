/* What the C tests of the host library share: one guest (R) and its
 * calls on tensors and graphs of the wire. */
#ifndef TEST_GRAPH_CALLS_H
#define TEST_GRAPH_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "apir/apir.h"
#include "ggml.h"
#include "remote.h"
#include "wire-graph.h"

/* the guest every helper talks through */
extern struct vgpu_remote *R;
extern struct wire_msg_none none_reply;

/* A transport to a host, as the environment says: apir-server's socket
 * (VTEST_SOCKET_NAME), our libvirglrenderer (TEST_VIRGL), else libapir in
 * this process (its context in *ctx); NULL (reported) when it fails. */
struct vgpu_transport *open_test_transport(struct apir_context **ctx);

/* a contiguous tensor of `type` and shape ne at `offset` in the buffer */
struct wire_tensor test_tensor(uint64_t id, uint64_t buffer, uint64_t offset, uint32_t op, enum ggml_type type,
                               const uint32_t ne[4]);
/* set (APIR_CALL_BUFFER_SET_TENSOR) or get the tensor's bytes through the data blob */
bool tensor_io(uint32_t call, uint64_t buffer, const struct wire_tensor *t, uint64_t offset, uint64_t size);
bool set_bytes(uint64_t buffer, const struct wire_tensor *t, const void *v, size_t size);
bool get_bytes(uint64_t buffer, const struct wire_tensor *t, void *v, size_t size);
/* the given tensors (in order), whose nodes are the last n_nodes,
 * serialized at the data blob's start: the graph's size */
uint64_t serialize_graph(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes);
/* that graph computed: the call's return code, the ggml status in *status */
uint32_t compute_rc(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes, int32_t *status);
bool compute(const struct wire_tensor *tensors, uint32_t n, uint32_t n_nodes, int32_t *status);
/* a buffer of buft: its handle, 0 when refused */
uint64_t alloc_buffer(uint64_t buft, uint64_t size);
bool free_buffer(uint64_t buffer);

#endif
