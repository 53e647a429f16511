/* The device's extra buffer types: ggml-cpu's repacking type ("CPU_REPACK")
 * keeps Q4_0, IQ4_NL, Q4_K... weights interleaved for its GEMM/GEMV
 * kernels, as a native llama.cpp run does. Such a buffer is not an ordinary
 * one: its set_tensor takes only a whole tensor and aborts on any other
 * (GGML_ASSERT), dereferences the tensor's extra (set by init_tensor to the
 * layout it repacks into, NULL for a tensor it does not take), and it has
 * no get_tensor or cpy_tensor (a call would jump to NULL). Its tensors may
 * only be the weights of MUL_MAT (MUL_MAT_ID's repacked kernel is not
 * offered: see extra_weight_wrong), whose kernels read them as the layout
 * says. So every tensor of such a buffer is checked here before ggml sees
 * it. */
#include <string.h>

#include "extra-buft.h"
#include "ggml-backend-impl.h"
#include "log.h"
#include "op-table.h"

/* The extra buffer types this host offers by name: those whose tensors the
 * checks below make safe. Another (AMX, KleidiAI) has other rules. */
static const char *const offered_bufts[] = { "CPU_REPACK" };

static bool offered(ggml_backend_buffer_type_t buft)
{
    for (size_t i = 0; i < sizeof offered_bufts / sizeof offered_bufts[0]; i++) {
        if (strcmp(ggml_backend_buft_name(buft), offered_bufts[i]) == 0) {
            return true;
        }
    }
    return false;
}

