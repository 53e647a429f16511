/* Fuzz target graph_ops: one node of an op the host's op table takes, built
 * by ggml's own constructor from the input's recipe (graph-ops-build.c),
 * then mutated at the edges (extents of 0 and 1, strides, types, op_params
 * at the ends of their ranges, sources dropped or added, aliasing, views
 * into other buffers and into the guest's shared memory), laid out in
 * three buffers (two the host allocates, one over a shared-memory
 * resource), its inputs written (indices at their bounds), encoded with the
 * guest's wire-graph encoder and run through backend_graph_compute: the
 * decoder, the op table, the graph cache and ggml-cpu on one thread; a
 * graph the host ran runs again, from the graph cache. Any input is a
 * recipe (README.md): the harness never sends a graph it cannot encode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "graph-ops.h"
#include "wire-graph.h"

#define CTX_ID 1u
#define MAX_TENSORS 32
#define MAX_MUTATIONS 8
/* buffers 0 and 1 are allocated by the host, 2 lies in shared memory; a
 * tensor in "buffer" 3 names a handle no buffer has */
#define N_BUFFERS 3
#define SHARED_BUFFER 2
#define NO_BUFFER N_BUFFERS
#define BUFFER_RES(i) (1u + (uint32_t)(i))
#define GRAPH_RES 8u
#define TENSOR_ALIGNMENT 32
/* three of them stay within the context's quota */
#define MAX_BUFFER_SIZE ((uint64_t)16 << 20)
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the recipe ------------------------------------------------------------- */

enum mutation_kind {
    /* on the tensors, before they are laid out */
    MUTATE_DIM,
    MUTATE_STRIDE,
    MUTATE_TYPE,
    MUTATE_PARAM,
    MUTATE_SOURCE,
    MUTATE_VIEW,
    MUTATE_OP,
    /* on where they lie */
    MUTATE_ALIAS,
    MUTATE_OVERLAP,
    MUTATE_MOVE,
    MUTATE_KINDS
};

struct mutation {
    uint8_t kind;   /* enum mutation_kind, mod MUTATE_KINDS */
    uint8_t target; /* the tensor, mod their count */
    uint8_t a, b;
};

struct recipe {
    struct ops_choice choice;
    uint8_t layout;  /* bits 0-1: the buffer of inputs, 2-3: of results (3: by turns); 4-5: the slack; 6: only the
                        op's node is a node; 7: empty buffers of 0 bytes */
    uint8_t indices; /* bits 0-2: the edge value of the index sources, 3-7: its position */
    uint8_t n_mutations;
    struct mutation mutations[MAX_MUTATIONS];
    const uint8_t *values; /* the rest: the inputs' values, by turns */
    size_t n_values, next_value;
};

static void read_recipe(struct fuzz_input *in, struct recipe *r)
{
    struct ops_choice *c = &r->choice;
    c->op = fuzz_byte(in);
    c->variant = fuzz_byte(in);
    for (int i = 0; i < OPS_DIMS; i++) {
        c->dim[i] = fuzz_byte(in);
    }
    for (int i = 0; i < OPS_TYPES; i++) {
        c->type[i] = fuzz_byte(in);
    }
    r->layout = fuzz_byte(in);
    r->indices = fuzz_byte(in);
    r->n_mutations = fuzz_byte(in) % (MAX_MUTATIONS + 1);
    for (int i = 0; i < r->n_mutations; i++) {
        struct mutation *m = &r->mutations[i];
        m->kind = fuzz_byte(in);
        m->target = fuzz_byte(in);
        m->a = fuzz_byte(in);
        m->b = fuzz_byte(in);
    }
    r->values = in->cur;
    r->n_values = (size_t)(in->end - in->cur);
    r->next_value = 0;
}

/* the next value byte, the values by turns (a pattern without any) */
static uint8_t next_value(struct recipe *r)
{
    const size_t i = r->next_value++;
    return r->n_values > 0 ? r->values[i % r->n_values] : (uint8_t)(i * 7);
}

/* ---- the graph -------------------------------------------------------------- */

struct placement {
    uint8_t buffer; /* 0 .. NO_BUFFER */
    uint64_t offset;
};

