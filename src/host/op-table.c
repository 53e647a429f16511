/* The ops the host runs: one table, indexed by enum ggml_op, used both to
 * validate every node of a graph the guest sends and to answer supports_op.
 *
 * ggml's backends trust their graphs: they assert (abort), divide by
 * extents, index with op_params, and index one tensor with another's shape.
 * A tensor the table accepts is one ggml's own constructor for its op could
 * have built: its sources present (and no others), their types, the shape
 * relations and result shape the constructor computes, the op_params it
 * sets within their ranges. Where the CPU backend (the reference, and the
 * one whose supports_op says yes to nearly everything) computes only some
 * types or layouts and aborts or reads past a row otherwise, the table
 * takes only those. Backend-specific limits beyond that are the device's
 * own supports_op, asked after the table. Ops whose op_params hold
 * pointers (CUSTOM, MAP_CUSTOM1/2/3) have no entry, so they are refused. */
#include <stdarg.h>
#include <string.h>

#include "ggml-backend.h"
#include "log.h"
#include "op-table.h"

/* ---- types -------------------------------------------------------------- */

/* a set of types is a bit mask over enum ggml_type */
_Static_assert(GGML_TYPE_COUNT <= 64, "a type set is 64 bits");
#define TYPE(t) (UINT64_C(1) << GGML_TYPE_##t)
#define TYPES_F32 TYPE(F32)
#define TYPES_F16 TYPE(F16)
#define TYPES_I32 TYPE(I32)
#define TYPES_F16_F32 (TYPE(F16) | TYPE(F32))
#define TYPES_FLOAT (TYPE(F32) | TYPE(F16) | TYPE(BF16))
#define TYPES_INDEX (TYPE(I32) | TYPE(I64))
/* quantized types that store weights: each has a dequantization and a CPU
 * dot product (Q8_1 and Q8_K are only the CPU's intermediate types) */
#define TYPES_QUANT                                                                                             \
    (TYPE(Q1_0) | TYPE(Q2_0) | TYPE(Q4_0) | TYPE(Q4_1) | TYPE(Q5_0) | TYPE(Q5_1) | TYPE(Q8_0) | TYPE(MXFP4) |     \
     TYPE(NVFP4) | TYPE(Q2_K) | TYPE(Q3_K) | TYPE(Q4_K) | TYPE(Q5_K) | TYPE(Q6_K) | TYPE(IQ2_XXS) | TYPE(IQ2_XS) | \
     TYPE(IQ3_XXS) | TYPE(IQ3_S) | TYPE(IQ2_S) | TYPE(IQ1_S) | TYPE(IQ1_M) | TYPE(IQ4_NL) | TYPE(IQ4_XS) |        \
     TYPE(TQ1_0) | TYPE(TQ2_0))
/* quantized types the CPU cannot quantize to (they need an importance matrix) */
#define TYPES_NEED_IMATRIX \
    (TYPE(IQ2_XXS) | TYPE(IQ2_XS) | TYPE(IQ3_XXS) | TYPE(IQ3_S) | TYPE(IQ2_S) | TYPE(IQ1_S) | TYPE(IQ1_M))
#define TYPES_WEIGHT (TYPES_FLOAT | TYPES_QUANT)
/* the types a float row can be converted to (the CPU's from_float) */
#define TYPES_FROM_FLOAT (TYPES_FLOAT | TYPES_I32 | (TYPES_QUANT & ~TYPES_NEED_IMATRIX))
#define TYPES_ANY ((UINT64_C(1) << GGML_TYPE_COUNT) - 1)

static bool type_in(enum ggml_type type, uint64_t types)
{
    return (types >> type) & 1;
}

/* ---- tensor facts ------------------------------------------------------- */

static int32_t param_i32(const struct ggml_tensor *t, int i)
{
    return t->op_params[i];
}

static float param_f32(const struct ggml_tensor *t, int i)
{
    float f;
    memcpy(&f, &t->op_params[i], sizeof f);
    return f;
}

static bool same_type_and_shape(const struct ggml_tensor *a, const struct ggml_tensor *b)
{
    return a->type == b->type && ggml_are_same_shape(a, b);
}

static bool has_shape(const struct ggml_tensor *t, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)
{
    return t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == ne2 && t->ne[3] == ne3;
}

/* the row stride of each element is its size: what row kernels assume */
static bool rows_contiguous(const struct ggml_tensor *t)
{
    return t->nb[0] == ggml_type_size(t->type);
}

/* a result the CPU writes with non-decreasing strides */
static bool not_permuted(const struct ggml_tensor *t)
{
    return t->nb[0] <= t->nb[1] && t->nb[1] <= t->nb[2] && t->nb[2] <= t->nb[3];
}

/* ggml_is_padded_1d (static in ggml.c): rows of contiguous elements, each
 * outer dimension right after the one below it. A kernel that walks
 * ggml_nrows rows by nb[1] alone (SCALE's) stays inside such a tensor;
 * ggml_is_contiguous says nothing of nb[1] when ne[1] is 1. */
static bool padded_1d(const struct ggml_tensor *t)
{
    return rows_contiguous(t) && t->nb[2] == t->nb[1] * (size_t)t->ne[1] && t->nb[3] == t->nb[2] * (size_t)t->ne[2];
}

/* Whether the `bytes` a kernel reads from t's first byte on lie in t's
 * buffer (the decoder placed t there). A tensor without a buffer is one of
 * supports_op's, which nothing reads. */
