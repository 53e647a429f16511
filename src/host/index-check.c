/* Indices a graph reads: GET_ROWS, SET_ROWS, MUL_MAT_ID and ADD_ID pick
 * rows (or experts) by the values of an integer tensor. A value outside the
 * rows makes the backend read or write outside its tensors: ggml-cpu
 * asserts for most of them (the process dies), MUL_MAT_ID only in debug
 * builds, and GPU kernels not at all.
 *
 * So, when a graph enters the cache, each index source is traced to where
 * its values come from:
 * - a graph input (a tensor no node of the graph computes): the guest wrote
 *   it, so its values are checked before every run;
 * - an ARGSORT of the graph: its values lie in [0, the sorted row's length),
 *   checked once against the bound;
 * - anything else cannot be bounded, and the graph is refused.
 * Either way no node that runs before the reader, nor the reader itself
 * (its output overlapping its indices: GET_ROWS would read rows it wrote
 * as indices), may write the indices' bytes (it would change them after
 * the check), and indices, read or computed, must not lie in memory the
 * guest shares (it could change them between the check and the read). */
#include <stdlib.h>
#include <string.h>

#include "handles.h"
#include "index-check.h"
#include "log.h"

struct index_check {
    const struct ggml_tensor *indices; /* a graph input */
    int64_t bound;                     /* values lie in [0, bound) */
};

struct host_index_checks {
    struct index_check *items;
    int n_items;
    uint8_t *scratch; /* device-resident indices are copied here */
    size_t scratch_size;
};

/* the source holding the indices of an index-reading node, and their bound */
static const struct ggml_tensor *indices_of(const struct ggml_tensor *node, int64_t *bound)
{
    switch (node->op) {
    case GGML_OP_GET_ROWS:
        *bound = node->src[0]->ne[1];
        return node->src[1];
    case GGML_OP_SET_ROWS:
        *bound = node->ne[1];
        return node->src[1];
    case GGML_OP_MUL_MAT_ID:
        *bound = node->src[0]->ne[2];
        return node->src[2];
    case GGML_OP_ADD_ID:
        *bound = node->src[1]->ne[1];
        return node->src[2];
    default:
        return NULL;
    }
}

static bool is_view_op(enum ggml_op op)
{
    return op == GGML_OP_VIEW || op == GGML_OP_RESHAPE || op == GGML_OP_PERMUTE || op == GGML_OP_TRANSPOSE;
}

/* the tensor whose values t shows: t itself unless a view op (the op
 * table requires a view source of a node; a leaf that only claims a view
 * op shows its own values) */
static const struct ggml_tensor *values_origin(const struct ggml_tensor *t)
{
    while (is_view_op(t->op) && t->view_src != NULL) {
        t = t->view_src;
    }
    return t;
}

static bool bytes_overlap(const struct ggml_tensor *a, const struct ggml_tensor *b)
{
    const uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
    return a0 < b0 + ggml_nbytes(b) && b0 < a0 + ggml_nbytes(a);
}

static bool bytes_within(const struct ggml_tensor *inner, const struct ggml_tensor *outer)
{
    const uintptr_t i0 = (uintptr_t)inner->data, o0 = (uintptr_t)outer->data;
    return i0 >= o0 && i0 + ggml_nbytes(inner) <= o0 + ggml_nbytes(outer);
}

static int node_position(struct ggml_cgraph *graph, const struct ggml_tensor *t, int before)
{
    for (int i = 0; i < before; i++) { /* once per index reader, once per distinct graph */
        if (ggml_graph_node(graph, i) == t) {
            return i;
        }
    }
    return -1;
}

/* the first node in (from, to) that writes bytes of t, or NULL */
static const struct ggml_tensor *writer_between(struct ggml_cgraph *graph, int from, int to,
                                                const struct ggml_tensor *t)
{
    for (int i = from + 1; i < to; i++) {
        const struct ggml_tensor *node = ggml_graph_node(graph, i);
        if (!is_view_op(node->op) && bytes_overlap(node, t)) {
            return node;
        }
    }
    return NULL;
}

/* Why indices computed at node `origin` of the graph cannot be trusted
 * to lie below bound, or NULL when they can. */
static const char *computed_indices_refusal(const struct ggml_tensor *indices, const struct ggml_tensor *origin,
                                            int64_t bound)
{
    if (origin->op != GGML_OP_ARGSORT) {
        return "they are computed by an op whose values the host cannot bound";
    }
    if (indices->type != origin->type || !bytes_within(indices, origin)) {
        return "they reach past the ARGSORT result they view";
    }
    return origin->src[0]->ne[0] <= bound ? NULL : "the ARGSORT they come from sorts longer rows than the bound";
}

/* Records the check of graph input `indices`, or tightens an existing one. */
static bool add_check(struct host_index_checks *c, const struct ggml_tensor *indices, int64_t bound)
{
    for (int i = 0; i < c->n_items; i++) {
        if (c->items[i].indices == indices) {
            c->items[i].bound = bound < c->items[i].bound ? bound : c->items[i].bound;
            return true;
        }
    }
    struct index_check *items = realloc(c->items, sizeof *items * (size_t)(c->n_items + 1));
    if (items == NULL) {
        return false;
    }
    c->items = items;
    c->items[c->n_items++] = (struct index_check){ .indices = indices, .bound = bound };
    const size_t size = ggml_nbytes(indices);
    c->scratch_size = size > c->scratch_size ? size : c->scratch_size;
    return true;
}

/* Why the indices node j reads cannot be trusted below bound, or NULL;
 * their values come from node origin_at of the graph (-1: a graph input). */