struct graph_case {
    struct ggml_tensor *root;           /* the op's node */
    struct ggml_tensor *t[MAX_TENSORS]; /* every tensor once, after its sources and view source */
    struct placement at[MAX_TENSORS];
    int n;
    uint64_t size[N_BUFFERS];
    uint8_t *bytes[N_BUFFERS]; /* their contents: resources BUFFER_RES(i) */
    uint64_t handle[N_BUFFERS + 1];
};

static int find(struct ggml_tensor *const *list, int n, const struct ggml_tensor *t)
{
    for (int i = 0; i < n; i++) {
        if (list[i] == t) {
            return i;
        }
    }
    return -1;
}

static int index_of(const struct graph_case *g, const struct ggml_tensor *t)
{
    return find(g->t, g->n, t);
}

/* t after its sources and view source; `seen` stops cycles a mutation made */
static void collect(struct graph_case *g, struct ggml_tensor *t, struct ggml_tensor **seen, int *n_seen)
{
    if (t == NULL || *n_seen == MAX_TENSORS || find(seen, *n_seen, t) >= 0) {
        return;
    }
    seen[(*n_seen)++] = t;
    for (int s = 0; s < GGML_MAX_SRC; s++) {
        collect(g, t->src[s], seen, n_seen);
    }
    collect(g, t->view_src, seen, n_seen);
    g->t[g->n++] = t;
}

static void collect_graph(struct graph_case *g)
{
    struct ggml_tensor *seen[MAX_TENSORS];
    int n_seen = 0;
    g->n = 0;
    collect(g, g->root, seen, &n_seen);
}

/* ---- sizes of tensors any mutation may have made ------------------------------ */

static bool known_type(enum ggml_type type)
{
    return (unsigned)type < GGML_TYPE_COUNT && ggml_blck_size(type) > 0;
}

static uint64_t type_size(enum ggml_type type)
{
    return known_type(type) ? ggml_type_size(type) : 1;
}

static uint64_t block_size(enum ggml_type type)
{
    return known_type(type) ? (uint64_t)ggml_blck_size(type) : 1;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* the bytes from its first to past its last (ggml_nbytes, saturated) */
static uint64_t extent(const struct ggml_tensor *t)
{
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        if (t->ne[i] <= 0) {
            return 0;
        }
    }
    const uint64_t blck = block_size(t->type);
    uint64_t total = blck == 1 ? type_size(t->type) : mul_sat((uint64_t)t->ne[0] / blck, t->nb[0]);
    for (int i = blck == 1 ? 0 : 1; i < GGML_MAX_DIMS; i++) {
        total = add_sat(total, mul_sat((uint64_t)t->ne[i] - 1, t->nb[i]));
    }
    return total;
}

static void set_contiguous(struct ggml_tensor *t)
{
    t->nb[0] = type_size(t->type);
    t->nb[1] = t->nb[0] * ((uint64_t)t->ne[0] / block_size(t->type));
    for (int i = 2; i < GGML_MAX_DIMS; i++) {
        t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
    }
}

/* ---- mutations of the tensors ------------------------------------------------ */

static const int64_t dim_edges[] = { 0, 1, 2, 3, 31, 32, 33, 64, 255, 256, 257, 4096, 65536 };
static const int32_t int_edges[] = { INT32_MIN, INT32_MAX, 0, -1, 1, 2, 3, 4, 8, 24, 40, 10 };
static const float float_edges[] = { NAN, INFINITY, -INFINITY, -1.0f, 0.0f, -0.0f, 1e30f, -1e30f, 1e-45f, 0.5f };

static void mutate_dim(struct ggml_tensor *t, const struct mutation *m)
{
    t->ne[m->a & 3] = dim_edges[m->b % N_OF(dim_edges)];
    if (m->a & 4) {
        set_contiguous(t);
    }
}

