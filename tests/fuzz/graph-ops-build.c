/* Nodes of every op the host's op table takes, built as a guest builds
 * them: by ggml's own constructor, from sources whose shapes the
 * constructor accepts. The recipe picks each extent among edge values and
 * each type among those the op takes; its variant picks sub-ops, modes,
 * optional sources and views (each builder says which bits it reads).
 * graph_ops.c mutates the result. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph-ops.h"

/* ---- choices -------------------------------------------------------------- */

/* inner extents, and outer ones (kept small: the product stays cheap) */
static const int64_t edges[] = { 1, 2, 3, 4, 5, 8, 16, 31, 32, 33, 64, 0 };
static const int64_t outer_edges[] = { 1, 2, 3, 0, 4, 5 };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int64_t dim(const struct ops_choice *c, int i)
{
    return edges[c->dim[i] % N_OF(edges)];
}

static int64_t outer(const struct ops_choice *c, int i)
{
    return outer_edges[c->dim[i] % N_OF(outer_edges)];
}

static int64_t nonzero(int64_t ne)
{
    return ne != 0 ? ne : 1;
}

static bool bit(const struct ops_choice *c, int k)
{
    return (c->variant >> k) & 1;
}

static int64_t gcd(int64_t a, int64_t b)
{
    return b == 0 ? a : gcd(b, a % b);
}

/* the least row of whole blocks of both types */
static int64_t common_block(enum ggml_type a, enum ggml_type b)
{
    const int64_t ba = ggml_blck_size(a), bb = ggml_blck_size(b);
    return ba / gcd(ba, bb) * bb;
}

/* a row of whole blocks of both types: 0 to 2 blocks when one is
 * quantized, else an edge value */
static int64_t row(const struct ops_choice *c, int i, enum ggml_type a, enum ggml_type b)
{
    const int64_t blck = common_block(a, b);
    return blck == 1 ? dim(c, i) : blck * (c->dim[i] % 3);
}

/* a row, one block when it would be empty (ggml_mul_mat takes an empty
 * row for a transposed one) */
static int64_t full_row(const struct ops_choice *c, int i, enum ggml_type a, enum ggml_type b)
{
    const int64_t ne0 = row(c, i, a, b);
    return ne0 != 0 ? ne0 : common_block(a, b);
}

/* ---- types ---------------------------------------------------------------- */

#define T(t) (UINT64_C(1) << GGML_TYPE_##t)
#define TYPES_FLOAT (T(F32) | T(F16) | T(BF16))
#define TYPES_F16_F32 (T(F32) | T(F16))

/* every type with a layout; the quantized ones that store weights (not the
 * CPU's intermediate Q8_1 and Q8_K) */
static uint64_t types_matching(bool quantized)
{
    uint64_t mask = 0;
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const bool weight = t != GGML_TYPE_Q8_1 && t != GGML_TYPE_Q8_K;
        if (ggml_blck_size((enum ggml_type)t) > 0 && (!quantized || (ggml_is_quantized((enum ggml_type)t) && weight))) {
            mask |= UINT64_C(1) << t;
        }
    }
    return mask;
}

#define TYPES_ANY types_matching(false)
#define TYPES_WEIGHT (TYPES_FLOAT | types_matching(true))

/* the (byte mod count)-th type of the set */
static enum ggml_type pick(uint8_t byte, uint64_t types)
{
    int k = byte % __builtin_popcountll(types);
    int t = 0;
    for (; k > 0 || ((types >> t) & 1) == 0; t++) {
        k -= (types >> t) & 1;
    }
    return (enum ggml_type)t;
}

/* ---- sources -------------------------------------------------------------- */

static struct ggml_tensor *leaf(struct ggml_context *ctx, const char *name, enum ggml_type type, int64_t ne0,
                                int64_t ne1, int64_t ne2, int64_t ne3)
{
    struct ggml_tensor *t = ggml_new_tensor_4d(ctx, type, ne0, ne1, ne2, ne3);
    ggml_set_name(t, name);
    return t;
}

