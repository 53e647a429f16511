/* Fuzz target graph_compute: a graph from the guest decoded, validated
 * (decode.c, op-table.c, graph-cache.c) and run on the CPU backend (one
 * thread), through the host's backend_graph_compute call. The input
 * (README.md) names the buffers the graph's tensors lie in; the harness
 * allocates them, zeroes them and writes the input's fill bytes at the
 * start of each, as a guest would, then sends the graph. */
#include "fuzz.h"

#define CTX_ID 1u
#define MAX_BUFFERS 16u
#define FILL_RES 1u
#define GRAPH_RES 2u

/* A buffer of `size` bytes (within what is left of the quota), zeroed,
 * with the fill bytes at its start; false when the host gave none. */
static bool make_buffer(uint64_t buft, uint64_t size, size_t fill_size, uint64_t *quota_left)
{
    size = size < *quota_left ? size : *quota_left;
    *quota_left -= size;
    const uint64_t handle = fuzz_host_alloc_buffer(CTX_ID, buft, size);
    if (handle == 0) {
        return false;
    }
    fuzz_host_clear_buffer(CTX_ID, handle);
    fuzz_host_write_buffer(CTX_ID, handle, FILL_RES, size < fill_size ? size : fill_size);
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
    const uint64_t buft = fuzz_host_buffer_type(CTX_ID);
    uint64_t quota_left = FUZZ_MEMORY_QUOTA;
    for (uint32_t i = 0; i < n_buffers && make_buffer(buft, sizes[i], fill_size, &quota_left); i++) {
    }
    fuzz_host_graph_compute(CTX_ID, GRAPH_RES, graph_size);
    fuzz_host_stop(CTX_ID);
    fuzz_memory_free(&memory);
    return 0;
}