static bool reads_inside_buffer(const struct ggml_tensor *t, size_t bytes)
{
    if (t->buffer == NULL) {
        return true;
    }
    const uintptr_t base = (uintptr_t)ggml_backend_buffer_get_base(t->buffer), at = (uintptr_t)t->data;
    const size_t size = ggml_backend_buffer_get_size(t->buffer);
    return at >= base && at - base <= size && bytes <= size - (at - base);
}

static bool outer_dims_nonzero(const struct ggml_tensor *t)
{
    return t->ne[2] != 0 && t->ne[3] != 0;
}

/* the most elements a tensor may have: with element sizes of at most 8
 * bytes its byte counts fit size_t (a wire tensor with strides of zero can
 * claim 2^128 elements in a few bytes) */
#define MAX_ELEMENTS ((uint64_t)1 << 56)

/* ggml-cpu's kernels count a row's elements and a tensor's rows in an int */
static bool int_sized(const struct ggml_tensor *t)
{
    return t->ne[0] <= INT32_MAX && t->ne[1] <= INT32_MAX && t->ne[2] <= INT32_MAX && t->ne[3] <= INT32_MAX &&
           t->ne[1] * t->ne[2] * t->ne[3] <= INT32_MAX; /* countable: no overflow */
}

/* t's extents, with those of zero counted as one, multiply to at most
 * MAX_ELEMENTS: no product of them overflows */
static bool countable(const struct ggml_tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        const uint64_t ne = t->ne[i] > 0 ? (uint64_t)t->ne[i] : 1;
        if (n > MAX_ELEMENTS / ne) {
            return false;
        }
        n *= ne;
    }
    return true;
}

/* ---- checks shared by several ops ---------------------------------------- */

/* ggml_dup_tensor (or ggml_view_tensor, for the inplace variants) of src[0] */
static const char *result_like_src0(const struct ggml_tensor *t)
{
    return same_type_and_shape(t, t->src[0]) ? NULL : "the result does not have src[0]'s type and shape";
}

/* src[0] and the result: same type and shape, rows of contiguous elements */
static const char *row_op_layout(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    if (why == NULL && (!rows_contiguous(t->src[0]) || !rows_contiguous(t))) {
        why = "the rows of src[0] and of the result must be contiguous";
    }
    return why;
}

/* what ggml_compute_forward_dup computes from type `src` to `dst`, and the
 * layouts its paths need */
static const char *conversion_refusal(const struct ggml_tensor *src, const struct ggml_tensor *dst)
{
    if (type_in(src->type, TYPES_FLOAT)) {
        if (type_in(dst->type, TYPES_FLOAT) || (src->type == GGML_TYPE_F32 && dst->type == GGML_TYPE_I32)) {
            return NULL;
        }
        /* F16 or BF16 to I32 would take the quantizing path, whose work
         * memory ggml_graph_plan does not reserve for it */
        if (!type_in(dst->type, TYPES_QUANT & TYPES_FROM_FLOAT)) {
            return "there is no conversion from src[0]'s type to the result's";
        }
        const bool whole_blocks = src->ne[0] % ggml_blck_size(dst->type) == 0;
        /* each thread quantizes a source row in work memory sized by the
         * result's rows (ggml_graph_plan), so no source row is longer */
        return ggml_is_contiguous(dst) && rows_contiguous(src) && whole_blocks && src->ne[0] <= dst->ne[0]
                   ? NULL
                   : "quantizing needs a contiguous result, and contiguous source rows of whole blocks no longer "
                     "than the result's";
    }
    if (src->type == GGML_TYPE_I32) {
        return dst->type == GGML_TYPE_F32 ? NULL : "I32 converts only to F32";
    }
    if (type_in(src->type, TYPES_QUANT) && dst->type == GGML_TYPE_F32) {
        const bool whole_blocks = dst->ne[0] % ggml_blck_size(src->type) == 0;
        return rows_contiguous(dst) && (whole_blocks || ggml_is_contiguous(dst))
                   ? NULL
                   : "dequantizing needs result rows of whole blocks, or a contiguous result";
    }
    return "there is no conversion from src[0]'s type to the result's";
}

/* a copy of src into dst (DUP, CONT, CPY) */
static const char *copy_refusal(const struct ggml_tensor *src, const struct ggml_tensor *dst)
{
    if (ggml_nelements(src) != ggml_nelements(dst)) {
        return "src[0] and the result differ in element count";
    }
    if (ggml_nelements(dst) == 0) {
        return ggml_is_contiguous(src) && ggml_is_contiguous(dst) ? NULL
                                                                  : "an empty copy must be between contiguous tensors";
    }
    if (src->type != dst->type) {
        return conversion_refusal(src, dst);
    }
    /* ggml-cuda copies a source laid out as a transposed matrix (rows of
     * stride one element, ne[3] of 1) by tiles into a dense result */
    const size_t es = ggml_element_size(src);
    const bool transposed = src->nb[1] == es && src->ne[3] == 1 && src->nb[2] == (size_t)(src->ne[0] * src->ne[1]) * es;
    if (transposed && !ggml_is_contiguous(src) && !ggml_is_contiguous(dst)) {
        return "a copy from a transposed source needs a contiguous result";
    }
    /* into a contiguous result, the CPU copies the rows of a strided source
     * of another shape as if each element were a block, past the rows */
    if (ggml_blck_size(src->type) > 1 && !ggml_are_same_shape(src, dst) && ggml_is_contiguous(dst) &&
        !ggml_is_contiguous(src)) {
        return "a quantized copy from a strided source into a contiguous result of another shape";
    }
    return NULL;
}

/* k·q in attention and mul_mat: ggml_can_mul_mat, whose broadcast divides
 * by t0's outer extents */
