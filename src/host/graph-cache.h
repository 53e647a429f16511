/* The graphs a guest sent, decoded, validated and kept, so that a graph sent
 * again runs as the same cgraph. */
#ifndef HOST_GRAPH_CACHE_H
#define HOST_GRAPH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "ggml.h"

struct host_graph {
    struct ggml_cgraph *cgraph;
    struct host_index_checks *index_checks; /* of the indices the guest wrote */
};

/* The graph of `size` bytes at `data` (guest-shared memory), decoded once
 * and kept: a graph the guest sends again, byte for byte, runs as the same
 * cgraph (tensor structs at the same addresses, the same uid), so a GPU
 * backend replays what it captured. use_counts: the wire's use counts are
 * the guest's (ext_graph_run), and the backend may fuse by them. NULL
 * (logged) when invalid. */
const struct host_graph *host_graph_cache_get(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                              uint64_t key, bool use_counts);
/* The kept graph the guest named with a non-zero key (its own choice, the
 * graph's uid in the guest) when it sent it, or NULL. A key only picks
 * among graphs this guest sent and the host validated. */
const struct host_graph *host_graph_cache_find(struct host_ctx *ctx, uint64_t key);
/* Forgets every kept graph: before a buffer they may point into is freed. */
void host_graph_cache_clear(struct host_ctx *ctx);
void host_graph_cache_free(struct host_ctx *ctx);

#endif