/* 0, one element less or more, twice, half, 1, or swapped with the next */
static void mutate_stride(struct ggml_tensor *t, const struct mutation *m)
{
    const int d = m->a & 3;
    const size_t nb = t->nb[d], elem = type_size(t->type);
    const size_t strides[] = { 0, nb > elem ? nb - elem : 0, nb + elem, nb * 2, nb / 2, 1, t->nb[(d + 1) & 3] };
    const size_t old = t->nb[d];
    t->nb[d] = strides[m->b % N_OF(strides)];
    if (m->b % N_OF(strides) == N_OF(strides) - 1) {
        t->nb[(d + 1) & 3] = old;
    }
}

/* any type, or one past the last; a bit 0: strides made contiguous for it */
static void mutate_type(struct ggml_tensor *t, const struct mutation *m)
{
    t->type = (enum ggml_type)(m->b % (GGML_TYPE_COUNT + 1));
    if (m->a & 1) {
        set_contiguous(t);
    }
}

/* op_params[a mod 17] at an integer or float edge; 16: flag b mod 8 flipped */
static void mutate_param(struct ggml_tensor *t, const struct mutation *m)
{
    int32_t v = int_edges[m->b % N_OF(int_edges)];
    if (m->b & 0x80) {
        memcpy(&v, &float_edges[m->b % N_OF(float_edges)], sizeof v);
    }
    if (m->a % 17 == 16) {
        t->flags ^= 1 << (m->b % 8);
    } else {
        t->op_params[m->a % 17] = v;
    }
}

/* src[a mod 10]: by a's bits 4-5 dropped, another tensor of the graph,
 * or swapped with src[b mod 10] */
static void mutate_source(struct graph_case *g, struct ggml_tensor *t, const struct mutation *m)
{
    struct ggml_tensor **src = &t->src[m->a % GGML_MAX_SRC];
    switch ((m->a >> 4) & 3) {
    case 0: *src = NULL; break;
    case 1: *src = g->t[m->b % g->n]; break;
    default: {
        struct ggml_tensor *other = t->src[m->b % GGML_MAX_SRC];
        t->src[m->b % GGML_MAX_SRC] = *src;
        *src = other;
    }
    }
}

/* the view source: none or another tensor (a bit 0); the offset (bits
 * 1-2): kept, 0, the source's end, or one element on */
static void mutate_view(struct graph_case *g, struct ggml_tensor *t, const struct mutation *m)
{
    t->view_src = m->a & 1 ? NULL : g->t[m->b % g->n];
    switch ((m->a >> 1) & 3) {
    case 1: t->view_offs = 0; break;
    case 2: t->view_offs = t->view_src ? (size_t)extent(t->view_src) : 0; break;
    case 3: t->view_offs += type_size(t->type); break;
    default: break;
    }
}

/* another op of the table, none, one without an entry, or one past the last */
static void mutate_op(struct ggml_tensor *t, const struct mutation *m)
{
    static const enum ggml_op others[] = { GGML_OP_NONE, GGML_OP_COUNT, GGML_OP_MAP_CUSTOM1, GGML_OP_SOFT_MAX_BACK,
                                           GGML_OP_ROPE_BACK, GGML_OP_CUSTOM };
    const size_t k = m->b % (ops_builder_count + N_OF(others));
    t->op = k < ops_builder_count ? ops_builders[k].op : others[k - ops_builder_count];
}

static void mutate_tensor(struct graph_case *g, const struct mutation *m)
{
    struct ggml_tensor *t = g->t[m->target % g->n];
    switch (m->kind % MUTATE_KINDS) {
    case MUTATE_DIM: mutate_dim(t, m); break;
    case MUTATE_STRIDE: mutate_stride(t, m); break;
    case MUTATE_TYPE: mutate_type(t, m); break;
    case MUTATE_PARAM: mutate_param(t, m); break;
    case MUTATE_SOURCE: mutate_source(g, t, m); break;
    case MUTATE_VIEW: mutate_view(g, t, m); break;
    case MUTATE_OP: mutate_op(t, m); break;
    default: break;
    }
}

/* ---- layout ------------------------------------------------------------------ */

/* the buffer of tensor i of class `which` (2 bits of the layout) */
static uint8_t buffer_of(int which, int i)
{
    return (uint8_t)(which == 3 ? i % N_BUFFERS : which % N_BUFFERS);
}