static bool can_mul_mat(const struct ggml_tensor *t0, const struct ggml_tensor *t1)
{
    return outer_dims_nonzero(t0) && t0->ne[0] == t1->ne[0] && t1->ne[2] % t0->ne[2] == 0 &&
           t1->ne[3] % t0->ne[3] == 0;
}

/* a matrix product's operands and result as ggml_compute_forward_mul_mat
 * and its _id variant need them */
static const char *mul_mat_layout(const struct ggml_tensor *t)
{
    if (ggml_is_transposed(t->src[0])) {
        return "src[0] is transposed";
    }
    if (!rows_contiguous(t->src[0]) || !rows_contiguous(t->src[1])) {
        return "the rows of src[0] and src[1] must be contiguous";
    }
    return rows_contiguous(t) && not_permuted(t) ? NULL : "the result must have contiguous rows and not be permuted";
}

/* ggml-cpu's matrix products count their chunks (rows by columns, of
 * at least 16) in an int */
static bool chunks_countable(int64_t rows, int64_t cols)
{
    const int64_t chunk = rows == 1 || cols == 1 ? 64 : 16;
    return ((rows + chunk - 1) / chunk) * ((cols + chunk - 1) / chunk) <= INT32_MAX; /* each below 2^31 */
}

static bool valid_prec(int32_t prec)
{
    return prec == GGML_PREC_DEFAULT || prec == GGML_PREC_F32 || prec == GGML_PREC_BF16 || prec == GGML_PREC_F16;
}

/* ---- one check per op ---------------------------------------------------- */

/* ggml_add_impl, ggml_sub_impl, ggml_mul_impl, ggml_div_impl: src[1]
 * repeats into src[0]; types as the CPU's binary_op computes them (the
 * F32 results of F16/BF16 rows are ggml_add_cast's) */
static const char *check_binary(const struct ggml_tensor *t)
{
    static const enum ggml_type combos[][3] = {
        { GGML_TYPE_F32, GGML_TYPE_F32, GGML_TYPE_F32 },    { GGML_TYPE_F16, GGML_TYPE_F16, GGML_TYPE_F16 },
        { GGML_TYPE_BF16, GGML_TYPE_BF16, GGML_TYPE_BF16 }, { GGML_TYPE_BF16, GGML_TYPE_F32, GGML_TYPE_BF16 },
        { GGML_TYPE_BF16, GGML_TYPE_F32, GGML_TYPE_F32 },   { GGML_TYPE_F16, GGML_TYPE_F32, GGML_TYPE_F16 },
        { GGML_TYPE_F16, GGML_TYPE_F32, GGML_TYPE_F32 },
    };
    const struct ggml_tensor *a = t->src[0], *b = t->src[1];
    if (!ggml_can_repeat(b, a)) {
        return "src[1] cannot be broadcast to src[0] (ggml_can_repeat)";
    }
    if (!ggml_are_same_shape(t, a)) {
        return "the result does not have src[0]'s shape";
    }
    bool typed = false;
    for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
        typed = typed || (a->type == combos[i][0] && b->type == combos[i][1] && t->type == combos[i][2]);
    }
    if (!typed) {
        return "no binary op computes these source and result types";
    }
    return rows_contiguous(a) && rows_contiguous(t) ? NULL : "the rows of src[0] and of the result must be contiguous";
}

/* ggml_add_id: rows of src[1] chosen by src[2] added to src[0]'s rows */
static const char *check_add_id(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1], *ids = t->src[2];
    if (a->ne[0] != b->ne[0] || a->ne[1] != ids->ne[0] || a->ne[2] != ids->ne[1]) {
        return "src[0], src[1] and the ids in src[2] do not match";
    }
    const char *why = row_op_layout(t);
    return why != NULL || rows_contiguous(b) ? why : "the rows of src[1] must be contiguous";
}

/* ggml_dup_impl */
static const char *check_dup(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    return why != NULL ? why : copy_refusal(t->src[0], t);
}

/* ggml_cont_4d: a new contiguous tensor of src[0]'s type and elements */
static const char *check_cont(const struct ggml_tensor *t)
{
    if (t->type != t->src[0]->type || !ggml_is_contiguous(t)) {
        return "the result must be contiguous and of src[0]'s type";
    }
    return copy_refusal(t->src[0], t);
}

/* ggml_cpy (ggml_cast too, whose src[1] is the result itself): the result
 * is a view of src[1], its bytes and layout (the CPU's dequantizing copy
 * writes the result by src[1]'s strides, CUDA's writes src[1]) */
static const char *check_cpy(const struct ggml_tensor *t)
{
    const struct ggml_tensor *b = t->src[1];
    if (!same_type_and_shape(t, b) || t->data != b->data || memcmp(t->nb, b->nb, sizeof t->nb) != 0) {
        return "the result is not src[1] itself (its type, shape, strides and bytes)";
    }
    return copy_refusal(t->src[0], t);
}

/* ggml_sum_rows: one sum per row */
static const char *check_sum_rows(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    if (t->type != a->type || !has_shape(t, 1, a->ne[1], a->ne[2], a->ne[3])) {
        return "the result is not one sum per row of src[0]";
    }
    return rows_contiguous(a) && rows_contiguous(t) ? NULL : "the rows of src[0] and of the result must be contiguous";
}

/* ggml_concat: along dimension op_params[0], the other extents equal */
static const char *check_concat(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1];
    const int32_t dim = param_i32(t, 0);
    if (dim < 0 || dim >= GGML_MAX_DIMS) {
        return "the dimension (op_params[0]) is not 0 to 3";
    }
    if (a->type != b->type || t->type != a->type) {
        return "src[0], src[1] and the result differ in type";
    }
    for (int d = 0; d < GGML_MAX_DIMS; d++) {
        const int64_t ne = d == dim ? a->ne[d] + b->ne[d] : a->ne[d];
        if ((d != dim && a->ne[d] != b->ne[d]) || t->ne[d] != ne) {
            return "the extents of src[0], src[1] and the result do not match the concatenation";
        }
    }
    return rows_contiguous(a) && rows_contiguous(b) && rows_contiguous(t) ? NULL : "the rows must be contiguous";
}

