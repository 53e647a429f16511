/* Tensors and graphs from the guest, validated before ggml sees them.
 *
 * Every field is copied out of the (guest-writable) stream once and checked:
 * the type and op are in range, the shape and strides give an extent that
 * lies inside the tensor's buffer, buffer handles resolve in this context's
 * table, graph ids resolve to tensors of the same message. A tensor's data
 * pointer is always the host's own base of a known buffer plus a checked
 * offset, never a value from the guest. A graph runs only when the op table
 * (op-table.c) accepts each of its nodes, the device supports it, and it
 * uses tensors of extra buffers only as extra-buft.c allows. */
#include <stdlib.h>
#include <string.h>

#include "wire-graph.h"
#include "decode.h"
#include "extra-buft.h"
#include "handles.h"
#include "log.h"
#include "op-table.h"
#include "run-limits.h"
#include "seeded-hash.h"

/* for the cgraph's use counts; the header also defines static helpers this
 * file does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop

#define MAX_INLINE_DIM ((int64_t)1 << 32)
#define MAX_INLINE_STRIDE ((uint64_t)1 << 48)

/* ---- shape checks ------------------------------------------------------- */

static bool valid_type(uint32_t type)
{
    return type < GGML_TYPE_COUNT && ggml_blck_size((enum ggml_type)type) > 0 &&
           ggml_type_size((enum ggml_type)type) > 0;
}

static bool add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b) {
        return false;
    }
    *out = a + b;
    return true;
}

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) {
        return false;
    }
    *out = a * b;
    return true;
}

/* The number of bytes from the tensor's first byte to past its last one (as
 * ggml_nbytes computes it), or false when the layout is unusable: a row that
 * is not whole blocks, an element stride smaller than an element, or a
 * stride that is not whole elements. */
static bool tensor_extent(enum ggml_type type, const int64_t ne[4], const uint64_t nb[4], uint64_t *out)
{
    const uint64_t blck = (uint64_t)ggml_blck_size(type);
    const uint64_t tsize = ggml_type_size(type);
    for (int i = 0; i < 4; i++) {
        if (ne[i] == 0) {
            *out = 0;
            return true;
        }
    }
    if ((uint64_t)ne[0] % blck != 0 || (blck == 1 ? nb[0] < tsize : nb[0] != tsize)) {
        return false;
    }
    /* strides of whole elements (blocks): GPU kernels divide them by the
     * element size, and would read between the elements the host checked */
    for (int i = 0; i < 4; i++) {
        if (nb[i] % tsize != 0) {
            return false;
        }
    }
    uint64_t total, term;
    if (blck == 1) {
        total = tsize;
        if (!mul_u64((uint64_t)ne[0] - 1, nb[0], &term) || !add_u64(total, term, &total)) {
            return false;
        }
    } else if (!mul_u64((uint64_t)ne[0] / blck, nb[0], &total)) {
        return false;
    }
    for (int i = 1; i < 4; i++) {
        if (!mul_u64((uint64_t)ne[i] - 1, nb[i], &term) || !add_u64(total, term, &total)) {
            return false;
        }
    }
    *out = total;
    return true;
}

/* ---- building tensors --------------------------------------------------- */

struct tensor_desc {
    uint32_t type;
    uint32_t op;
    int64_t ne[4];
    uint64_t nb[4];
    const int32_t *op_params;
    int32_t flags;
    const char *name; /* APIR_MAX_NAME bytes, maybe without a NUL */
};