/* [row, dim 1, outer 2, outer 3] */
static struct ggml_tensor *leaf_of(struct ggml_context *ctx, const struct ops_choice *c, const char *name,
                                   enum ggml_type type)
{
    return leaf(ctx, name, type, row(c, 0, type, type), dim(c, 1), outer(c, 2), outer(c, 3));
}

/* a tensor of a's shape but where each bit of `broadcast` says 1 (none
 * when a is empty: ggml_can_repeat) */
static struct ggml_tensor *broadcast_of(struct ggml_context *ctx, const struct ggml_tensor *a, enum ggml_type type,
                                        unsigned broadcast)
{
    int64_t ne[GGML_MAX_DIMS];
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        ne[i] = (broadcast >> i) & 1 && !ggml_is_empty(a) ? 1 : a->ne[i];
    }
    return leaf(ctx, "b", type, ne[0], ne[1], ne[2], ne[3]);
}

/* the rows of a wider tensor: contiguous rows with a gap after each */
static struct ggml_tensor *rows_with_gaps(struct ggml_context *ctx, enum ggml_type type, int64_t ne0, int64_t ne1,
                                          int64_t ne2, int64_t ne3)
{
    struct ggml_tensor *wide = leaf(ctx, "wide", type, ne0 + 3 * ggml_blck_size(type), ne1, ne2, ne3);
    return ggml_view_4d(ctx, wide, ne0, ne1, ne2, ne3, wide->nb[1], wide->nb[2], wide->nb[3], 0);
}

/* ---- builders ------------------------------------------------------------- */

/* type[0]: src[0]'s type; variant bit 0: src[1] F32; bits 1-4: src[1]
 * broadcast in dimensions 0-3; bit 5: ggml_add_cast to F32 */
static struct ggml_tensor *binary(struct ggml_context *ctx, const struct ops_choice *c, enum ggml_op op)
{
    const enum ggml_type ta = pick(c->type[0], TYPES_FLOAT);
    const bool cast = op == GGML_OP_ADD && bit(c, 5) && ta != GGML_TYPE_F32;
    struct ggml_tensor *a = leaf_of(ctx, c, "a", ta);
    /* ggml_add_cast repeats whole rows */
    const unsigned broadcast = (c->variant >> 1) & (cast ? 0xe : 0xf);
    struct ggml_tensor *b = broadcast_of(ctx, a, bit(c, 0) ? GGML_TYPE_F32 : ta, broadcast);
    switch (op) {
    case GGML_OP_ADD: return cast ? ggml_add_cast(ctx, a, b, GGML_TYPE_F32) : ggml_add(ctx, a, b);
    case GGML_OP_SUB: return ggml_sub(ctx, a, b);
    case GGML_OP_MUL: return ggml_mul(ctx, a, b);
    default: return ggml_div(ctx, a, b);
    }
}

static struct ggml_tensor *build_add(struct ggml_context *ctx, const struct ops_choice *c)
{
    return binary(ctx, c, GGML_OP_ADD);
}

static struct ggml_tensor *build_sub(struct ggml_context *ctx, const struct ops_choice *c)
{
    return binary(ctx, c, GGML_OP_SUB);
}

static struct ggml_tensor *build_mul(struct ggml_context *ctx, const struct ops_choice *c)
{
    return binary(ctx, c, GGML_OP_MUL);
}

static struct ggml_tensor *build_div(struct ggml_context *ctx, const struct ops_choice *c)
{
    return binary(ctx, c, GGML_OP_DIV);
}

/* a [n_embd, n_used, n_tokens], b [n_embd, n_expert], ids [n_used, n_tokens] */
static struct ggml_tensor *build_add_id(struct ggml_context *ctx, const struct ops_choice *c)
{
    const int64_t n_embd = dim(c, 0), n_used = dim(c, 1), n_tokens = outer(c, 2);
    struct ggml_tensor *a = leaf(ctx, "a", GGML_TYPE_F32, n_embd, n_used, n_tokens, 1);
    struct ggml_tensor *b = leaf(ctx, "b", GGML_TYPE_F32, n_embd, dim(c, 4), 1, 1);
    struct ggml_tensor *ids = leaf(ctx, "ids", GGML_TYPE_I32, n_used, n_tokens, 1, 1);
    return ggml_add_id(ctx, a, b, ids);
}