/* eps (op_params[0]) of the norms: not negative */
static const char *eps_refusal(const struct ggml_tensor *t)
{
    return param_f32(t, 0) >= 0.0f ? NULL : "eps (op_params[0]) is negative or not a number";
}

/* ggml_norm_impl: the CPU's norm follows any strides */
static const char *check_norm(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    return why != NULL ? why : eps_refusal(t);
}

/* ggml_rms_norm_impl */
static const char *check_rms_norm(const struct ggml_tensor *t)
{
    const char *why = row_op_layout(t);
    return why != NULL ? why : eps_refusal(t);
}

/* ggml_mul_mat; op_params: the precision of the result and of src[1], and
 * a hint the host does not take */
static const char *check_mul_mat(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1];
    if (!can_mul_mat(a, b)) {
        return "src[0] cannot multiply src[1] (ggml_can_mul_mat; src[0]'s ne2 and ne3 must be non-zero)";
    }
    if (!has_shape(t, a->ne[1], b->ne[1], b->ne[2], b->ne[3])) {
        return "the result's shape is not (src[0] ne1, src[1] ne1, ne2, ne3)";
    }
    if (!chunks_countable(t->ne[0], t->ne[1] * t->ne[2] * t->ne[3])) {
        return "the product has more chunks than the CPU counts";
    }
    if (!valid_prec(param_i32(t, 0)) || param_i32(t, 1) != GGML_HINT_NONE || !valid_prec(param_i32(t, 3))) {
        return "unknown precision or hint in op_params";
    }
    return mul_mat_layout(t);
}

/* the most experts a MUL_MAT_ID takes (real models have up to 512) */
#define MAX_EXPERTS 65536

/* ggml_mul_mat_id: experts src[0] chosen per row of src[1] by the ids src[2] */
static const char *check_mul_mat_id(const struct ggml_tensor *t)
{
    const struct ggml_tensor *as = t->src[0], *b = t->src[1], *ids = t->src[2];
    if (as->ne[3] != 1 || b->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1) {
        return "src[0] and src[1] must be 3d, the ids 2d";
    }
    if (as->ne[0] != b->ne[0] || ids->ne[1] != b->ne[2] || b->ne[1] == 0 || ids->ne[0] % b->ne[1] != 0) {
        return "the experts, src[1] and the ids do not match";
    }
    if (!has_shape(t, as->ne[1], ids->ne[0], b->ne[2], 1)) {
        return "the result's shape is not (src[0] ne1, ids ne0, src[1] ne2, 1)";
    }
    /* ggml-cpu keeps, in its work memory, a row map of each expert for
     * every chosen row */
    const int64_t chosen = ids->ne[0] * ids->ne[1];
    if (as->ne[2] > MAX_EXPERTS || chosen > ((int64_t)1 << 40) / as->ne[2] || !chunks_countable(as->ne[1], chosen)) {
        return "more experts (over 65536), or experts times chosen rows, than the CPU maps";
    }
    if (!valid_prec(param_i32(t, 0)) || !valid_prec(param_i32(t, 3))) {
        return "unknown precision in op_params";
    }
    return mul_mat_layout(t);
}

/* ggml_scale_impl: the CPU scales ggml_nrows rows at i1 * nb[1] */
static const char *check_scale(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    return why != NULL || (padded_1d(t->src[0]) && padded_1d(t)) ? why : "src[0] and the result must be contiguous";
}

/* ggml_reshape*: a contiguous src[0] seen with another shape */
static const char *check_reshape(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    if (t->type != a->type || ggml_nelements(t) != ggml_nelements(a)) {
        return "the result does not have src[0]'s type and element count";
    }
    return ggml_is_contiguous(a) && ggml_is_contiguous(t) ? NULL : "src[0] and the result must be contiguous";
}

/* ggml_view_impl: src[0]'s type; where it lies is the view check of every
 * tensor with a view source */
static const char *check_view(const struct ggml_tensor *t)
{
    return t->type == t->src[0]->type ? NULL : "the result does not have src[0]'s type";
}

/* ggml_permute: distinct axes (op_params[0..3]); dimension i of src[0] is
 * dimension axis[i] of the result */
static const char *check_permute(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    unsigned seen = 0;
    for (int i = 0; i < GGML_MAX_DIMS; i++) {
        const int32_t axis = param_i32(t, i);
        if (axis < 0 || axis >= GGML_MAX_DIMS || (seen & (1u << axis)) != 0) {
            return "the axes (op_params[0..3]) are not a permutation of 0 to 3";
        }
        seen |= 1u << axis;
        if (t->ne[axis] != a->ne[i] || t->nb[axis] != a->nb[i]) {
            return "the result is not src[0] permuted by the axes";
        }
    }
    return t->type == a->type ? NULL : "the result does not have src[0]'s type";
}

/* ggml_transpose: dimensions 0 and 1 swapped */
static const char *check_transpose(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    const bool swapped = t->ne[0] == a->ne[1] && t->ne[1] == a->ne[0] && t->nb[0] == a->nb[1] &&
                         t->nb[1] == a->nb[0] && t->ne[2] == a->ne[2] && t->ne[3] == a->ne[3] &&
                         t->nb[2] == a->nb[2] && t->nb[3] == a->nb[3];
    return swapped && t->type == a->type ? NULL : "the result is not src[0] transposed";
}

