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
#include "op-checks.h"
#include "op-table.h"
#include "op-types.h"

/* ---- sizes -------------------------------------------------------------- */

/* t has the strides ggml_new_tensor gives it, every one (ggml_is_contiguous
 * ignores those of dimensions of one, nb[0] included) */
static bool packed(const struct ggml_tensor *t)
{
    return t->nb[0] == ggml_type_size(t->type) && t->nb[1] == ggml_row_size(t->type, t->ne[0]) &&
           t->nb[2] == t->nb[1] * (size_t)t->ne[1] && t->nb[3] == t->nb[2] * (size_t)t->ne[2];
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
        .src_types = { TYPES_FLOAT, TYPES_FLOAT }, .dense_result = true, .check = host_check_binary                \
    }

static const struct op_rule op_rules[GGML_OP_COUNT] = {
    /* a leaf: a tensor the graph reads */
    [GGML_OP_NONE] = { .n_src = 0, .dst_types = TYPES_ANY },
    [GGML_OP_DUP] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_ANY, .src_types = { TYPES_ANY },
                      .check = host_check_dup },
    [GGML_OP_ADD] = BINARY_RULE,
    [GGML_OP_ADD_ID] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                         .src_types = { TYPES_F32, TYPES_F32, TYPES_I32 }, .dense_result = true, .check = host_check_add_id },
    [GGML_OP_SUB] = BINARY_RULE,
    [GGML_OP_MUL] = BINARY_RULE,
    [GGML_OP_DIV] = BINARY_RULE,
    [GGML_OP_SUM_ROWS] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                           .dense_result = true, .check = host_check_sum_rows },
    [GGML_OP_CONCAT] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_ANY,
                         .src_types = { TYPES_ANY, TYPES_ANY }, .dense_result = true, .check = host_check_concat },
    [GGML_OP_NORM] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                       .dense_result = true, .check = host_check_norm },
    [GGML_OP_RMS_NORM] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                           .dense_result = true, .check = host_check_rms_norm },
    [GGML_OP_MUL_MAT] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_F32,
                          .src_types = { TYPES_WEIGHT, TYPES_FLOAT },
                          .check = host_check_mul_mat },
    [GGML_OP_MUL_MAT_ID] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                             .src_types = { TYPES_WEIGHT, TYPES_F32, TYPES_I32 }, .check = host_check_mul_mat_id },
    [GGML_OP_SCALE] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F32, .src_types = { TYPES_F32 },
                        .check = host_check_scale },
    [GGML_OP_CPY] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_ANY,
                      .src_types = { TYPES_ANY, TYPES_ANY }, .check = host_check_cpy },
    [GGML_OP_CONT] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_ANY, .src_types = { TYPES_ANY },
                       .check = host_check_cont },
    [GGML_OP_RESHAPE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                          .src_types = { TYPES_ANY }, .check = host_check_reshape },
    [GGML_OP_VIEW] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                       .src_types = { TYPES_ANY }, .check = host_check_view },
    [GGML_OP_PERMUTE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                          .src_types = { TYPES_ANY }, .check = host_check_permute },
    [GGML_OP_TRANSPOSE] = { .n_src = 1, .required = SRC(0), .view = true, .dst_types = TYPES_ANY,
                            .src_types = { TYPES_ANY }, .check = host_check_transpose },
    [GGML_OP_GET_ROWS] = { .n_src = 2, .required = SRC(0) | SRC(1), .dst_types = TYPES_F32 | TYPES_I32,
                           .src_types = { TYPES_WEIGHT | TYPES_I32, TYPES_I32 }, .check = host_check_get_rows },
    [GGML_OP_SET_ROWS] = { .n_src = 3, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_FROM_FLOAT,
                           .src_types = { TYPES_F16_F32, TYPES_INDEX, TYPES_FROM_FLOAT }, .check = host_check_set_rows },
    [GGML_OP_SOFT_MAX] = { .n_src = 3, .required = SRC(0), .dst_types = TYPES_F32,
                           .src_types = { TYPES_F32, TYPES_F16_F32, TYPES_F32 }, .check = host_check_soft_max },
    [GGML_OP_ROPE] = { .n_src = 3, .required = SRC(0) | SRC(1), .dst_types = TYPES_F16_F32,
                       .src_types = { TYPES_F16_F32, TYPES_I32, TYPES_F32 }, .check = host_check_rope },
    [GGML_OP_ARGSORT] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_I32, .src_types = { TYPES_F32 },
                          .check = host_check_argsort },
    [GGML_OP_FLASH_ATTN_EXT] = { .n_src = 5, .required = SRC(0) | SRC(1) | SRC(2), .dst_types = TYPES_F32,
                                 .src_types = { TYPES_F32, TYPES_WEIGHT, TYPES_WEIGHT, TYPES_F16, TYPES_F32 },
                                 .check = host_check_flash_attn_ext },
    [GGML_OP_UNARY] = { .n_src = 1, .required = SRC(0), .dst_types = TYPES_F16_F32, .src_types = { TYPES_F16_F32 },
                        .dense_result = true, .check = host_check_unary },
    [GGML_OP_GLU] = { .n_src = 2, .required = SRC(0), .dst_types = TYPES_F16_F32,
                      .src_types = { TYPES_F16_F32, TYPES_F16_F32 }, .dense_result = true, .check = host_check_glu },
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
    if (rule->dense_result && !packed(t)) {
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