static struct ggml_tensor *build_sum_rows(struct ggml_context *ctx, const struct ops_choice *c)
{
    return ggml_sum_rows(ctx, leaf_of(ctx, c, "a", GGML_TYPE_F32));
}

/* type[0]: any; variant bits 0-1: the dimension */
static struct ggml_tensor *build_concat(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_ANY);
    const int d = c->variant & 3;
    struct ggml_tensor *a = leaf_of(ctx, c, "a", type);
    int64_t ne[GGML_MAX_DIMS] = { a->ne[0], a->ne[1], a->ne[2], a->ne[3] };
    ne[d] = d == 0 ? row(c, 4, type, type) : dim(c, 4);
    return ggml_concat(ctx, a, leaf(ctx, "b", type, ne[0], ne[1], ne[2], ne[3]), d);
}

static float eps_of(const struct ops_choice *c)
{
    static const float eps[] = { 1e-5f, 1e-6f, 0.0f, 1.0f };
    return eps[c->variant % N_OF(eps)];
}

static struct ggml_tensor *build_norm(struct ggml_context *ctx, const struct ops_choice *c)
{
    return ggml_norm(ctx, leaf_of(ctx, c, "a", GGML_TYPE_F32), eps_of(c));
}

static struct ggml_tensor *build_rms_norm(struct ggml_context *ctx, const struct ops_choice *c)
{
    return ggml_rms_norm(ctx, leaf_of(ctx, c, "a", GGML_TYPE_F32), eps_of(c));
}

/* a [K, M, ne2, ne3] of type[0] times b [K, N, ne2·r2, ne3·r3] of type[1]
 * (F32 for a quantized a);
 * variant bits 0-1: r2, r3 of 2 and 3; bit 2: b a permuted view (as
 * attention's q); bit 3: F32 precision */
static struct ggml_tensor *build_mul_mat(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type ta = pick(c->type[0], TYPES_WEIGHT);
    /* a quantized src[0] multiplies F32 rows (the CPU quantizes them) */
    const enum ggml_type tb = ggml_is_quantized(ta) ? GGML_TYPE_F32 : pick(c->type[1], TYPES_FLOAT);
    const int64_t k = full_row(c, 0, ta, tb), ne2 = nonzero(outer(c, 2)), ne3 = nonzero(outer(c, 3));
    const int64_t b2 = ne2 * (bit(c, 0) ? 2 : 1), b3 = ne3 * (bit(c, 1) ? 3 : 1), n = dim(c, 4);
    struct ggml_tensor *a = leaf(ctx, "a", ta, k, dim(c, 1), ne2, ne3);
    struct ggml_tensor *b = bit(c, 2) ? ggml_permute(ctx, leaf(ctx, "b", tb, k, b2, n, b3), 0, 2, 1, 3)
                                      : leaf(ctx, "b", tb, k, n, b2, b3);
    struct ggml_tensor *t = ggml_mul_mat(ctx, a, b);
    if (bit(c, 3)) {
        ggml_prec_set_acc(t, GGML_PREC_F32);
    }
    return t;
}

/* experts as [K, M, n_expert] of type[0], b [K, n_used or 1, n_tokens],
 * ids [n_used, n_tokens]; variant bit 0: b's rows shared by the experts
 * (ne1 1) */