/* ggml_get_rows: rows of src[0] picked by the I32 indices src[1] */
static const char *check_get_rows(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1];
    if (a->ne[2] != b->ne[1] || a->ne[3] != b->ne[2] || b->ne[3] != 1) {
        return "the indices src[1] do not match src[0]'s outer dimensions";
    }
    if (t->type != (a->type == GGML_TYPE_I32 ? GGML_TYPE_I32 : GGML_TYPE_F32)) {
        return "the result is not F32 (I32 for I32 rows)";
    }
    if (!has_shape(t, a->ne[0], b->ne[0], b->ne[1], b->ne[2])) {
        return "the result's shape is not (src[0] ne0, src[1] ne0, ne1, ne2): one whole row per index";
    }
    return rows_contiguous(a) && rows_contiguous(t) ? NULL : "the rows of src[0] and of the result must be contiguous";
}

/* ggml_set_rows: rows of src[0] written into a view of src[2] at the
 * indices src[1] */
static const char *check_set_rows(const struct ggml_tensor *t)
{
    const struct ggml_tensor *b = t->src[0], *c = t->src[1], *a = t->src[2];
    if (!same_type_and_shape(t, a)) {
        return "the result does not have src[2]'s type and shape";
    }
    if (a->ne[0] != b->ne[0] || a->ne[2] != b->ne[2] || a->ne[3] != b->ne[3]) {
        return "src[0]'s rows do not fit src[2]";
    }
    if (b->ne[1] != c->ne[0] || c->ne[1] == 0 || c->ne[2] == 0 || b->ne[2] % c->ne[1] != 0 ||
        b->ne[3] % c->ne[2] != 0 || c->ne[3] != 1) {
        return "the indices src[1] do not match src[0]";
    }
    /* F16 rows into another type go through work memory that
     * ggml_graph_plan sizes for one thread, while every thread runs it */
    if (b->type == GGML_TYPE_F16 && t->type != GGML_TYPE_F16) {
        return "F16 rows convert only into F16";
    }
    return rows_contiguous(a) && rows_contiguous(b) && rows_contiguous(t) ? NULL : "the rows must be contiguous";
}

/* ggml_soft_max_impl, with ggml_soft_max_add_sinks: an optional mask
 * src[1] (broadcast over heads and sequences) and sinks src[2] */
static const char *check_soft_max(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *mask = t->src[1], *sinks = t->src[2];
    const char *why = result_like_src0(t);
    if (why != NULL) {
        return why;
    }
    if (!ggml_is_contiguous(a) || !ggml_is_contiguous(t)) {
        return "src[0] and the result must be contiguous";
    }
    if (mask != NULL && (!ggml_is_contiguous(mask) || mask->ne[0] != a->ne[0] || mask->ne[1] < a->ne[1] ||
                         !outer_dims_nonzero(mask) || a->ne[2] % mask->ne[2] != 0 || a->ne[3] % mask->ne[3] != 0)) {
        return "the mask src[1] does not cover src[0]";
    }
    if (param_f32(t, 1) > 0.0f && mask == NULL) {
        return "max_bias (op_params[1]) needs a mask";
    }
    return sinks == NULL || sinks->ne[0] == a->ne[2] ? NULL : "the sinks src[2] are not one per head";
}

/* ROPE's mode (op_params[2]): the ones the CPU computes */
static bool valid_rope_mode(int32_t mode)
{
    return mode == GGML_ROPE_TYPE_NORMAL || mode == GGML_ROPE_TYPE_NEOX || mode == GGML_ROPE_TYPE_MROPE ||
           mode == GGML_ROPE_TYPE_VISION || mode == GGML_ROPE_TYPE_IMROPE;
}

/* multi-rope sections (op_params[11..14]): none negative, some dimension
 * in one of the first three (the CPU asserts it), no more than ne0 in all
 * (it divides by their sum) */
static bool valid_rope_sections(const struct ggml_tensor *t)
{
    int64_t sum = 0;
    for (int i = 0; i < GGML_MROPE_SECTIONS; i++) {
        const int32_t section = param_i32(t, 11 + i);
        if (section < 0) {
            return false;
        }
        sum += section;
    }
    return sum - param_i32(t, 11 + GGML_MROPE_SECTIONS - 1) > 0 && sum <= t->ne[0];
}

/* the rotated dimensions: n_dims (op_params[1]) from n_offs (op_params[15]),
 * both even, within ne0 (itself even: pairs are rotated) */
static const char *rope_dims_refusal(const struct ggml_tensor *t)
{
    const int64_t ne0 = t->ne[0];
    const int64_t n_dims = param_i32(t, 1), n_offs = param_i32(t, 15);
    if (ne0 % 2 != 0 || n_dims <= 0 || n_dims % 2 != 0 || n_offs < 0 || n_offs % 2 != 0 || n_offs + n_dims > ne0) {
        return "n_dims (op_params[1]) and n_offs (op_params[15]) are not even and within ne0 (itself even)";
    }
    if (param_i32(t, 2) == GGML_ROPE_TYPE_VISION && (n_dims != ne0 / 2 || n_offs != 0)) {
        return "vision rope rotates half of ne0 from 0";
    }
    return NULL;
}

/* Frequency factors: those the rotation uses (n_dims / 2, all of them for
 * vision), while ggml-cpu's cache reads ne0 / 2 in every mode (floats one
 * after the other). Those past the tensor go unused (but for vision): the
 * guest's own buffer must hold them, as a real model's partial rotation
 * with LongRoPE factors has it. */