static struct ggml_tensor *new_tensor(struct ggml_context *mem_ctx, const struct tensor_desc *d,
                                      uint64_t *extent)
{
    if (!valid_type(d->type)) {
        LOG_ERROR("tensor '%.*s' has an invalid type %u", APIR_MAX_NAME, d->name, d->type);
        return NULL;
    }
    if (d->op >= GGML_OP_COUNT) { /* the rest of the op is the op table's */
        LOG_ERROR("tensor '%.*s' has an invalid op %u", APIR_MAX_NAME, d->name, d->op);
        return NULL;
    }
    if (!tensor_extent((enum ggml_type)d->type, d->ne, d->nb, extent)) {
        LOG_ERROR("tensor '%.*s' has an invalid shape or strides", APIR_MAX_NAME, d->name);
        return NULL;
    }
    struct ggml_tensor *t = ggml_new_tensor(mem_ctx, (enum ggml_type)d->type, GGML_MAX_DIMS, d->ne);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        t->nb[i] = (size_t)d->nb[i];
    }
    t->op = (enum ggml_op)d->op;
    memcpy(t->op_params, d->op_params, sizeof(int32_t) * APIR_MAX_OP_PARAMS_I32);
    t->flags = d->flags;
    char name[APIR_MAX_NAME];
    memcpy(name, d->name, sizeof name);
    name[APIR_MAX_NAME - 1] = '\0';
    ggml_set_name(t, name);
    return t;
}

/* Points the tensor into its buffer at the guest's offset, after checking
 * that [offset, offset + extent) lies inside the buffer. */
static bool place_in_buffer(struct host_ctx *ctx, struct ggml_tensor *t, uint64_t handle,
                            uint64_t offset, uint64_t extent)
{
    ggml_backend_buffer_t buffer = host_buffer_get(ctx, handle);
    if (buffer == NULL) {
        LOG_ERROR("tensor '%s' names an unknown buffer handle 0x%llx", t->name, (unsigned long long)handle);
        host_refuse(ctx, APIR_CALL_UNKNOWN_HANDLE);
        return false;
    }
    uint64_t end;
    if (!add_u64(offset, extent, &end) || end > ggml_backend_buffer_get_size(buffer)) {
        LOG_ERROR("tensor '%s' (%llu bytes at offset %llu) lies outside its buffer of %zu bytes", t->name,
                   (unsigned long long)extent, (unsigned long long)offset, ggml_backend_buffer_get_size(buffer));
        host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
        return false;
    }
    t->buffer = buffer;
    /* a buffer of 0 bytes may have no base (then the offset is 0) */
    char *base = ggml_backend_buffer_get_base(buffer);
    t->data = base != NULL ? base + offset : NULL;
    return true;
}

struct ggml_tensor *host_tensor_from_wire(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                          const struct wire_tensor *w, bool need_data)
{
    struct tensor_desc d = { w->type, w->op, { 0 }, { 0 }, w->op_params, w->flags, w->name };
    for (int i = 0; i < 4; i++) {
        d.ne[i] = w->ne[i];
        d.nb[i] = w->nb[i];
    }
    uint64_t extent;
    struct ggml_tensor *t = new_tensor(mem_ctx, &d, &extent);
    if (t == NULL) {
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return NULL;
    }
    if (w->buffer != 0) {
        /* data is the offset from the buffer's base */
        if (!place_in_buffer(ctx, t, w->buffer, w->data, extent)) {
            return NULL;
        }
    } else if (need_data) {
        LOG_ERROR("tensor '%s' has no buffer", t->name);
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return NULL;
    }
    return t;
}

/* ---- inline tensors (supports_op, get_alloc_size) ----------------------- */

static struct ggml_tensor *inline_tensor_body(struct ggml_context *mem_ctx, const struct wire_inline_tensor *w)
{
    struct tensor_desc d = { w->type, w->op, { 0 }, { 0 }, w->op_params, w->flags, w->name };
    for (int i = 0; i < 4; i++) {
        if (w->ne[i] < 0 || w->ne[i] > MAX_INLINE_DIM || w->nb[i] > MAX_INLINE_STRIDE) {
            LOG_ERROR("inline tensor '%.*s' has an invalid shape", APIR_MAX_NAME, w->name);
            return NULL;
        }
        d.ne[i] = w->ne[i];
        d.nb[i] = w->nb[i];
    }
    uint64_t extent;
    return new_tensor(mem_ctx, &d, &extent);
}