static struct ggml_tensor *build_mul_mat_id(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type ta = pick(c->type[0], TYPES_WEIGHT);
    const int64_t k = full_row(c, 0, ta, GGML_TYPE_F32), n_used = outer(c, 3), n_tokens = dim(c, 4);
    struct ggml_tensor *as = leaf(ctx, "as", ta, k, dim(c, 1), nonzero(outer(c, 2)), 1);
    struct ggml_tensor *b = leaf(ctx, "b", GGML_TYPE_F32, k, bit(c, 0) ? 1 : nonzero(n_used), n_tokens, 1);
    struct ggml_tensor *ids = leaf(ctx, "ids", GGML_TYPE_I32, n_used, n_tokens, 1, 1);
    struct ggml_tensor *t = ggml_mul_mat_id(ctx, as, b, ids);
    if (bit(c, 3)) {
        ggml_prec_set_acc(t, GGML_PREC_F32);
    }
    return t;
}

/* variant bits 0-1: the scale; bit 2: with a bias (ggml_scale_bias) */
static struct ggml_tensor *build_scale(struct ggml_context *ctx, const struct ops_choice *c)
{
    static const float scales[] = { 1.0f, 0.0f, -1.0f, 0.5f };
    struct ggml_tensor *a = leaf_of(ctx, c, "a", GGML_TYPE_F32);
    const float s = scales[c->variant & 3];
    return bit(c, 2) ? ggml_scale_bias(ctx, a, s, 1.0f) : ggml_scale(ctx, a, s);
}

/* the result type of a copy: variant bits 0-1: src[0]'s type, F32, or type[1] */
static enum ggml_type copy_type(const struct ops_choice *c, enum ggml_type src)
{
    const int which = c->variant & 3;
    return which == 0 ? src : which == 1 ? GGML_TYPE_F32 : pick(c->type[1], TYPES_ANY);
}

/* type[0] into copy_type; variant bit 2: into a view of a longer tensor
 * (a KV cache store); bit 3: from a transposed view (unquantized) */
static struct ggml_tensor *build_cpy(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type ts = pick(c->type[0], TYPES_ANY), td = copy_type(c, ts);
    const int64_t ne0 = row(c, 0, ts, td), ne1 = dim(c, 1), ne2 = outer(c, 2), ne3 = outer(c, 3);
    struct ggml_tensor *src = bit(c, 3) && ggml_blck_size(ts) == 1
                                  ? ggml_transpose(ctx, leaf(ctx, "a", ts, ne1, ne0, ne2, ne3))
                                  : leaf(ctx, "a", ts, ne0, ne1, ne2, ne3);
    struct ggml_tensor *dst;
    if (bit(c, 2)) {
        const int64_t skip = c->dim[4] % 3;
        struct ggml_tensor *cache = leaf(ctx, "cache", td, ne0, ne1 + skip, ne2, ne3);
        dst = ggml_view_4d(ctx, cache, ne0, ne1, ne2, ne3, cache->nb[1], cache->nb[2], cache->nb[3],
                           (size_t)skip * cache->nb[1]);
    } else {
        dst = leaf(ctx, "b", td, ne0, ne1, ne2, ne3);
    }
    return ggml_cpy(ctx, src, dst);
}

/* type[0]: any; variant bit 0: from a transposed view (unquantized) */
static struct ggml_tensor *build_dup(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_ANY);
    struct ggml_tensor *a = leaf_of(ctx, c, "a", type);
    return ggml_dup(ctx, bit(c, 0) && ggml_blck_size(type) == 1 ? ggml_transpose(ctx, a) : a);
}

/* type[0]: any; from a permuted view (variant bit 0: transposed, if
 * unquantized); bit 1: into another shape (ggml_cont_4d) */
static struct ggml_tensor *build_cont(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_ANY);
    struct ggml_tensor *a = leaf_of(ctx, c, "a", type);
    a = bit(c, 0) && ggml_blck_size(type) == 1 ? ggml_transpose(ctx, a) : ggml_permute(ctx, a, 0, 2, 1, 3);
    return bit(c, 1) ? ggml_cont_4d(ctx, a, a->ne[0], a->ne[1] * a->ne[2], a->ne[3], 1) : ggml_cont(ctx, a);
}