/* Each tensor after the last of its buffer (aligned), a view where its
 * view source lies plus its offset; each buffer as large as its tensors
 * plus the slack (an empty one of TENSOR_ALIGNMENT bytes, unless layout
 * bit 7 says 0). */
static void lay_out(struct graph_case *g, const struct recipe *r)
{
    static const uint64_t slack[] = { 0, 1, 32, 4096 };
    uint64_t used[N_BUFFERS] = { 0 };
    for (int i = 0; i < g->n; i++) {
        const struct ggml_tensor *t = g->t[i];
        const int v = t->view_src != NULL ? index_of(g, t->view_src) : -1;
        if (v >= 0 && v < i) {
            g->at[i] = (struct placement){ g->at[v].buffer, g->at[v].offset + t->view_offs };
            continue;
        }
        const uint8_t b = buffer_of(t->op == GGML_OP_NONE ? r->layout & 3 : (r->layout >> 2) & 3, i);
        used[b] = (used[b] + TENSOR_ALIGNMENT - 1) / TENSOR_ALIGNMENT * TENSOR_ALIGNMENT;
        g->at[i] = (struct placement){ b, used[b] };
        const uint64_t bytes = extent(t);
        used[b] += bytes <= MAX_BUFFER_SIZE ? bytes : 0;
    }
    for (int b = 0; b < N_BUFFERS; b++) {
        uint64_t size = used[b] + slack[(r->layout >> 4) & 3];
        size = size > 0 || (r->layout & 0x80) ? size : TENSOR_ALIGNMENT;
        g->size[b] = size < MAX_BUFFER_SIZE ? size : MAX_BUFFER_SIZE;
    }
}

/* the first source of the node from src[from mod 10] on, or -1 */
static int root_source(const struct graph_case *g, int from)
{
    for (int k = 0; k < GGML_MAX_SRC; k++) {
        const struct ggml_tensor *src = g->root->src[(from + k) % GGML_MAX_SRC];
        if (src != NULL && index_of(g, src) >= 0) {
            return index_of(g, src);
        }
    }
    return -1;
}

/* The node at a source's first byte (alias) or a few elements off it
 * (overlap: b bit 7 before it, else after). */
static void mutate_alias(struct graph_case *g, const struct mutation *m, bool overlap)
{
    const int root = index_of(g, g->root), src = root_source(g, m->a);
    if (src < 0) {
        return;
    }
    struct placement at = g->at[src];
    const uint64_t delta = type_size(g->root->type) * (1 + m->b % 4);
    if (overlap) {
        at.offset = m->b & 0x80 && at.offset >= delta ? at.offset - delta : at.offset + delta;
    }
    g->at[root] = at;
}

/* a tensor into buffer b mod 4 (3: a handle no buffer has), at (a mod 5)
 * its offset, 0, the buffer's end less its bytes, one byte further, or the
 * end */
static void mutate_move(struct graph_case *g, const struct mutation *m)
{
    const int i = m->target % g->n;
    const uint8_t b = (uint8_t)(m->b % (N_BUFFERS + 1));
    const uint64_t size = b < N_BUFFERS ? g->size[b] : 0, bytes = extent(g->t[i]);
    const uint64_t at_end = size > bytes ? size - bytes : 0;
    const uint64_t offsets[] = { g->at[i].offset, 0, at_end, at_end + 1, size };
    g->at[i] = (struct placement){ b, offsets[m->a % N_OF(offsets)] };
}

static void mutate_placement(struct graph_case *g, const struct mutation *m)
{
    switch (m->kind % MUTATE_KINDS) {
    case MUTATE_ALIAS: mutate_alias(g, m, false); break;
    case MUTATE_OVERLAP: mutate_alias(g, m, true); break;
    case MUTATE_MOVE: mutate_move(g, m); break;
    default: break;
    }
}

/* ---- the inputs' values -------------------------------------------------------- */

/* v (size bytes) at the offset of the buffer, where it fits */
static void store(const struct graph_case *g, struct placement at, uint64_t offset, const void *v, size_t size)
{
    const uint64_t end = add_sat(add_sat(at.offset, offset), size);
    if (at.buffer < N_BUFFERS && end <= g->size[at.buffer]) {
        memcpy(g->bytes[at.buffer] + end - size, v, size);
    }
}