static const char *rope_factors_refusal(const struct ggml_tensor *t, const struct ggml_tensor *freq)
{
    const int64_t n_dims = param_i32(t, 1);
    if (freq->ne[0] < (param_i32(t, 2) == GGML_ROPE_TYPE_VISION ? n_dims : n_dims / 2) || !rows_contiguous(freq)) {
        return "fewer frequency factors than the rotation uses, or not one after the other";
    }
    return reads_inside_buffer(freq, sizeof(float) * (size_t)(t->ne[0] / 2))
               ? NULL
               : "the kernel reads ne0 / 2 frequency factors, past the end of their buffer";
}

/* ggml_rope_impl (rope_ext, rope_multi, rope_set_offset): positions src[1],
 * one per src[0] ne2 (four with multi-rope), optional frequency factors
 * src[2] */
static const char *check_rope(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *pos = t->src[1], *freq = t->src[2];
    const int32_t mode = param_i32(t, 2);
    const char *why = row_op_layout(t);
    if (why != NULL) {
        return why;
    }
    if (!valid_rope_mode(mode)) {
        return "unknown mode (op_params[2])";
    }
    if ((why = rope_dims_refusal(t)) != NULL) {
        return why;
    }
    const bool multi = (mode & GGML_ROPE_TYPE_MROPE) != 0;
    if (multi && !valid_rope_sections(t)) {
        return "invalid sections (op_params[11..14])";
    }
    if (!ggml_is_vector(pos) || pos->ne[0] != a->ne[2] * (multi ? 4 : 1)) {
        return "the positions src[1] are not one vector entry per src[0] ne2 (four with multi-rope)";
    }
    return freq == NULL ? NULL : rope_factors_refusal(t, freq);
}

/* ggml_argsort: I32 indices sorting each row, ascending or descending */
static const char *check_argsort(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    const int32_t order = param_i32(t, 0);
    if (order != GGML_SORT_ORDER_ASC && order != GGML_SORT_ORDER_DESC) {
        return "unknown sort order (op_params[0])";
    }
    if (!ggml_are_same_shape(t, a) || a->ne[0] > INT32_MAX) {
        return "the result does not have src[0]'s shape, or rows are longer than INT32_MAX";
    }
    return ggml_is_contiguous(a) && ggml_is_contiguous(t) ? NULL : "src[0] and the result must be contiguous";
}

/* the optional mask of attention: F16 rows covering k's n_kv and q's rows,
 * broadcast over heads and sequences */
static const char *attention_mask_refusal(const struct ggml_tensor *t)
{
    const struct ggml_tensor *q = t->src[0], *k = t->src[1], *mask = t->src[3];
    if (mask == NULL) {
        return param_f32(t, 1) > 0.0f ? "max_bias (op_params[1]) needs a mask" : NULL;
    }
    if (!ggml_is_contiguous(mask) || mask->ne[0] < k->ne[1] || mask->ne[1] < q->ne[1] || !outer_dims_nonzero(mask) ||
        q->ne[2] % mask->ne[2] != 0 || q->ne[3] % mask->ne[3] != 0) {
        return "the mask src[3] does not cover the attention";
    }
    return NULL;
}

/* ggml_flash_attn_ext, with ggml_flash_attn_ext_add_sinks: q, k, v
 * (heads of k and v dividing q's), an optional mask and sinks */
static const char *check_flash_attn_ext(const struct ggml_tensor *t)
{
    const struct ggml_tensor *q = t->src[0], *k = t->src[1], *v = t->src[2], *sinks = t->src[4];
    if (!outer_dims_nonzero(v) || !can_mul_mat(k, q) || q->ne[3] != k->ne[3] || q->ne[3] != v->ne[3]) {
        return "k cannot multiply q (ggml_can_mul_mat, with non-zero heads and sequences)";
    }
    if (v->ne[1] != k->ne[1] || q->ne[2] % v->ne[2] != 0) {
        return "v does not have k's n_kv, or its heads do not divide q's";
    }
    const char *why = attention_mask_refusal(t);
    if (why != NULL) {
        return why;
    }
    if (sinks != NULL && sinks->ne[0] != q->ne[2]) {
        return "the sinks src[4] are not one per head";
    }
    if (!has_shape(t, v->ne[0], q->ne[2], q->ne[1], q->ne[3])) {
        return "the result's shape is not (v ne0, q ne2, q ne1, q ne3)";
    }
    const int32_t prec = param_i32(t, 3);
    if ((prec != GGML_PREC_DEFAULT && prec != GGML_PREC_F32) || param_i32(t, 4) < 0) {
        return "unknown precision (op_params[3]) or a negative n_kv_max (op_params[4])";
    }
    if (!rows_contiguous(q) || !rows_contiguous(k) || !rows_contiguous(v)) {
        return "the rows of q, k and v must be contiguous";
    }
    /* the CPU writes each result row as nb[1] bytes from its work memory,
     * then the next at nb[1] on, whatever ne[1] (ggml_is_contiguous would
     * ignore the strides of dimensions of one) */
    const bool packed = rows_contiguous(t) && t->nb[1] == t->nb[0] * (size_t)t->ne[0] &&
                        t->nb[2] >= t->nb[1] * (size_t)t->ne[1] && t->nb[3] >= t->nb[2] * (size_t)t->ne[2];
    return packed ? NULL : "the result's rows must be packed, one after the other";
}

/* ggml_unary_impl: the unary op is op_params[0]; the CPU's xielu takes
 * src[0] and the result contiguous but for dimension 1 */