/* type[0]: any; variant mod 3: which dimensions merge */
static struct ggml_tensor *build_reshape(struct ggml_context *ctx, const struct ops_choice *c)
{
    struct ggml_tensor *a = leaf_of(ctx, c, "a", pick(c->type[0], TYPES_ANY));
    const int64_t *ne = a->ne;
    switch (c->variant % 3) {
    case 0: return ggml_reshape_4d(ctx, a, ne[0], ne[1] * ne[2], ne[3], 1);
    case 1: return ggml_reshape_4d(ctx, a, ne[0] * ne[1], ne[2], ne[3], 1);
    default: return ggml_reshape_4d(ctx, a, ne[0], 1, ne[1], ne[2] * ne[3]);
    }
}

/* type[0]: any; rows from dim[4] mod 3 on; variant bit 0: one element
 * shorter (unquantized), bit 1: then from the second element */
static struct ggml_tensor *build_view(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_ANY);
    struct ggml_tensor *a = leaf_of(ctx, c, "a", type);
    const int64_t skip = a->ne[1] < c->dim[4] % 3 ? a->ne[1] : c->dim[4] % 3;
    const bool shorter = bit(c, 0) && ggml_blck_size(type) == 1 && a->ne[0] > 0;
    const size_t offset = (size_t)skip * a->nb[1] + (shorter && bit(c, 1) ? a->nb[0] : 0);
    return ggml_view_4d(ctx, a, a->ne[0] - shorter, a->ne[1] - skip, a->ne[2], a->ne[3], a->nb[1], a->nb[2], a->nb[3],
                        offset);
}

/* type[0]: any; variant mod 24: the permutation */
static struct ggml_tensor *build_permute(struct ggml_context *ctx, const struct ops_choice *c)
{
    int axes[GGML_MAX_DIMS], left[GGML_MAX_DIMS] = { 0, 1, 2, 3 };
    int code = c->variant % 24;
    for (int i = 0, n = GGML_MAX_DIMS; i < GGML_MAX_DIMS; i++, n--) {
        const int k = code % n;
        code /= n;
        axes[i] = left[k];
        for (int j = k; j + 1 < n; j++) {
            left[j] = left[j + 1];
        }
    }
    return ggml_permute(ctx, leaf_of(ctx, c, "a", pick(c->type[0], TYPES_ANY)), axes[0], axes[1], axes[2], axes[3]);
}

static struct ggml_tensor *build_transpose(struct ggml_context *ctx, const struct ops_choice *c)
{
    return ggml_transpose(ctx, leaf_of(ctx, c, "a", pick(c->type[0], TYPES_ANY)));
}

/* rows [ne0, n_rows, ne2, ne3] of type[0] (a weight type or I32), indices
 * [dim 4, ne2, ne3] */
static struct ggml_tensor *build_get_rows(struct ggml_context *ctx, const struct ops_choice *c)
{
    struct ggml_tensor *a = leaf_of(ctx, c, "a", pick(c->type[0], TYPES_WEIGHT | T(I32)));
    return ggml_get_rows(ctx, a, leaf(ctx, "ids", GGML_TYPE_I32, dim(c, 4), a->ne[2], a->ne[3], 1));
}

/* rows b [ne0, dim 4, ne2, ne3] (variant bit 0: F16, else F32) into a of
 * type[0] at indices [dim 4, ne2 or 1, ne3 or 1] (bit 1: I32, else I64;
 * bits 2, 3: broadcast over ne2, ne3) */
static struct ggml_tensor *build_set_rows(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type ta = pick(c->type[0], TYPES_FLOAT | T(I32) | types_matching(true));
    const enum ggml_type tb = bit(c, 0) ? GGML_TYPE_F16 : GGML_TYPE_F32;
    struct ggml_tensor *a = leaf_of(ctx, c, "a", ta);
    const int64_t n = dim(c, 4);
    struct ggml_tensor *b = leaf(ctx, "b", tb, a->ne[0], n, a->ne[2], a->ne[3]);
    struct ggml_tensor *ids = leaf(ctx, "ids", bit(c, 1) ? GGML_TYPE_I32 : GGML_TYPE_I64, n,
                                   bit(c, 2) ? 1 : nonzero(a->ne[2]), bit(c, 3) ? 1 : nonzero(a->ne[3]), 1);
    return ggml_set_rows(ctx, a, b, ids);
}