/* a float from a value byte: mostly ordinary, an edge one in four */
static float float_value(uint8_t byte)
{
    static const float values[] = { 0.0f, 1.0f,  -1.0f, 0.5f, 2.0f,  -2.5f, 0.125f,    3.0f,
                                    -0.75f, 1e-3f, 10.0f, -10.0f, 1e30f, -INFINITY, INFINITY, NAN };
    return values[byte % N_OF(values)];
}

/* one element of type `type` at `offset`: floats as floats, other types
 * raw value bytes */
static void store_value(const struct graph_case *g, struct placement at, uint64_t offset, enum ggml_type type,
                        struct recipe *r)
{
    const uint8_t byte = next_value(r);
    const float f = float_value(byte);
    if (type == GGML_TYPE_F32) {
        store(g, at, offset, &f, sizeof f);
    } else if (type == GGML_TYPE_F16) {
        const ggml_fp16_t h = ggml_fp32_to_fp16(f);
        store(g, at, offset, &h, sizeof h);
    } else if (type == GGML_TYPE_BF16) {
        const ggml_bf16_t h = ggml_fp32_to_bf16(f);
        store(g, at, offset, &h, sizeof h);
    } else {
        store(g, at, offset, &byte, 1);
    }
}

/* an input's bytes, element by element (byte by byte for other types) */
static void fill_input(const struct graph_case *g, int i, struct recipe *r)
{
    const struct ggml_tensor *t = g->t[i];
    const bool is_float = t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16;
    const uint64_t step = is_float ? type_size(t->type) : 1;
    const uint64_t bytes = extent(t) < MAX_BUFFER_SIZE ? extent(t) : MAX_BUFFER_SIZE;
    for (uint64_t offset = 0; offset + step <= bytes; offset += step) {
        store_value(g, g->at[i], offset, t->type, r);
    }
}

/* the source of a node that holds indices, and their bound (index-check.c) */
static const struct ggml_tensor *index_source(const struct ggml_tensor *node, int64_t *bound)
{
    const struct ggml_tensor *const *src = (const struct ggml_tensor *const *)node->src;
    switch (node->op) {
    case GGML_OP_GET_ROWS: *bound = src[0] ? src[0]->ne[1] : 0; return src[1];
    case GGML_OP_SET_ROWS: *bound = node->ne[1]; return src[1];
    case GGML_OP_MUL_MAT_ID: *bound = src[0] ? src[0]->ne[2] : 0; return src[2];
    case GGML_OP_ADD_ID: *bound = src[1] ? src[1]->ne[1] : 0; return src[2];
    default: return NULL;
    }
}

/* index k of the recipe's choice: valid ones (k mod bound), but one edge
 * value (-1, the bound, its last, INT32_MAX, INT32_MIN, one past, INT64_MAX)
 * at the chosen position */
static int64_t index_value(const struct recipe *r, int64_t k, int64_t bound)
{
    const int64_t edges[] = { 0, -1, bound, bound - 1, INT32_MAX, INT32_MIN, bound + 1, INT64_MAX };
    const int64_t valid = bound > 0 ? k % bound : 0;
    return k == r->indices >> 3 && (r->indices & 7) != 0 ? edges[r->indices & 7] : valid;
}

/* the indices of an index source, along its strides (at most 2^20) */
static void fill_indices(const struct graph_case *g, const struct ggml_tensor *t, int64_t bound,
                         const struct recipe *r)
{
    const int i = index_of(g, t);
    const size_t size = t->type == GGML_TYPE_I32 ? 4 : t->type == GGML_TYPE_I64 ? 8 : 0;
    uint64_t n = 1;
    for (int d = 0; d < GGML_MAX_DIMS; d++) {
        n = mul_sat(n, (uint64_t)t->ne[d]);
    }
    for (uint64_t k = 0; i >= 0 && size != 0 && k < n && k < (1u << 20); k++) {
        const uint64_t i0 = k % t->ne[0], i1 = k / t->ne[0] % t->ne[1], i2 = k / t->ne[0] / t->ne[1] % t->ne[2];
        const uint64_t i3 = k / t->ne[0] / t->ne[1] / t->ne[2];
        const int64_t v = index_value(r, (int64_t)k, bound);
        const int32_t v32 = (int32_t)v;
        const uint64_t offset = i0 * t->nb[0] + i1 * t->nb[1] + i2 * t->nb[2] + i3 * t->nb[3];
        store(g, g->at[i], offset, size == 4 ? (const void *)&v32 : (const void *)&v, size);
    }
}