void host_extra_bufts_find(struct host_ctx *ctx)
{
    ctx->device.n_extra_bufts = 0;
    ggml_backend_dev_get_extra_bufts_t get_extra_bufts =
        (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(ctx->device.reg,
                                                                             "ggml_backend_dev_get_extra_bufts");
    ggml_backend_buffer_type_t *bufts = get_extra_bufts ? get_extra_bufts(ctx->device.dev) : NULL;
    for (size_t i = 0; bufts != NULL && bufts[i] != NULL; i++) {
        if (!offered(bufts[i]) || ctx->device.n_extra_bufts == HOST_MAX_EXTRA_BUFTS) {
            CTX_DEBUG(ctx->ctx_id, "the extra buffer type %s of %s is not offered to the guest",
                      ggml_backend_buft_name(bufts[i]), ggml_backend_dev_name(ctx->device.dev));
            continue;
        }
        ctx->device.extra_bufts[ctx->device.n_extra_bufts++] = bufts[i];
    }
}

ggml_backend_buffer_type_t host_buft_from_handle(struct host_ctx *ctx, uint64_t handle, const char *call)
{
    if (handle == HOST_BUFT_HANDLE) {
        return ctx->device.buft;
    }
    if (handle > HOST_BUFT_HANDLE && handle - HOST_BUFT_HANDLE - 1 < ctx->device.n_extra_bufts) {
        return ctx->device.extra_bufts[handle - HOST_BUFT_HANDLE - 1];
    }
    CTX_ERROR(ctx->ctx_id, "%s: unknown buffer type handle 0x%llx", call, (unsigned long long)handle);
    host_refuse(ctx, APIR_CALL_UNKNOWN_HANDLE);
    return NULL;
}

bool host_buffer_is_extra(const struct host_ctx *ctx, ggml_backend_buffer_t buffer)
{
    for (uint32_t i = 0; buffer != NULL && i < ctx->device.n_extra_bufts; i++) {
        if (ggml_backend_buffer_get_type(buffer) == ctx->device.extra_bufts[i]) {
            return true;
        }
    }
    return false;
}

/* the repacking loops count a tensor's blocks and rows in an int */
#define MAX_REPACK_BLOCKS INT32_MAX
/* and the chunks of a product, four per thread and matrix of src[1] */
#define MAX_REPACK_BATCH 65536

bool host_extra_tensor_ok(struct ggml_tensor *t, char *why, size_t size)
{
    ggml_backend_buffer_t buffer = t->buffer;
    t->extra = NULL;
    if (buffer->iface.init_tensor != NULL) {
        /* ggml-cpu's repacking type: sets extra to the layout t repacks
         * into, or NULL; it touches nothing else */
        ggml_backend_buffer_init_tensor(buffer, t);
    }
    const char *wrong = NULL;
    if (t->extra == NULL) {
        wrong = "is no weight that it repacks (type, or rows not a multiple of its interleave)";
    } else if (!ggml_is_contiguous(t) || t->ne[0] % 8 != 0 ||
               ggml_nelements(t) / ggml_blck_size(t->type) > MAX_REPACK_BLOCKS) {
        wrong = "is not laid out as it repacks (contiguous, rows of a multiple of 8 elements, below 2^31 blocks)";
    } else if ((uintptr_t)t->data % ggml_backend_buffer_get_alignment(buffer) != 0) {
        wrong = "is not aligned as its buffer type requires";
    }
    if (wrong != NULL) {
        t->extra = NULL;
        snprintf(why, size, "tensor '%s' (%s, %lld x %lld x %lld x %lld) in a buffer of type %s %s", t->name,
                 ggml_type_name(t->type), (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                 (long long)t->ne[3], ggml_backend_buffer_name(buffer), wrong);
    }
    return wrong == NULL;
}

/* ---- graphs ----------------------------------------------------------------- */

/* whether the tensor, or the tensor it views, is in an extra buffer */
static bool in_extra_buffer(const struct host_ctx *ctx, const struct ggml_tensor *t)
{
    return host_buffer_is_extra(ctx, t->buffer) || (t->view_src != NULL && host_buffer_is_extra(ctx, t->view_src->buffer));
}

/* What is wrong with src[0] of a MUL_MAT / MUL_MAT_ID node being in an
 * extra buffer, or NULL. The repacked kernels (repack.cpp forward_mul_mat*)
 * read it whole through its extra, and assert what the op table lets pass
 * otherwise: no 4th dimension. */
static const char *extra_weight_wrong(const struct ggml_tensor *node, char *why, size_t size)
{
    struct ggml_tensor *w = node->src[0];
    if (w->view_src != NULL) {
        snprintf(why, size, "its weight '%s' is a view into a repacked buffer", w->name);
        return why;
    }
    if (!host_extra_tensor_ok(w, why, size)) {
        return why;
    }
    const struct ggml_tensor *x = node->src[1];
    if (node->op == GGML_OP_MUL_MAT_ID) {
        /* repack.cpp maps each expert's rows into room for one row per
         * token: ids choosing an expert twice in a row would overflow it */
        snprintf(why, size, "its experts '%s' are repacked, which this host does not run", w->name);
        return why;
    }
    if (x->ne[3] != 1 || x->ne[2] > MAX_REPACK_BATCH) {
        snprintf(why, size, "a repacked weight '%s' multiplies a 4-dimensional src[1], or over %d matrices", w->name,
                 MAX_REPACK_BATCH);
        return why;
    }
    /* it converts src[1] four rows at a time, as if they were packed */
    if (x->ne[1] >= 4 && x->nb[1] != ggml_row_size(x->type, x->ne[0])) {
        snprintf(why, size, "a repacked weight '%s' multiplies a src[1] whose rows are not packed", w->name);
        return why;
    }
    return NULL;
}

/* What is wrong with the node's use of tensors in extra buffers, or NULL. */
static const char *node_extra_wrong(const struct host_ctx *ctx, const struct ggml_tensor *node, char *why,
                                    size_t size)
{
    if (in_extra_buffer(ctx, node)) {
        return "lies in a repacked buffer (where only weights may)";
    }
    const bool mul_mat = node->op == GGML_OP_MUL_MAT || node->op == GGML_OP_MUL_MAT_ID;
    for (int s = 0; s < GGML_MAX_SRC; s++) {
        const struct ggml_tensor *src = node->src[s];
        if (src != NULL && in_extra_buffer(ctx, src) && (s != 0 || !mul_mat)) {
            snprintf(why, size, "reads '%s' of a repacked buffer, which only MUL_MAT and MUL_MAT_ID may, as src[0]",
                     src->name);
            return why;
        }
    }
    return mul_mat && in_extra_buffer(ctx, node->src[0]) ? extra_weight_wrong(node, why, size) : NULL;
}

bool host_graph_extra_ok(struct host_ctx *ctx, struct ggml_cgraph *graph)
{
    for (int i = 0; ctx->device.n_extra_bufts > 0 && i < ggml_graph_n_nodes(graph); i++) {
        const struct ggml_tensor *node = ggml_graph_node(graph, i);
        char why[HOST_OP_WHY_SIZE];
        const char *wrong = node_extra_wrong(ctx, node, why, sizeof why);
        if (wrong != NULL) {
            CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (%s) %s", i, node->name, ggml_op_desc(node), wrong);
            host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
            return false;
        }
    }
    return true;
}