static struct ggml_tensor *inline_tensor_linked(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                                const struct wire_inline_op *op)
{
    struct ggml_tensor *t = inline_tensor_body(mem_ctx, &op->tensor);
    if (t == NULL) {
        return NULL;
    }
    if (op->tensor.buffer != 0) {
        /* an unknown handle is not an error: llama.cpp's own frontend sends
         * a meaningless value here */
        t->buffer = host_buffer_get(ctx, op->buffer);
    }
    if (op->tensor.view_src != 0 && (t->view_src = inline_tensor_body(mem_ctx, &op->view_src)) == NULL) {
        return NULL;
    }
    for (int i = 0; i < wire_inline_op_n_src(op); i++) {
        if ((t->src[i] = inline_tensor_body(mem_ctx, &op->src[i])) == NULL) {
            LOG_ERROR("inline tensor '%s': source %d is invalid", t->name, i);
            return NULL;
        }
    }
    return t;
}

struct ggml_tensor *host_inline_tensor(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                       const struct wire_inline_op *op)
{
    struct ggml_tensor *t = inline_tensor_linked(ctx, mem_ctx, op);
    if (t == NULL) {
        host_refuse(ctx, APIR_CALL_MALFORMED);
    }
    return t;
}

/* ---- graphs ------------------------------------------------------------- */

/* Open-addressing map from wire ids to tensors, reused across graphs. The
 * guest picks the ids: the hash is seeded, so it cannot make them collide. */
struct host_id_map {
    uint32_t cap; /* power of two */
    unsigned cap_log2;
    uint64_t *keys; /* 0 = empty (0 is never a valid id) */
    struct ggml_tensor **values;
    uint64_t *node_ids;
    uint32_t node_cap;
};

static uint32_t id_slot(const struct host_id_map *m, uint64_t id)
{
    uint32_t i = (uint32_t)(seeded_hash(id) >> (64 - m->cap_log2));
    while (m->keys[i] != 0 && m->keys[i] != id) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static bool id_map_reserve(struct host_ctx *ctx, uint32_t n_tensors, uint32_t n_nodes)
{
    struct host_id_map *m = ctx->graphs.id_map;
    if (m == NULL && (m = ctx->graphs.id_map = calloc(1, sizeof *m)) == NULL) {
        return false;
    }
    uint32_t cap = 64;
    unsigned cap_log2 = 6;
    while (cap < 2 * (uint64_t)n_tensors) {
        if (cap_log2 == 31) {
            return false; /* 2^30 tensors: more than any graph's bytes hold */
        }
        cap *= 2;
        cap_log2++;
    }
    if (cap > m->cap) {
        free(m->keys);
        free(m->values);
        m->keys = malloc(sizeof *m->keys * cap);
        m->values = malloc(sizeof *m->values * cap);
        m->cap = m->keys && m->values ? cap : 0;
        m->cap_log2 = cap_log2;
        if (m->cap == 0) {
            return false;
        }
    }
    if (n_nodes > m->node_cap) {
        free(m->node_ids);
        m->node_ids = malloc(sizeof *m->node_ids * n_nodes);
        m->node_cap = m->node_ids ? n_nodes : 0;
        if (m->node_ids == NULL) {
            return false;
        }
    }
    memset(m->keys, 0, sizeof *m->keys * m->cap);
    return true;
}

static struct ggml_tensor *id_lookup(const struct host_id_map *m, uint64_t id)
{
    if (id == 0) {
        return NULL;
    }
    const uint32_t i = id_slot(m, id);
    return m->keys[i] == id ? m->values[i] : NULL;
}

/* the bytes of a ggml context holding a graph's tensors and its cgraph */
static size_t graph_context_size(uint32_t n_tensors, uint32_t n_nodes)
{
    return ggml_tensor_overhead() * n_tensors + ggml_graph_overhead_custom(n_nodes, false);
}

static struct ggml_context *graph_context(uint32_t n_tensors, uint32_t n_nodes)
{
    struct ggml_init_params p = { graph_context_size(n_tensors, n_nodes), NULL, true };
    return ggml_init(p);
}

/* The host memory decoding a graph takes: its context, and the id map
 * (under 4 slots of key and value per tensor, at least 64) with its nodes. */
static uint64_t decode_memory(uint32_t n_tensors, uint32_t n_nodes)
{
    return graph_context_size(n_tensors, n_nodes) + 4 * (uint64_t)n_tensors * 16 + 64 * 16 + 8 * (uint64_t)n_nodes;
}

/* the id map lives as long as one decode: its memory is not kept */
static void id_map_free(struct host_ctx *ctx)
{
    if (ctx->graphs.id_map != NULL) {
        free(ctx->graphs.id_map->keys);
        free(ctx->graphs.id_map->values);
        free(ctx->graphs.id_map->node_ids);
        free(ctx->graphs.id_map);
        ctx->graphs.id_map = NULL;
    }
}

/* Pass 1: every tensor record becomes a validated tensor, indexed by id. */
static bool create_graph_tensors(struct host_ctx *ctx, struct ggml_context *mem, const struct wire_graph_reader *g)
{
    struct host_id_map *m = ctx->graphs.id_map;
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        struct wire_tensor w;
        wire_graph_tensor(g, i, &w);
        const uint32_t slot = id_slot(m, w.id);
        if (w.id == 0 || m->keys[slot] != 0) {
            LOG_ERROR("graph: tensor %u has a null or repeated id", i);
            host_refuse(ctx, APIR_CALL_MALFORMED);
            return false;
        }
        struct ggml_tensor *t = host_tensor_from_wire(ctx, mem, &w, true);
        if (t == NULL) {
            return false;
        }
        m->keys[slot] = w.id;
        m->values[slot] = t;
    }
    return true;
}