static void fill_inputs(const struct graph_case *g, struct recipe *r)
{
    for (int i = 0; i < g->n; i++) {
        if (g->t[i]->op == GGML_OP_NONE && g->t[i]->view_src == NULL) {
            fill_input(g, i, r);
        }
    }
    for (int i = 0; i < g->n; i++) {
        int64_t bound;
        const struct ggml_tensor *indices = g->t[i]->op != GGML_OP_NONE ? index_source(g->t[i], &bound) : NULL;
        if (indices != NULL) {
            fill_indices(g, indices, bound, r);
        }
    }
}

/* ---- the wire ------------------------------------------------------------------- */

/* a tensor's id in the graph: 0 for none, one the graph lacks for one left out */
static uint64_t wire_id(const struct graph_case *g, const struct ggml_tensor *t)
{
    const int i = t != NULL ? index_of(g, t) : -1;
    return t == NULL ? 0 : i >= 0 ? (uint64_t)i + 1 : 0xdeadbeefull;
}

static uint32_t u32_sat(uint64_t v)
{
    return v <= UINT32_MAX ? (uint32_t)v : UINT32_MAX;
}

static void wire_of(const struct graph_case *g, int i, struct wire_tensor *w)
{
    const struct ggml_tensor *t = g->t[i];
    memset(w, 0, sizeof *w);
    w->id = wire_id(g, t);
    w->type = (uint32_t)t->type;
    for (int d = 0; d < GGML_MAX_DIMS; d++) {
        w->ne[d] = u32_sat((uint64_t)t->ne[d]);
        w->nb[d] = u32_sat(t->nb[d]);
    }
    w->buffer = g->handle[g->at[i].buffer];
    w->data = g->at[i].offset;
    w->op = (uint32_t)t->op;
    memcpy(w->op_params, t->op_params, sizeof w->op_params);
    w->flags = t->flags;
    for (int s = 0; s < GGML_MAX_SRC; s++) {
        w->src[s] = wire_id(g, t->src[s]);
    }
    w->view_src = wire_id(g, t->view_src);
    w->view_offs = t->view_offs;
    memcpy(w->name, t->name, sizeof w->name - 1);
}

/* the graph: as nodes the tensors that have an op (or only the op's node) */
static size_t encode(const struct graph_case *g, bool op_node_only, uint8_t *out, size_t cap)
{
    uint64_t nodes[MAX_TENSORS];
    uint32_t n_nodes = 0;
    for (int i = 0; i < g->n; i++) {
        if (g->t[i] == g->root || (!op_node_only && g->t[i]->op != GGML_OP_NONE)) {
            nodes[n_nodes++] = wire_id(g, g->t[i]);
        }
    }
    struct wire_graph_writer w;
    wire_graph_begin(&w, out, cap, n_nodes);
    for (uint32_t i = 0; i < n_nodes; i++) {
        wire_graph_put_node(&w, nodes[i]);
    }
    for (int i = 0; i < g->n; i++) {
        struct wire_tensor t;
        wire_of(g, i, &t);
        wire_graph_put_tensor(&w, &t);
    }
    return wire_graph_end(&w);
}

/* FUZZ_LOG=1: the tensors as sent, to tell what a finding was */
static void describe(const struct graph_case *g)
{
    for (int i = 0; getenv("FUZZ_LOG") != NULL && i < g->n; i++) {
        const struct ggml_tensor *t = g->t[i];
        fprintf(stderr, "graph_ops: tensor %d '%s' %s type %d ne [%lld %lld %lld %lld] nb [%zu %zu %zu %zu] in buffer %d "
                        "at %llu of %llu, view of %d\n",
                i + 1, t->name, ggml_op_desc(t), (int)t->type, (long long)t->ne[0], (long long)t->ne[1],
                (long long)t->ne[2], (long long)t->ne[3], t->nb[0], t->nb[1], t->nb[2], t->nb[3], g->at[i].buffer,
                (unsigned long long)g->at[i].offset,
                (unsigned long long)(g->at[i].buffer < N_BUFFERS ? g->size[g->at[i].buffer] : 0),
                t->view_src ? index_of(g, t->view_src) + 1 : 0);
    }
}

