/* ggml tensors and graphs in the APIR wire format. A tensor's id is its
 * guest address; its data travels as an offset from its buffer's base; the
 * graph lists every tensor once, after its sources. */
#include <stdlib.h>
#include <string.h>

#include "wire-graph.h"
#include "frontend.h"
#include "host-buffer.h"
#include "log.h"
#include "wire.h"

/* for the cgraph's use counts; the header also defines static helpers this
 * file does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop

bool vgpu_wire_tensor(const struct ggml_tensor *t, struct wire_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->id = (uint64_t)(uintptr_t)t;
    out->type = (uint32_t)t->type;
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        if ((uint64_t)t->ne[i] > UINT32_MAX || t->nb[i] > UINT32_MAX) {
            LOG_ERROR("tensor '%s' is too large for the APIR wire format (32-bit sizes)", t->name);
            return false;
        }
        out->ne[i] = (uint32_t)t->ne[i];
        out->nb[i] = (uint32_t)t->nb[i];
    }
    const struct vgpu_buffer *b = vgpu_buffer_of(t->buffer);
    if (b != NULL) {
        out->buffer = b->handle;
        out->data = t->data ? (uint64_t)(uintptr_t)t->data - b->base : 0;
    } else if (t->data != NULL) {
        LOG_ERROR("tensor '%s' is in a buffer the host cannot see (%s)", t->name,
                       t->buffer ? ggml_backend_buffer_name(t->buffer) : "no buffer");
        return false;
    }
    out->op = (uint32_t)t->op;
    memcpy(out->op_params, t->op_params, sizeof out->op_params);
    out->flags = t->flags;
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        out->src[i] = (uint64_t)(uintptr_t)t->src[i];
    }
    out->view_src = (uint64_t)(uintptr_t)t->view_src;
    out->view_offs = t->view_offs;
    memcpy(out->name, t->name, sizeof out->name);
    out->name[sizeof out->name - 1] = '\0';
    return true;
}

/* ---- inline tensors (supports_op, get_alloc_size) ----------------------- */

static void inline_body(const struct ggml_tensor *t, struct wire_inline_tensor *w)
{
    memset(w, 0, sizeof *w);
    w->type = (uint32_t)t->type;
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        w->ne[i] = t->ne[i];
        w->nb[i] = t->nb[i];
    }
    w->op = (uint32_t)t->op;
    memcpy(w->op_params, t->op_params, sizeof w->op_params);
    w->flags = t->flags;
    memcpy(w->name, t->name, sizeof w->name);
    w->name[sizeof w->name - 1] = '\0';
}

void vgpu_inline_op(const struct ggml_tensor *t, struct wire_inline_op *out)
{
    memset(out, 0, sizeof *out);
    inline_body(t, &out->tensor);
    /* the top tensor's references are "present" marks; the host follows
     * only those, and what they refer to comes with the op */
    const struct vgpu_buffer *b = vgpu_buffer_of(t->buffer);
    out->tensor.buffer = b != NULL;
    out->buffer = b ? b->handle : 0;
    out->tensor.view_src = t->view_src != NULL;
    if (t->view_src != NULL) {
        inline_body(t->view_src, &out->view_src);
    }
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        out->tensor.src[i] = t->src[i] != NULL;
        if (t->src[i] != NULL) {
            inline_body(t->src[i], &out->src[i]);
        }
    }
}

/* ---- graphs ------------------------------------------------------------- */

static bool tensor_set_reserve(struct vgpu_tensor_set *set, size_t n)
{
    size_t cap = 256;
    while (cap < 2 * n) {
        cap *= 2;
    }
    if (cap > set->cap) {
        free(set->slots);
        set->slots = calloc(cap, sizeof *set->slots);
        set->cap = set->slots ? cap : 0;
        set->generation = 0;
        if (set->slots == NULL) {
            return false;
        }
    }
    if (++set->generation == 0) { /* wrapped: old stamps could match again */
        memset(set->slots, 0, sizeof *set->slots * set->cap);
        set->generation = 1;
    }
    set->count = 0;
    return true;
}

/* true when t was not in the set (and is now) */
static bool tensor_set_add(struct vgpu_tensor_set *set, const struct ggml_tensor *t)
{
    size_t i = (size_t)(((uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull >> 20) & (set->cap - 1);
    while (set->slots[i].generation == set->generation) {
        if (set->slots[i].tensor == t) {
            return false;
        }
        i = (i + 1) & (set->cap - 1);
    }
    set->slots[i].tensor = t;
    set->slots[i].generation = set->generation;
    set->count++;
    return true;
}

struct graph_writer {
    const struct ggml_cgraph *graph;
    struct vgpu_tensor_set *set;
    struct wire_graph_writer out;
    bool failed;
};

/* How many nodes of the whole graph read t: ggml's count, which a split
 * shares with the graph it was cut from. The host gives it to its backend,
 * which fuses a node into the nodes after it only when they are all its
 * readers (so a node a later split reads is never fused away). */
static uint32_t use_count(const struct ggml_cgraph *graph, const struct ggml_tensor *t)
{
    const struct ggml_hash_set *set = &graph->visited_hash_set;
    if (set->size == 0 || graph->use_counts == NULL || !ggml_hash_contains(set, (struct ggml_tensor *)t)) {
        return 0;
    }
    const int32_t n = graph->use_counts[ggml_hash_find(set, t)];
    return n > 0 ? (uint32_t)n : 0;
}

/* sources first (depth first), then the tensor itself */
static void add_tensor(struct graph_writer *g, const struct ggml_tensor *t)
{
    if (t == NULL || g->failed || !tensor_set_add(g->set, t)) {
        return;
    }
    if (g->set->count * 2 > g->set->cap) {
        LOG_ERROR("graph: more tensors than expected");
        g->failed = true;
        return;
    }
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        add_tensor(g, t->src[i]);
    }
    add_tensor(g, t->view_src);
    struct wire_tensor w;
    if (!vgpu_wire_tensor(t, &w)) {
        g->failed = true;
        return;
    }
    w.use_count = use_count(g->graph, t);
    wire_graph_put_tensor(&g->out, &w);
}

size_t vgpu_serialize_graph(struct vgpu_tensor_set *set, const struct ggml_cgraph *graph, void *out, size_t cap)
{
    struct ggml_cgraph *g_nodes = (struct ggml_cgraph *)graph;
    const int n_nodes = ggml_graph_n_nodes(g_nodes);
    /* each node brings at most itself, its sources and its view source */
    if (n_nodes <= 0 || !tensor_set_reserve(set, (size_t)n_nodes * (GGML_MAX_SRC + 2))) {
        return 0;
    }
    struct graph_writer g = { .graph = graph, .set = set, .failed = false };
    wire_graph_begin(&g.out, out, cap, (uint32_t)n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        wire_graph_put_node(&g.out, (uint64_t)(uintptr_t)ggml_graph_node(g_nodes, i));
    }
    for (int i = 0; i < n_nodes && !g.failed; i++) {
        add_tensor(&g, ggml_graph_node(g_nodes, i));
    }
    const size_t size = g.failed ? 0 : wire_graph_end(&g.out);
    if (size == 0 && !g.failed) {
        LOG_ERROR("graph: %d nodes do not fit the %zu-byte shared buffer", n_nodes, cap);
    }
    return size;
}