static const char *indices_refusal(struct host_ctx *ctx, struct ggml_cgraph *graph, int j,
                                   const struct ggml_tensor *indices, int origin_at, int64_t bound)
{
    const struct ggml_tensor *origin = values_origin(indices);
    const char *why = NULL;
    if (host_buffer_wraps_guest_memory(ctx, indices->buffer)) {
        why = "they lie in memory the guest shares, which it could change while the graph runs";
    } else if (origin_at >= 0) {
        why = computed_indices_refusal(indices, origin, bound);
    }
    if (why == NULL && writer_between(graph, origin_at, j + 1, indices) != NULL) {
        why = "a node of the graph up to the reader writes their bytes";
    }
    return why;
}

/* Plans the check of node j's indices: a graph input is checked at every
 * run, computed indices were proven here; false (logged) when neither. */
static bool plan_node(struct host_ctx *ctx, struct ggml_cgraph *graph, int j, struct host_index_checks *c)
{
    const struct ggml_tensor *node = ggml_graph_node(graph, j);
    int64_t bound = 0;
    const struct ggml_tensor *indices = indices_of(node, &bound);
    if (indices == NULL) {
        return true;
    }
    const int origin_at = node_position(graph, values_origin(indices), j);
    const char *why = indices_refusal(ctx, graph, j, indices, origin_at, bound);
    if (why == NULL && origin_at < 0 && !add_check(c, indices, bound)) {
        why = "out of memory";
    }
    if (why != NULL) {
        CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (%s) reads indices '%s' the host cannot check: %s", j,
                  node->name, ggml_op_name(node->op), indices->name, why);
        host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
    }
    return why == NULL;
}

uint64_t host_index_checks_memory(const struct host_index_checks *checks)
{
    return checks->scratch_size + sizeof *checks->items * (size_t)checks->n_items;
}

void host_index_checks_free(struct host_index_checks *checks)
{
    if (checks != NULL) {
        free(checks->items);
        free(checks->scratch);
        free(checks);
    }
}

bool host_index_checks_plan(struct host_ctx *ctx, struct ggml_cgraph *graph, struct host_index_checks **out)
{
    struct host_index_checks *c = calloc(1, sizeof *c);
    bool ok = c != NULL;
    for (int j = 0; ok && j < ggml_graph_n_nodes(graph); j++) {
        ok = plan_node(ctx, graph, j, c);
    }
    ok = ok && (c->scratch_size == 0 || host_memory_admit(ctx, c->scratch_size, "graph (a copy of its indices)"));
    if (ok && c->scratch_size > 0 && (c->scratch = malloc(c->scratch_size)) == NULL) {
        CTX_ERROR(ctx->ctx_id, "graph: out of memory for %zu bytes of indices", c->scratch_size);
        ok = false;
    }
    if (!ok) {
        host_index_checks_free(c);
        return false;
    }
    *out = c;
    return true;
}

/* The copy of t's bytes that a write of this call put on the device whole,
 * or NULL: none did, or a later write changed part of them. */
static const uint8_t *written_copy(const struct host_writes_seen *seen, const struct ggml_tensor *t)
{
    const uintptr_t start = (uintptr_t)t->data;
    const size_t size = ggml_nbytes(t);
    for (uint32_t i = seen ? seen->count : 0; i-- > 0;) {
        const struct host_write_record *w = &seen->items[i];
        if (w->start < start + size && start < w->start + w->size) {
            return w->start == start && w->size == size ? w->copy : NULL;
        }
    }
    return NULL;
}

/* the indices' bytes as the backend will read them */
static const uint8_t *index_bytes(const struct ggml_tensor *t, uint8_t *scratch, const struct host_writes_seen *seen)
{
    if (ggml_backend_buffer_is_host(t->buffer)) {
        return t->data;
    }
    const uint8_t *copy = written_copy(seen, t);
    if (copy != NULL) {
        return copy;
    }
    ggml_backend_tensor_get((struct ggml_tensor *)t, scratch, 0, ggml_nbytes(t));
    return scratch;
}

/* the first index outside [0, bound), in *bad; false when there is none */
static bool find_bad_index(const struct ggml_tensor *t, const uint8_t *bytes, int64_t bound, int64_t *bad)
{
    for (int64_t i3 = 0; i3 < t->ne[3]; i3++) {
        for (int64_t i2 = 0; i2 < t->ne[2]; i2++) {
            for (int64_t i1 = 0; i1 < t->ne[1]; i1++) {
                const uint8_t *row = bytes + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
                for (int64_t i0 = 0; i0 < t->ne[0]; i0++) {
                    const uint8_t *p = row + i0 * t->nb[0];
                    int64_t v;
                    if (t->type == GGML_TYPE_I64) {
                        memcpy(&v, p, sizeof v);
                    } else {
                        int32_t v32;
                        memcpy(&v32, p, sizeof v32);
                        v = v32;
                    }
                    if (v < 0 || v >= bound) {
                        *bad = v;
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

bool host_index_checks_pass(struct host_ctx *ctx, const struct host_index_checks *checks,
                            const struct host_writes_seen *seen)
{
    for (int i = 0; checks != NULL && i < checks->n_items; i++) {
        const struct index_check *check = &checks->items[i];
        int64_t bad = 0;
        if (find_bad_index(check->indices, index_bytes(check->indices, checks->scratch, seen), check->bound, &bad)) {
            CTX_ERROR(ctx->ctx_id, "graph: input '%s' holds the index %lld, outside [0, %lld); the graph is not run",
                      check->indices->name, (long long)bad, (long long)check->bound);
            host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
            return false;
        }
    }
    return true;
}
