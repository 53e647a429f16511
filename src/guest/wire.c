/* ggml tensors and graphs in the APIR wire format. A tensor's id is its
 * guest address; its data travels as an offset from its buffer's base; the
 * graph lists every tensor once, after its sources. */
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

bool vgpu_wire_tensor(const struct ggml_tensor *t, struct apir_wire_tensor *out)
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
    if (t->buffer != NULL && vgpu_is_buffer(t->buffer)) {
        const struct vgpu_buffer *b = t->buffer->context;
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

static void inline_body(const struct ggml_tensor *t, struct apir_inline_tensor *w, bool top)
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
    if (!top) {
        return; /* the host follows only the top tensor's references */
    }
    /* references are only "present" marks; what they refer to follows */
    w->buffer = t->buffer != NULL && vgpu_is_buffer(t->buffer);
    w->view_src = t->view_src != NULL;
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        w->src[i] = t->src[i] != NULL;
    }
}

void vgpu_encode_inline_tensor(struct apir_encoder *enc, const struct ggml_tensor *t)
{
    struct apir_inline_tensor w;
    inline_body(t, &w, true);
    apir_encode_bytes(enc, &w, sizeof w);
    if (w.buffer) {
        apir_encode_u64(enc, ((const struct vgpu_buffer *)t->buffer->context)->handle);
    }
    if (t->view_src != NULL) {
        inline_body(t->view_src, &w, false);
        apir_encode_bytes(enc, &w, sizeof w);
    }
    /* sources are listed up to the first absent one, as the host reads them */
    for (int i = 0; i < GGML_MAX_SRC && t->src[i] != NULL; i++) {
        inline_body(t->src[i], &w, false);
        apir_encode_bytes(enc, &w, sizeof w);
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
    struct vgpu_tensor_set *set;
    struct apir_encoder enc;
    uint32_t n_tensors;
    bool failed;
};

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
    struct apir_wire_tensor w;
    if (!vgpu_wire_tensor(t, &w)) {
        g->failed = true;
        return;
    }
    apir_encode_bytes(&g->enc, &w, sizeof w);
    g->n_tensors++;
}

size_t vgpu_serialize_graph(struct vgpu_tensor_set *set, const struct ggml_cgraph *graph, void *out, size_t cap)
{
    const int n_nodes = ggml_graph_n_nodes((struct ggml_cgraph *)graph);
    /* each node brings at most itself, its sources and its view source */
    if (n_nodes <= 0 || !tensor_set_reserve(set, (size_t)n_nodes * (GGML_MAX_SRC + 2))) {
        return 0;
    }
    struct graph_writer g = { set, { 0 }, 0, false };
    apir_encoder_init(&g.enc, out, cap);
    apir_encode_u32(&g.enc, (uint32_t)n_nodes);
    for (int i = 0; i < n_nodes; i++) {
        apir_encode_u64(&g.enc, (uint64_t)(uintptr_t)ggml_graph_node((struct ggml_cgraph *)graph, i));
    }
    uint32_t *count = apir_encode_reserve(&g.enc, sizeof(uint32_t));
    for (int i = 0; i < n_nodes && !g.failed; i++) {
        add_tensor(&g, ggml_graph_node((struct ggml_cgraph *)graph, i));
    }
    if (g.failed || g.enc.fatal || count == NULL) {
        if (g.enc.fatal) {
            LOG_ERROR("graph: %d nodes do not fit the %zu-byte shared buffer", n_nodes, cap);
        }
        return 0;
    }
    memcpy(count, &g.n_tensors, sizeof g.n_tensors);
    return apir_encoder_used(&g.enc);
}