/* variant bits 0-1: no mask, an F16 or an F32 one; bit 2: the mask has
 * more rows; bits 3, 4: it broadcasts over ne2, ne3; bit 5: max_bias;
 * bit 6: sinks; dim[5] mod 4: the scale */
static struct ggml_tensor *build_soft_max(struct ggml_context *ctx, const struct ops_choice *c)
{
    static const float scales[] = { 1.0f, 0.125f, 0.0f, -1.0f };
    struct ggml_tensor *a = leaf_of(ctx, c, "a", GGML_TYPE_F32), *mask = NULL;
    const int masked = c->variant & 3;
    if (masked != 0) {
        mask = leaf(ctx, "mask", masked == 2 ? GGML_TYPE_F32 : GGML_TYPE_F16, a->ne[0], a->ne[1] + (bit(c, 2) ? 3 : 0),
                    bit(c, 3) ? 1 : nonzero(a->ne[2]), bit(c, 4) ? 1 : nonzero(a->ne[3]));
    }
    struct ggml_tensor *t = ggml_soft_max_ext(ctx, a, mask, scales[c->dim[5] % 4], mask && bit(c, 5) ? 8.0f : 0.0f);
    if (bit(c, 6)) {
        ggml_soft_max_add_sinks(t, leaf(ctx, "sinks", GGML_TYPE_F32, a->ne[2], 1, 1, 1));
    }
    return t;
}

/* multi-rope sections: half the rotated dimensions (vision: two) */
static void rope_sections(int n_dims, int mode, int sections[GGML_MROPE_SECTIONS])
{
    const int half = n_dims / 2;
    if (mode == GGML_ROPE_TYPE_VISION) {
        sections[0] = half / 2, sections[1] = half - half / 2, sections[2] = 0, sections[3] = 0;
    } else {
        sections[0] = half - 2 * (half / 4), sections[1] = half / 4, sections[2] = half / 4, sections[3] = 0;
    }
}

/* a [2·dim 0, heads, tokens, ne3] of type[0] (F16 or F32); variant mod 5
 * (low bits): the mode; dim[4] mod 3: all, half or two of ne0 rotated
 * (vision: half); variant bit 3: frequency factors; bit 4: with one more;
 * bit 5: ext_factor 1; bit 6: the rest rotated from an offset */
static struct ggml_tensor *build_rope(struct ggml_context *ctx, const struct ops_choice *c)
{
    static const int modes[] = { GGML_ROPE_TYPE_NORMAL, GGML_ROPE_TYPE_NEOX, GGML_ROPE_TYPE_MROPE,
                                 GGML_ROPE_TYPE_VISION, GGML_ROPE_TYPE_IMROPE };
    const int mode = modes[(c->variant & 7) % 5];
    const bool multi = (mode & GGML_ROPE_TYPE_MROPE) != 0;
    const int ne0 = 2 * (int)dim(c, 0), choice = c->dim[4] % 3;
    const int n_dims = mode == GGML_ROPE_TYPE_VISION ? ne0 / 2 : choice == 0 ? ne0 : choice == 1 ? ne0 / 4 * 2 : 2;
    struct ggml_tensor *a = leaf(ctx, "a", pick(c->type[0], TYPES_F16_F32), ne0, dim(c, 1), outer(c, 2), outer(c, 3));
    struct ggml_tensor *pos = leaf(ctx, "pos", GGML_TYPE_I32, a->ne[2] * (multi ? 4 : 1), 1, 1, 1);
    struct ggml_tensor *freq = bit(c, 3) ? leaf(ctx, "freq", GGML_TYPE_F32, n_dims / 2 + bit(c, 4), 1, 1, 1) : NULL;
    const float ext = bit(c, 5) ? 1.0f : 0.0f;
    struct ggml_tensor *t;
    if (multi) {
        int sections[GGML_MROPE_SECTIONS];
        rope_sections(n_dims, mode, sections);
        t = ggml_rope_multi(ctx, a, pos, freq, n_dims, sections, mode, 4096, 10000.0f, 1.0f, ext, 1.0f, 32.0f, 1.0f);
    } else {
        t = ggml_rope_ext(ctx, a, pos, freq, n_dims, mode, 4096, 10000.0f, 1.0f, ext, 1.0f, 32.0f, 1.0f);
    }
    if (bit(c, 6) && mode != GGML_ROPE_TYPE_VISION) {
        ggml_rope_set_offset(t, ne0 - n_dims);
    }
    return t;
}

