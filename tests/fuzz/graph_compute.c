/* Fuzz target graph_compute: a graph from the guest decoded, validated
 * (decode.c, op-table.c, graph-cache.c) and run on the CPU backend (one
 * thread), through the host's backend_graph_compute call. The input
 * (README.md) names the buffers the graph's tensors lie in; the harness
 * allocates them, zeroes them and writes the input's fill bytes at the
 * start of each, as a guest would, then sends the graph. */
#include <stdlib.h>
#include <string.h>

#include "wire-calls.h"
#include "fuzz.h"
#include "ggml.h"

#define CTX_ID 1u
#define MAX_BUFFERS 16u
#define FILL_RES 1u
#define GRAPH_RES 2u

static uint8_t request[4096];

#define HOST_CALL(call, layout, ...)                                                  \
    do {                                                                              \
        const struct wire_msg_##layout msg = { __VA_ARGS__ };                        \
        struct wire_encoder enc;                                                      \
        wire_encoder_init(&enc, request, sizeof request);                            \
        wire_encode_msg_##layout(&enc, &msg);                                        \
        fuzz_host_call(CTX_ID, APIR_CALL_##call, request, wire_encoder_used(&enc));  \
    } while (0)

static uint64_t reply_u64(void)
{
    uint64_t v;
    memcpy(&v, fuzz_host_reply(), sizeof v);
    return v;
}

/* the whole buffer (at most 4 GiB) as one I8 tensor */
static struct wire_tensor bytes_of(uint64_t handle, uint32_t n)
{
    return (struct wire_tensor){ .id = 1, .type = GGML_TYPE_I8, .buffer = handle, .op = GGML_OP_NONE,
                                      .ne = { n, 1, 1, 1 }, .nb = { 1, n, n, n } };
}

/* A buffer of `size` bytes (within what is left of the quota), zeroed,
 * with the fill bytes at its start; false when the host gave none. */
static bool make_buffer(uint64_t buft, uint64_t size, size_t fill_size, uint64_t *quota_left)
{
    size = size < *quota_left ? size : *quota_left;
    *quota_left -= size;
    HOST_CALL(BUFFER_TYPE_ALLOC_BUFFER, alloc, .buft = buft, .size = size);
    const uint64_t handle = reply_u64();
    if (handle == 0) {
        return false;
    }
    HOST_CALL(BUFFER_CLEAR, clear, .buffer = handle, .value = 0);
    const uint64_t n = size < fill_size ? size : fill_size;
    if (n > 0 && n <= UINT32_MAX) {
        HOST_CALL(BUFFER_SET_TENSOR, tensor_io, .buffer = handle, .tensor = bytes_of(handle, (uint32_t)n),
                  .res_id = FILL_RES, .offset = 0, .size = n);
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memory memory;
    struct fuzz_input in = { data, data + size };
    uint32_t n_buffers, graph_size;
    uint64_t sizes[MAX_BUFFERS];
    const uint8_t *graph;
    if (!fuzz_u32(&in, &n_buffers) || n_buffers > MAX_BUFFERS) {
        return 0;
    }
    for (uint32_t i = 0; i < n_buffers; i++) {
        if (!fuzz_u64(&in, &sizes[i])) {
            return 0;
        }
    }
    if (!fuzz_u32(&in, &graph_size) || (graph = fuzz_bytes(&in, graph_size)) == NULL) {
        return 0;
    }
    fuzz_setup();
    const size_t fill_size = (size_t)(in.end - in.cur);
    fuzz_memory_add(&memory, FILL_RES, in.cur, fill_size);
    fuzz_memory_add(&memory, GRAPH_RES, graph, graph_size);
    fuzz_host_start(CTX_ID, &memory);
    fuzz_host_call(CTX_ID, APIR_CALL_DEVICE_GET_BUFFER_TYPE, request, 0);
    const uint64_t buft = reply_u64();
    uint64_t quota_left = FUZZ_MEMORY_QUOTA;
    for (uint32_t i = 0; i < n_buffers && make_buffer(buft, sizes[i], fill_size, &quota_left); i++) {
    }
    HOST_CALL(BACKEND_GRAPH_COMPUTE, graph, .res_id = GRAPH_RES, .size = graph_size);
    fuzz_host_stop(CTX_ID);
    fuzz_memory_free(&memory);
    return 0;
}