/* Pass 2: sources and view sources by id. Ids are looked up again in the
 * stream; each one is checked here, so a concurrent change by the guest can
 * only make the graph fail, never point outside it. */
static bool link_graph_tensors(struct host_ctx *ctx, const struct wire_graph_reader *g)
{
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        struct wire_tensor w;
        wire_graph_tensor(g, i, &w);
        struct ggml_tensor *t = id_lookup(ctx->graphs.id_map, w.id);
        if (t == NULL) {
            LOG_ERROR("graph: tensor %u changed while being decoded", i);
            host_refuse(ctx, APIR_CALL_MALFORMED);
            return false;
        }
        for (int s = 0; s < APIR_MAX_SRC; s++) {
            if (w.src[s] != 0 && (t->src[s] = id_lookup(ctx->graphs.id_map, w.src[s])) == NULL) {
                LOG_ERROR("graph: source %d of tensor '%s' is not in the graph", s, t->name);
                host_refuse(ctx, APIR_CALL_MALFORMED);
                return false;
            }
        }
        if (w.view_src != 0) {
            if ((t->view_src = id_lookup(ctx->graphs.id_map, w.view_src)) == NULL) {
                LOG_ERROR("graph: the view source of tensor '%s' is not in the graph", t->name);
                host_refuse(ctx, APIR_CALL_MALFORMED);
                return false;
            }
            t->view_offs = (size_t)w.view_offs;
        }
    }
    return true;
}

/* The guest's use counts of the graph's nodes (ggml's, from its whole
 * graph): a GPU backend fuses a node into the nodes after it only when they
 * are all its readers. A wrong count can only make the guest's own results
 * wrong: every fused node was validated on its own. */
