/* The graphs a guest sent, decoded and validated once, and kept.
 *
 * llama.cpp sends the same graph for every generated token. Rebuilding it
 * per call gives the backend new tensor structs each time, and a GPU
 * backend then re-checks (or re-captures) its CUDA graph. Here a graph the
 * guest sends again, byte for byte, runs as the cgraph built the first
 * time: the same tensor structs and a uid, which ggml-cuda takes as "the
 * graph it captured" and replays.
 *
 * Identity is the bytes: a kept graph runs only when the guest's bytes are
 * equal to the private copy it was decoded from, so a changed graph is
 * decoded (and validated) anew and never runs as a stale one. The compare
 * reads guest-shared memory; a guest that changes it meanwhile can only get
 * the kept graph run (one it sent) or a fresh decode of a private copy. */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "graph-cache.h"
#include "index-check.h"
#include "handles.h"
#include "log.h"
#include "run-limits.h"

/* for struct ggml_cgraph's uid; the header also defines static helpers
 * this file does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop

/* llama.cpp alternates a few graphs (prompt, generation, their splits) */
#define GRAPH_CACHE_ENTRIES 8

struct graph_entry {
    uint8_t *bytes; /* private copy of the serialized graph; NULL: free */
    size_t size;
    struct ggml_context *mem;
    struct host_graph graph;
    bool use_counts; /* decoded with the guest's use counts */
    uint64_t key;  /* the guest's name for it, 0: none */
    uint64_t last_use;
    uint64_t charged; /* the host memory it holds, charged to the quota */
};

struct host_graph_cache {
    struct graph_entry entries[GRAPH_CACHE_ENTRIES];
    uint64_t clock;
};

/* uids start at 1: ggml-cuda takes 0 as "no uid" */
static uint64_t next_uid(void)
{
    static _Atomic uint64_t counter = 1;
    return counter++;
}

static void release_entry(struct host_ctx *ctx, struct graph_entry *e)
{
    ctx->charges.graphs -= e->charged;
    if (e->mem != NULL) {
        ggml_free(e->mem);
    }
    host_index_checks_free(e->graph.index_checks);
    free(e->bytes);
    memset(e, 0, sizeof *e);
}

static struct graph_entry *find_entry(struct host_graph_cache *c, const uint8_t *data, size_t size, bool use_counts)
{
    for (int i = 0; i < GRAPH_CACHE_ENTRIES; i++) {
        struct graph_entry *e = &c->entries[i];
        if (e->bytes != NULL && e->size == size && e->use_counts == use_counts && memcmp(e->bytes, data, size) == 0) {
            return e;
        }
    }
    return NULL;
}

/* a free entry, or the least recently used one, released */
static struct graph_entry *victim(struct host_ctx *ctx, struct host_graph_cache *c)
{
    struct graph_entry *oldest = &c->entries[0];
    for (int i = 0; i < GRAPH_CACHE_ENTRIES; i++) {
        struct graph_entry *e = &c->entries[i];
        if (e->bytes == NULL) {
            return e;
        }
        if (e->last_use < oldest->last_use) {
            oldest = e;
        }
    }
    release_entry(ctx, oldest);
    return oldest;
}

/* counts `bytes` more that entry e holds against the memory quota */
static void charge(struct host_ctx *ctx, struct graph_entry *e, uint64_t bytes)
{
    e->charged += bytes;
    ctx->charges.graphs += bytes;
}

/* Decodes a private copy of the guest's bytes into entry e, each part
 * admitted to the memory quota before it is allocated, then charged. */
static bool decode_into(struct host_ctx *ctx, struct graph_entry *e, const uint8_t *data, size_t size,
                        bool use_counts)
{
    if (!host_memory_admit(ctx, size, "graph (its copy)")) {
        return false;
    }
    if ((e->bytes = malloc(size)) == NULL) {
        CTX_ERROR(ctx->ctx_id, "graph: out of memory for a copy of %zu bytes", size);
        return false;
    }
    memcpy(e->bytes, data, size);
    e->size = size;
    e->use_counts = use_counts;
    charge(ctx, e, size);
    e->graph.cgraph = host_graph_from_wire(ctx, e->bytes, size, use_counts, &e->mem);
    if (e->graph.cgraph != NULL) {
        charge(ctx, e, ggml_get_mem_size(e->mem));
    }
    if (e->graph.cgraph == NULL || !host_index_checks_plan(ctx, e->graph.cgraph, &e->graph.index_checks) ||
        !host_graph_work_memory_admit(ctx, e->graph.cgraph)) {
        release_entry(ctx, e);
        return false;
    }
    charge(ctx, e, host_index_checks_memory(e->graph.index_checks));
    e->graph.cgraph->uid = next_uid();
    host_capture_graph(ctx, e->bytes, size);
    return true;
}

/* the entry the guest named key, or NULL */
static struct graph_entry *keyed_entry(struct host_graph_cache *c, uint64_t key)
{
    for (int i = 0; key != 0 && c != NULL && i < GRAPH_CACHE_ENTRIES; i++) {
        if (c->entries[i].bytes != NULL && c->entries[i].key == key) {
            return &c->entries[i];
        }
    }
    return NULL;
}

const struct host_graph *host_graph_cache_find(struct host_ctx *ctx, uint64_t key)
{
    struct graph_entry *e = keyed_entry(ctx->graphs.cache, key);
    if (e == NULL) {
        return NULL;
    }
    e->last_use = ++ctx->graphs.cache->clock;
    return &e->graph;
}

const struct host_graph *host_graph_cache_get(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                              uint64_t key, bool use_counts)
{
    if (ctx->graphs.cache == NULL && (ctx->graphs.cache = calloc(1, sizeof *ctx->graphs.cache)) == NULL) {
        return NULL;
    }
    struct host_graph_cache *c = ctx->graphs.cache;
    struct graph_entry *e = find_entry(c, data, (size_t)size, use_counts);
    if (e == NULL) {
        e = victim(ctx, c);
        const int64_t start = ggml_time_us();
        if (!decode_into(ctx, e, data, (size_t)size, use_counts)) {
            return NULL;
        }
        CTX_DEBUG(ctx->ctx_id, "graph: %d nodes decoded, validated and kept in %lld us",
                  ggml_graph_n_nodes(e->graph.cgraph), (long long)(ggml_time_us() - start));
    }
    struct graph_entry *named = keyed_entry(c, key);
    if (named != NULL) {
        named->key = 0; /* the key names this graph now */
    }
    e->key = key;
    e->last_use = ++c->clock;
    return &e->graph;
}

void host_graph_cache_clear(struct host_ctx *ctx)
{
    for (int i = 0; ctx->graphs.cache != NULL && i < GRAPH_CACHE_ENTRIES; i++) {
        release_entry(ctx, &ctx->graphs.cache->entries[i]);
    }
}

void host_graph_cache_free(struct host_ctx *ctx)
{
    host_graph_cache_clear(ctx);
    free(ctx->graphs.cache);
    ctx->graphs.cache = NULL;
}