/* variant bit 0: descending */
static struct ggml_tensor *build_argsort(struct ggml_context *ctx, const struct ops_choice *c)
{
    return ggml_argsort(ctx, leaf_of(ctx, c, "a", GGML_TYPE_F32),
                        bit(c, 0) ? GGML_SORT_ORDER_DESC : GGML_SORT_ORDER_ASC);
}

/* k or v [D, n_kv, heads, seqs]; as the KV cache's permuted view when
 * `permuted` */
static struct ggml_tensor *kv(struct ggml_context *ctx, const char *name, enum ggml_type type, int64_t d, int64_t n_kv,
                              int64_t heads, int64_t seqs, bool permuted)
{
    return permuted ? ggml_permute(ctx, leaf(ctx, name, type, d, heads, n_kv, seqs), 0, 2, 1, 3)
                    : leaf(ctx, name, type, d, n_kv, heads, seqs);
}

/* q [D, n_q, heads, seqs] F32; k, v of type[0] with dim[3] mod 3 + 1 q
 * heads per k head, D of v dim[4] unless variant bit 0; bit 1: k and v
 * permuted views; bit 2: a mask (bit 3: with more rows); bit 4: max_bias;
 * bit 5: logit softcap; bit 6: sinks; bit 7: F32 precision */
static struct ggml_tensor *build_flash_attn_ext(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type tkv = pick(c->type[0], TYPES_WEIGHT);
    const int64_t d = full_row(c, 0, tkv, GGML_TYPE_F32), dv = bit(c, 0) ? d : full_row(c, 4, tkv, tkv);
    const int64_t n_q = dim(c, 1), n_kv = dim(c, 5), kv_heads = nonzero(outer(c, 2)), seqs = nonzero(outer(c, 3));
    const int64_t heads = kv_heads * (1 + c->dim[3] % 3);
    struct ggml_tensor *q = leaf(ctx, "q", GGML_TYPE_F32, d, n_q, heads, seqs);
    struct ggml_tensor *k = kv(ctx, "k", tkv, d, n_kv, kv_heads, seqs, bit(c, 1));
    struct ggml_tensor *v = kv(ctx, "v", tkv, dv, n_kv, kv_heads, seqs, bit(c, 1));
    struct ggml_tensor *mask = bit(c, 2) ? leaf(ctx, "mask", GGML_TYPE_F16, n_kv, n_q + (bit(c, 3) ? 7 : 0), 1, 1)
                                         : NULL;
    const float scale = d > 0 ? 1.0f / (float)d : 1.0f;
    struct ggml_tensor *t = ggml_flash_attn_ext(ctx, q, k, v, mask, scale, mask && bit(c, 4) ? 8.0f : 0.0f,
                                                bit(c, 5) ? 30.0f : 0.0f);
    if (bit(c, 6)) {
        ggml_flash_attn_ext_add_sinks(t, leaf(ctx, "sinks", GGML_TYPE_F32, heads, 1, 1, 1));
    }
    if (bit(c, 7)) {
        ggml_prec_set_acc(t, GGML_PREC_F32);
    }
    return t;
}

/* type[0]: F16 or F32; variant mod the count: the unary op; type[1] bit
 * 0: src[0] rows of a wider tensor */