static void set_use_counts(struct host_ctx *ctx, struct ggml_cgraph *graph, const struct wire_graph_reader *g)
{
    struct ggml_hash_set *set = &graph->visited_hash_set; /* room for twice the nodes */
    for (int i = 0; i < graph->n_nodes; i++) {
        graph->use_counts[ggml_hash_find_or_insert(set, graph->nodes[i])] = 0;
    }
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        struct wire_tensor w;
        wire_graph_tensor(g, i, &w);
        struct ggml_tensor *t = id_lookup(ctx->graphs.id_map, w.id);
        if (t != NULL && ggml_hash_contains(set, t)) {
            graph->use_counts[ggml_hash_find(set, t)] = w.use_count > INT32_MAX ? INT32_MAX : (int32_t)w.use_count;
        }
    }
}

/* the cgraph of the decoded tensors, nodes in the guest's order */
static struct ggml_cgraph *graph_of_nodes(struct host_ctx *ctx, struct ggml_context *mem, uint32_t n_nodes)
{
    struct ggml_cgraph *graph = ggml_new_graph_custom(mem, n_nodes, false);
    for (uint32_t i = 0; i < n_nodes; i++) {
        struct ggml_tensor *node = id_lookup(ctx->graphs.id_map, ctx->graphs.id_map->node_ids[i]);
        if (node == NULL) {
            LOG_ERROR("graph: node %u is not one of the graph's tensors", i);
            host_refuse(ctx, APIR_CALL_MALFORMED);
            return NULL;
        }
        ggml_graph_add_node(graph, node);
    }
    return graph;
}

/* Ops whose kernel is written for its result over a source of the same
 * layout, element for element (in place): those ggml's allocator gives a
 * source's memory (ggml_op_can_inplace), and NORM and DUP, which ggml
 * builds in place (ggml_norm_inplace, ggml_dup_inplace). Any other kernel
 * may read bytes it already wrote: ARGSORT's sort compares the array it
 * permutes, RMS_NORM's rows are memcpy()d over themselves (both found by
 * fuzzing or by hand). */
static bool writes_in_place(enum ggml_op op)
{
    switch (op) {
    case GGML_OP_ADD: case GGML_OP_ADD_ID: case GGML_OP_SUB: case GGML_OP_MUL: case GGML_OP_DIV:
    case GGML_OP_SCALE: case GGML_OP_UNARY: case GGML_OP_ROPE: case GGML_OP_RMS_NORM: case GGML_OP_SOFT_MAX:
    case GGML_OP_NORM: case GGML_OP_DUP:
        return true;
    default:
        return false;
    }
}

/* Whether the kernel reads src[s]: CPY's src[1] and SET_ROWS' src[2] are
 * only where the result lies (it is a view of them). */
static bool kernel_reads(const struct ggml_tensor *node, int s)
{
    return !((node->op == GGML_OP_CPY && s == 1) || (node->op == GGML_OP_SET_ROWS && s == 2));
}

static bool bytes_overlap(const struct ggml_tensor *a, const struct ggml_tensor *b)
{
    const uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    return a0 < b0 + ggml_nbytes(b) && b0 < a0 + ggml_nbytes(a);
}

/* The source the node reads whose bytes its result overlaps, other than in
 * place (an op of the list above, the same first byte and layout), or
 * NULL. View ops compute nothing. */
static const struct ggml_tensor *overlapping_source(const struct ggml_tensor *node)
{
    for (int s = 0; s < GGML_MAX_SRC && !ggml_op_is_empty(node->op); s++) {
        const struct ggml_tensor *src = node->src[s];
        if (src == NULL || !kernel_reads(node, s) || !bytes_overlap(node, src)) {
            continue;
        }
        if (!(writes_in_place(node->op) && src->data == node->data && ggml_are_same_layout(src, node))) {
            return src;
        }
    }
    return NULL;
}

/* Every node is one the op table accepts, then one the device supports
 * (asked only then: supports_op reads the sources an op takes). */