static const char *check_unary(const struct ggml_tensor *t)
{
    const int32_t op = param_i32(t, 0);
    if (op < 0 || op >= GGML_UNARY_OP_COUNT) {
        return "unknown unary op (op_params[0])";
    }
    const char *why = row_op_layout(t);
    if (why == NULL && op == GGML_UNARY_OP_XIELU && !(ggml_is_contiguous_1(t->src[0]) && ggml_is_contiguous_1(t))) {
        why = "xielu needs src[0] and the result contiguous but for dimension 1";
    }
    return why;
}

/* ggml_glu_impl: the gated op is op_params[0], swapped halves op_params[1];
 * without src[1], src[0]'s rows hold both halves */
static const char *check_glu(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1];
    const int32_t op = param_i32(t, 0), swapped = param_i32(t, 1);
    if (op < 0 || op >= GGML_GLU_OP_COUNT || (swapped != 0 && swapped != 1)) {
        return "unknown gated op (op_params[0]) or swap flag (op_params[1])";
    }
    if (op == GGML_GLU_OP_SWIGLU_OAI && a->type != GGML_TYPE_F32) {
        return "swiglu_oai takes F32 only";
    }
    /* their limit is std::clamp's upper bound: below the lower, undefined */
    if ((op == GGML_GLU_OP_SWIGLU_OAI || op == GGML_GLU_OP_SWIGLU_CLAMP) && !(param_f32(t, 3) >= 0.0f)) {
        return "the limit (op_params[3]) is negative or not a number";
    }
    if (b != NULL && !same_type_and_shape(a, b)) {
        return "src[1] does not have src[0]'s type and shape";
    }
    if (t->type != a->type || !has_shape(t, b != NULL ? a->ne[0] : a->ne[0] / 2, a->ne[1], a->ne[2], a->ne[3])) {
        return "the result does not have src[0]'s type and shape (half its rows without src[1])";
    }
    const bool contiguous = ggml_is_contiguous_1(a) && ggml_is_contiguous_1(t) && (b == NULL || ggml_is_contiguous_1(b));
    return contiguous ? NULL : "the sources and the result must be contiguous but for dimension 1";
}

/* ---- the table ----------------------------------------------------------- */

/* the most sources an accepted op takes (FLASH_ATTN_EXT) */
#define OP_MAX_SRC 5
#define SRC(i) (1u << (i))

struct op_rule {
    int n_src;                        /* the sources it may have: src[0 .. n_src) */
    unsigned required;                /* SRC(i): src[i] must be present */
    bool view;                        /* a view of view_src, which must be present */
    uint64_t dst_types;               /* allowed types of the result */
    uint64_t src_types[OP_MAX_SRC];   /* allowed types of each source present */
    bool dense_result;                /* the result must be contiguous: ggml-cuda's kernel writes it by
                                       * its shape (or a fused chain's first node's strides), not its own */
    const char *(*check)(const struct ggml_tensor *t); /* the rest; NULL when fine, else what is wrong */
};

#define BINARY_RULE                                                                                           \
    {                                                                                                         \
        .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_FLOAT,                                    \
        .src_types = { TYPES_FLOAT, TYPES_FLOAT }, .dense_result = true, .check = check_binary                \
    }

static const struct op_rule op_rules[GGML_OP_COUNT] = {
    /* a leaf: a tensor the graph reads */
    [GGML_OP_NONE] = { .n_src = 0, .dst_types = TYPES_ANY },
    [GGML_OP_DUP] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_ANY, .src_types = { TYPES_ANY },
                      .check = check_dup },
    [GGML_OP_ADD] = BINARY_RULE,
    [GGML_OP_ADD_ID] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                         .src_types = { TYPES_F32, TYPES_F32, TYPES_I32 }, .dense_result = true, .check = check_add_id },
    [GGML_OP_SUB] = BINARY_RULE,
    [GGML_OP_MUL] = BINARY_RULE,
    [GGML_OP_DIV] = BINARY_RULE,
    [GGML_OP_SUM_ROWS] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                           .dense_result = true, .check = check_sum_rows },
    [GGML_OP_CONCAT] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_ANY,
                         .src_types = { TYPES_ANY, TYPES_ANY }, .dense_result = true, .check = check_concat },
    [GGML_OP_NORM] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                       .dense_result = true, .check = check_norm },
    [GGML_OP_RMS_NORM] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                           .dense_result = true, .check = check_rms_norm },
    [GGML_OP_MUL_MAT] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_F32,
                          .src_types = { TYPES_WEIGHT, TYPES_FLOAT },
                          .check = check_mul_mat },
    [GGML_OP_MUL_MAT_ID] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                             .src_types = { TYPES_WEIGHT, TYPES_F32, TYPES_I32 }, .check = check_mul_mat_id },
    [GGML_OP_SCALE] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                        .check = check_scale },
    [GGML_OP_CPY] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_ANY,
                      .src_types = { TYPES_ANY, TYPES_ANY }, .check = check_cpy },
    [GGML_OP_CONT] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_ANY, .src_types = { TYPES_ANY },
                       .check = check_cont },
    [GGML_OP_RESHAPE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                          .src_types = { TYPES_ANY }, .check = check_reshape },
    [GGML_OP_VIEW] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                       .src_types = { TYPES_ANY }, .check = check_view },
    [GGML_OP_PERMUTE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                          .src_types = { TYPES_ANY }, .check = check_permute },
    [GGML_OP_TRANSPOSE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                            .src_types = { TYPES_ANY }, .check = check_transpose },
    [GGML_OP_GET_ROWS] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_F32 | TYPES_I32,
                           .src_types = { TYPES_WEIGHT | TYPES_I32, TYPES_I32 }, .check = check_get_rows },
    [GGML_OP_SET_ROWS] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_FROM_FLOAT,
                           .src_types = { TYPES_F16_F32, TYPES_INDEX, TYPES_FROM_FLOAT }, .check = check_set_rows },
    [GGML_OP_SOFT_MAX] = { .n_src = 3, .required = SRC(0), .dst_types = TYPES_F32,
                           .src_types = { TYPES_F32, TYPES_F16_F32, TYPES_F32 }, .check = check_soft_max },
    [GGML_OP_ROPE] = { .n_src = 3, .required = SRC(0) | SRC(1), .dst_types = TYPES_F16_F32,
                       .src_types = { TYPES_F16_F32, TYPES_I32, TYPES_F32 }, .check = check_rope },
    [GGML_OP_ARGSORT] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_I32, .src_types = { TYPES_F32 },
                          .check = check_argsort },
    [GGML_OP_FLASH_ATTN_EXT] = { .n_src = 5, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                                 .src_types = { TYPES_F32, TYPES_WEIGHT, TYPES_WEIGHT, TYPES_F16, TYPES_F32 },
                                 .check = check_flash_attn_ext },
    [GGML_OP_UNARY] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F16_F32, .src_types = { TYPES_F16_F32 },
                        .dense_result = true, .check = check_unary },
    [GGML_OP_GLU] = { .n_src = 2, .required = SRC(0), .dst_types = TYPES_F16_F32,
                      .src_types = { TYPES_F16_F32, TYPES_F16_F32 }, .dense_result = true, .check = check_glu },
};