/* ---- running it ----------------------------------------------------------------- */

/* the buffers' contents, as resources the host finds; the shared one
 * fenced (ggml faults reading past it) */
static bool add_buffer_bytes(struct graph_case *g, struct fuzz_memory *memory)
{
    for (int b = 0; b < N_BUFFERS; b++) {
        struct fuzz_resource *res = b == SHARED_BUFFER ? fuzz_memory_add_fenced(memory, BUFFER_RES(b), g->size[b])
                                                       : fuzz_memory_add(memory, BUFFER_RES(b), NULL, g->size[b]);
        if (res == NULL) {
            return false;
        }
        g->bytes[b] = res->ptr;
    }
    return true;
}

/* the host's buffers, with the contents; the shared one wraps its resource */
static void make_buffers(struct graph_case *g)
{
    const uint64_t buft = fuzz_host_buffer_type(CTX_ID);
    for (int b = 0; b < N_BUFFERS; b++) {
        if (b == SHARED_BUFFER) {
            g->handle[b] = fuzz_host_buffer_from_ptr(CTX_ID, BUFFER_RES(b), g->size[b]);
        } else if ((g->handle[b] = fuzz_host_alloc_buffer(CTX_ID, buft, g->size[b])) != 0) {
            fuzz_host_write_buffer(CTX_ID, g->handle[b], BUFFER_RES(b), g->size[b]);
        }
    }
    g->handle[NO_BUFFER] = 0x5647dead0001ull;
}

static void run(struct graph_case *g, const struct recipe *r, struct fuzz_memory *memory)
{
    static uint8_t graph[sizeof(uint32_t) * 2 + (sizeof(uint64_t) + sizeof(struct wire_tensor)) * MAX_TENSORS];
    fuzz_host_start(CTX_ID, memory);
    make_buffers(g);
    const size_t size = encode(g, (r->layout >> 6) & 1, graph, sizeof graph);
    if (size > 0 && fuzz_memory_add(memory, GRAPH_RES, graph, size) != NULL &&
        fuzz_host_graph_compute(CTX_ID, GRAPH_RES, size)) {
        fuzz_host_graph_compute(CTX_ID, GRAPH_RES, size); /* from the graph cache */
    }
    fuzz_host_stop(CTX_ID);
}

/* the node, mutated, laid out and filled; false when the constructor refused the choice */
static bool make_case(struct graph_case *g, struct ggml_context *ctx, struct recipe *r,
                      struct fuzz_memory *memory)
{
    if ((g->root = ops_build(ctx, &r->choice)) == NULL) {
        return false;
    }
    collect_graph(g);
    for (int i = 0; i < r->n_mutations; i++) {
        mutate_tensor(g, &r->mutations[i]);
    }
    collect_graph(g);
    lay_out(g, r);
    for (int i = 0; i < r->n_mutations; i++) {
        mutate_placement(g, &r->mutations[i]);
    }
    if (!add_buffer_bytes(g, memory)) {
        return false;
    }
    fill_inputs(g, r);
    describe(g);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memory memory;
    struct fuzz_input in = { data, data + size };
    struct recipe r;
    read_recipe(&in, &r);
    fuzz_setup();
    struct ggml_init_params params = {
        ggml_tensor_overhead() * 2 * MAX_TENSORS + ggml_graph_overhead_custom(OPS_MAX_NODES, false), NULL, true
    };
    struct ggml_context *ctx = ggml_init(params);
    struct graph_case g = { 0 };
    if (ctx != NULL && make_case(&g, ctx, &r, &memory)) {
        run(&g, &r, &memory);
    }
    if (ctx != NULL) {
        ggml_free(ctx);
    }
    fuzz_memory_free(&memory);
    return 0;
}