static struct ggml_tensor *build_unary(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_F16_F32);
    struct ggml_tensor *a = c->type[1] & 1 ? rows_with_gaps(ctx, type, dim(c, 0), dim(c, 1), outer(c, 2), outer(c, 3))
                                           : leaf_of(ctx, c, "a", type);
    return ggml_unary(ctx, a, (enum ggml_unary_op)(c->variant % GGML_UNARY_OP_COUNT));
}

/* type[0]: F16 or F32; variant mod the count: the gated op; type[1] bit 0:
 * the halves in two tensors (ggml_glu_split), bit 1: swapped */
static struct ggml_tensor *build_glu(struct ggml_context *ctx, const struct ops_choice *c)
{
    const enum ggml_type type = pick(c->type[0], TYPES_F16_F32);
    const enum ggml_glu_op op = (enum ggml_glu_op)(c->variant % GGML_GLU_OP_COUNT);
    const bool split = c->type[1] & 1;
    struct ggml_tensor *a = leaf(ctx, "a", type, dim(c, 0) * (split ? 1 : 2), dim(c, 1), outer(c, 2), outer(c, 3));
    if (split) {
        return ggml_glu_split(ctx, a, leaf(ctx, "b", type, a->ne[0], a->ne[1], a->ne[2], a->ne[3]), op);
    }
    return ggml_glu(ctx, a, op, (c->type[1] & 2) != 0);
}

#define BUILDER(NAME, name) { #NAME, GGML_OP_##NAME, build_##name }

const struct ops_builder ops_builders[] = {
    BUILDER(ADD, add),
    BUILDER(SUB, sub),
    BUILDER(MUL, mul),
    BUILDER(DIV, div),
    BUILDER(ADD_ID, add_id),
    BUILDER(SUM_ROWS, sum_rows),
    BUILDER(CONCAT, concat),
    BUILDER(NORM, norm),
    BUILDER(RMS_NORM, rms_norm),
    BUILDER(MUL_MAT, mul_mat),
    BUILDER(MUL_MAT_ID, mul_mat_id),
    BUILDER(SCALE, scale),
    BUILDER(CPY, cpy),
    BUILDER(DUP, dup),
    BUILDER(CONT, cont),
    BUILDER(RESHAPE, reshape),
    BUILDER(VIEW, view),
    BUILDER(PERMUTE, permute),
    BUILDER(TRANSPOSE, transpose),
    BUILDER(GET_ROWS, get_rows),
    BUILDER(SET_ROWS, set_rows),
    BUILDER(SOFT_MAX, soft_max),
    BUILDER(ROPE, rope),
    BUILDER(ARGSORT, argsort),
    BUILDER(FLASH_ATTN_EXT, flash_attn_ext),
    BUILDER(UNARY, unary),
    BUILDER(GLU, glu),
};

const size_t ops_builder_count = N_OF(ops_builders);

/* ---- building --------------------------------------------------------------- */

/* where a constructor's assert (ggml_abort) returns to */
static jmp_buf *constructor_escape;

static void constructor_aborted(const char *message)
{
    if (getenv("FUZZ_LOG") != NULL) {
        fprintf(stderr, "graph_ops: the constructor refused the recipe: %s\n", message);
    }
    longjmp(*constructor_escape, 1);
}

struct ggml_tensor *ops_build(struct ggml_context *ctx, const struct ops_choice *c)
{
    jmp_buf escape;
    struct ggml_tensor *volatile t = NULL;
    const ggml_abort_callback_t previous = ggml_set_abort_callback(constructor_aborted);
    constructor_escape = &escape;
    if (setjmp(escape) == 0) {
        t = ops_builders[c->op % ops_builder_count].build(ctx, c);
        /* as a guest's graph: its nodes flagged to be computed */
        ggml_build_forward_expand(ggml_new_graph_custom(ctx, OPS_MAX_NODES, false), t);
    }
    ggml_set_abort_callback(previous);
    constructor_escape = NULL;
    return t;
}
