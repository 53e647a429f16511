/* The checks of the op table (op-table.c), one per op: the shape, stride
 * and op_params relations of ggml's constructor for the op, and the bytes
 * its kernels read and write kept inside the tensors (docs/security.md,
 * "Extents from the kernel's view"). ggml-cpu is the reference; where
 * ggml-cuda writes by other strides, the check covers it too. */
#include <string.h>

#include "ggml-backend.h"
#include "op-checks.h"
#include "op-types.h"

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
const char *host_check_binary(const struct ggml_tensor *t)
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
const char *host_check_add_id(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0], *b = t->src[1], *ids = t->src[2];
    if (a->ne[0] != b->ne[0] || a->ne[1] != ids->ne[0] || a->ne[2] != ids->ne[1]) {
        return "src[0], src[1] and the ids in src[2] do not match";
    }
    const char *why = row_op_layout(t);
    return why != NULL || rows_contiguous(b) ? why : "the rows of src[1] must be contiguous";
}

/* ggml_dup_impl */
const char *host_check_dup(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    return why != NULL ? why : copy_refusal(t->src[0], t);
}

/* ggml_cont_4d: a new contiguous tensor of src[0]'s type and elements */
const char *host_check_cont(const struct ggml_tensor *t)
{
    if (t->type != t->src[0]->type || !ggml_is_contiguous(t)) {
        return "the result must be contiguous and of src[0]'s type";
    }
    return copy_refusal(t->src[0], t);
}

/* ggml_cpy (ggml_cast too, whose src[1] is the result itself): the result
 * is a view of src[1], its bytes and layout (the CPU's dequantizing copy
 * writes the result by src[1]'s strides, CUDA's writes src[1]) */
const char *host_check_cpy(const struct ggml_tensor *t)
{
    const struct ggml_tensor *b = t->src[1];
    if (!same_type_and_shape(t, b) || t->data != b->data || memcmp(t->nb, b->nb, sizeof t->nb) != 0) {
        return "the result is not src[1] itself (its type, shape, strides and bytes)";
    }
    return copy_refusal(t->src[0], t);
}

/* ggml_sum_rows: one sum per row */
const char *host_check_sum_rows(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    if (t->type != a->type || !has_shape(t, 1, a->ne[1], a->ne[2], a->ne[3])) {
        return "the result is not one sum per row of src[0]";
    }
    return rows_contiguous(a) && rows_contiguous(t) ? NULL : "the rows of src[0] and of the result must be contiguous";
}

/* ggml_concat: along dimension op_params[0], the other extents equal */
const char *host_check_concat(const struct ggml_tensor *t)
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

/* ggml_norm_impl: the CPU's norm follows the rows' strides */
const char *host_check_norm(const struct ggml_tensor *t)
{
    const char *why = row_op_layout(t); /* the CPU asserts nb[0] of both */
    return why != NULL ? why : eps_refusal(t);
}

/* ggml_rms_norm_impl */
const char *host_check_rms_norm(const struct ggml_tensor *t)
{
    const char *why = row_op_layout(t);
    return why != NULL ? why : eps_refusal(t);
}

/* ggml_mul_mat; op_params: the precision of the result and of src[1], and
 * a hint the host does not take */
const char *host_check_mul_mat(const struct ggml_tensor *t)
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
const char *host_check_mul_mat_id(const struct ggml_tensor *t)
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
const char *host_check_scale(const struct ggml_tensor *t)
{
    const char *why = result_like_src0(t);
    return why != NULL || (padded_1d(t->src[0]) && padded_1d(t)) ? why : "src[0] and the result must be contiguous";
}

/* ggml_reshape*: a contiguous src[0] seen with another shape */
const char *host_check_reshape(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    if (t->type != a->type || ggml_nelements(t) != ggml_nelements(a)) {
        return "the result does not have src[0]'s type and element count";
    }
    return ggml_is_contiguous(a) && ggml_is_contiguous(t) ? NULL : "src[0] and the result must be contiguous";
}

/* ggml_view_impl: src[0]'s type; where it lies is the view check of every
 * tensor with a view source */
const char *host_check_view(const struct ggml_tensor *t)
{
    return t->type == t->src[0]->type ? NULL : "the result does not have src[0]'s type";
}

/* ggml_permute: distinct axes (op_params[0..3]); dimension i of src[0] is
 * dimension axis[i] of the result */
const char *host_check_permute(const struct ggml_tensor *t)
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
const char *host_check_transpose(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    const bool swapped = t->ne[0] == a->ne[1] && t->ne[1] == a->ne[0] && t->nb[0] == a->nb[1] &&
                         t->nb[1] == a->nb[0] && t->ne[2] == a->ne[2] && t->ne[3] == a->ne[3] &&
                         t->nb[2] == a->nb[2] && t->nb[3] == a->nb[3];
    return swapped && t->type == a->type ? NULL : "the result is not src[0] transposed";
}

/* ggml_get_rows: rows of src[0] picked by the I32 indices src[1] */
const char *host_check_get_rows(const struct ggml_tensor *t)
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
const char *host_check_set_rows(const struct ggml_tensor *t)
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
const char *host_check_soft_max(const struct ggml_tensor *t)
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
const char *host_check_rope(const struct ggml_tensor *t)
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
const char *host_check_argsort(const struct ggml_tensor *t)
{
    const struct ggml_tensor *a = t->src[0];
    const int32_t order = param_i32(t, 0);
    if (order != GGML_SORT_ORDER_ASC && order != GGML_SORT_ORDER_DESC) {
        return "unknown sort order (op_params[0])";
    }
    if (!ggml_are_same_shape(t, a) || a->ne[0] > INT32_MAX) {
        return "the result does not have src[0]'s shape, or rows are longer than INT32_MAX";
    }
    /* the CPU sorts ggml_nrows rows at i1 * nb[1] and asserts nb[0] */
    return padded_1d(a) && padded_1d(t) ? NULL : "src[0] and the result must be contiguous";
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
const char *host_check_flash_attn_ext(const struct ggml_tensor *t)
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
const char *host_check_unary(const struct ggml_tensor *t)
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
const char *host_check_glu(const struct ggml_tensor *t)
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