static bool graph_nodes_accepted(struct host_ctx *ctx, struct ggml_cgraph *graph)
{
    for (int i = 0; i < ggml_graph_n_nodes(graph); i++) {
        struct ggml_tensor *node = ggml_graph_node(graph, i);
        char why[HOST_OP_WHY_SIZE];
        if (!host_op_accepted(node, why, sizeof why)) {
            CTX_ERROR(ctx->ctx_id, "graph: node %d %s", i, why);
            host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
            return false;
        }
        const struct ggml_tensor *overlapping = overlapping_source(node);
        if (overlapping != NULL) {
            CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (%s) overlaps its source '%s' in memory, which its kernel "
                      "does not compute in place", i, node->name, ggml_op_desc(node), overlapping->name);
            host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
            return false;
        }
        if (node->op == GGML_OP_ARGSORT && host_buffer_wraps_guest_memory(ctx, node->src[0]->buffer)) {
            /* keys changing under std::sort make it write outside the row */
            CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (ARGSORT) sorts '%s', which lies in memory the guest shares "
                      "and could change while it is sorted", i, node->name, node->src[0]->name);
            host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
            return false;
        }
        if (!ggml_backend_dev_supports_op(ctx->device.dev, node)) {
            CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (%s): %s does not support it", i, node->name,
                      ggml_op_desc(node), ggml_backend_dev_name(ctx->device.dev));
            host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
            return false;
        }
    }
    return true;
}

/* Whether the graph's nodes and tensors (nodes and leafs) are within the
 * context's limit; logged and noted when not. */
static bool graph_within_limit(struct host_ctx *ctx, const struct wire_graph_reader *g)
{
    const uint64_t limit = ctx->limits.graph_nodes;
    if (limit != 0 && (g->n_tensors > limit || g->n_nodes > limit)) {
        CTX_ERROR(ctx->ctx_id, "graph: refused, %u nodes and %u tensors in all are over the limit of %llu; raise it "
                  "with " APIR_LIMIT_KNOBS(OPT_MAX_GRAPH_NODES, ENV_MAX_GRAPH_NODES, APIR_CFG_MAX_GRAPH_NODES),
                  g->n_nodes, g->n_tensors, (unsigned long long)limit);
        host_refuse(ctx, APIR_CALL_OVER_LIMIT);
        return false;
    }
    return true;
}

struct ggml_cgraph *host_graph_from_wire(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                         bool use_counts, struct ggml_context **mem)
{
    struct wire_graph_reader g;
    if (!wire_graph_read(&g, data, (size_t)size, UINT32_MAX)) {
        LOG_ERROR("graph: the node or tensor count does not fit the graph's %llu bytes", (unsigned long long)size);
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return NULL;
    }
    if (!graph_within_limit(ctx, &g) || !host_memory_admit(ctx, decode_memory(g.n_tensors, g.n_nodes), "graph")) {
        return NULL;
    }
    if (!id_map_reserve(ctx, g.n_tensors, g.n_nodes) || (*mem = graph_context(g.n_tensors, g.n_nodes)) == NULL) {
        LOG_ERROR("graph: out of memory for %u tensors", g.n_tensors);
        id_map_free(ctx);
        return NULL;
    }
    for (uint32_t i = 0; i < g.n_nodes; i++) {
        ctx->graphs.id_map->node_ids[i] = wire_graph_node_id(&g, i);
    }
    struct ggml_cgraph *graph = NULL;
    if (create_graph_tensors(ctx, *mem, &g) && link_graph_tensors(ctx, &g)) {
        graph = graph_of_nodes(ctx, *mem, g.n_nodes);
    }
    /* weights in an extra (repacking) buffer get their extra here */
    if (graph != NULL && (!graph_nodes_accepted(ctx, graph) || !host_graph_work_accepted(ctx, graph) ||
                          !host_graph_extra_ok(ctx, graph))) {
        graph = NULL;
    }
    if (graph != NULL && use_counts) {
        set_use_counts(ctx, graph, &g);
    }
    id_map_free(ctx);
    if (graph == NULL) {
        ggml_free(*mem);
        *mem = NULL;
    }
    return graph;
}