/* ---- applying the table -------------------------------------------------- */

/* ggml_new_tensor_impl: a view's bytes lie within its view source's */
static const char *view_refusal(const struct ggml_tensor *t)
{
    if (!countable(t->view_src)) {
        return "the view source has too many elements";
    }
    const size_t size = ggml_row_size(t->type, t->ne[0]) * (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    const size_t src_size = ggml_nbytes(t->view_src);
    return size == 0 || (size <= src_size && t->view_offs <= src_size - size)
               ? NULL
               : "the view reaches past its view source";
}

/* the sources the rule says: present where required, absent beyond n_src,
 * of the allowed types */
static const char *sources_refusal(const struct op_rule *rule, const struct ggml_tensor *t, char *buf, size_t size)
{
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        const struct ggml_tensor *src = t->src[i];
        if (src == NULL && (rule->required & SRC(i)) != 0) {
            snprintf(buf, size, "src[%d] is missing", i);
        } else if (src != NULL && i >= rule->n_src) {
            snprintf(buf, size, "src[%d] is not a source of the op", i);
        } else if (src != NULL && !type_in(src->type, rule->src_types[i])) {
            snprintf(buf, size, "src[%d] has type %s, which the op does not take", i, ggml_type_name(src->type));
        } else if (src != NULL && (!countable(src) || !int_sized(src))) {
            snprintf(buf, size, "src[%d] has too many elements (or over 2^31 in a row, or rows)", i);
        } else if (src != NULL && ggml_is_empty(src) && !ggml_is_empty(t)) {
            /* an empty tensor's bytes are never placed, while a kernel
             * indexes it by the other operands' shapes */
            snprintf(buf, size, "src[%d] is empty while the result is not", i);
        } else {
            continue;
        }
        return buf;
    }
    return NULL;
}

/* what is wrong with t by the table, or NULL; buf holds formatted reasons */
static const char *refusal(const struct ggml_tensor *t, char *buf, size_t size)
{
    /* an op without an entry has no result types */
    const struct op_rule *rule = &op_rules[t->op];
    if (rule->dst_types == 0) {
        return "the host does not run this op";
    }
    const char *why = sources_refusal(rule, t, buf, size);
    if (why != NULL) {
        return why;
    }
    if (!type_in(t->type, rule->dst_types)) {
        snprintf(buf, size, "the result has type %s, which the op does not give", ggml_type_name(t->type));
        return buf;
    }
    if (!countable(t) || !int_sized(t)) {
        return "the result has too many elements (or over 2^31 in a row, or rows)";
    }
    if (rule->view && t->view_src == NULL) {
        return "a view op without a view source";
    }
    if (rule->dense_result && !ggml_is_contiguous(t)) {
        return "the result must be contiguous";
    }
    if (t->view_src != NULL && (why = view_refusal(t)) != NULL) {
        return why;
    }
    return rule->check != NULL ? rule->check(t) : NULL;
}

/* text appended to a buffer, cut at its end */
struct text {
    char *buf;
    size_t size;
    size_t used;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *s, const char *fmt, ...)
{
    if (s->used >= s->size) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(s->buf + s->used, s->size - s->used, fmt, ap);
    va_end(ap);
    s->used += n > 0 ? (size_t)n : 0;
}

/* " F32 [4, 4, 1, 1]" */
static void add_tensor(struct text *s, const struct ggml_tensor *t)
{
    text_add(s, " %s [%lld, %lld, %lld, %lld]", ggml_type_name(t->type), (long long)t->ne[0], (long long)t->ne[1],
             (long long)t->ne[2], (long long)t->ne[3]);
}

bool host_op_accepted(const struct ggml_tensor *t, char *why, size_t size)
{
    char reason[160];
    const char *wrong = refusal(t, reason, sizeof reason);
    if (wrong == NULL) {
        return true;
    }
    struct text s = { why, size, 0 };
    text_add(&s, "'%s' (%s): %s; result", t->name, ggml_op_name(t->op), wrong);
    add_tensor(&s, t);
    for (int i = 0; i < GGML_MAX_SRC; i++) {
        if (t->src[i] != NULL) {
            text_add(&s, ", src[%d]", i);
            add_tensor(&s, t->src[i]);
        }
    }
    return false;
}
