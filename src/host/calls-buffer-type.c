/* The buffer types' calls: the device's default type and the extra types
 * this host offers, by handle; allocation charged to the context. */
#include "handlers.h"

#include "call-args.h"
#include "decode.h"
#include "extra-buft.h"
#include "handles.h"
#include "log.h"
#include "op-table.h"

uint32_t host_call_buffer_type_get_name(struct host_ctx *ctx, const struct wire_msg_u64 *req,
                                        struct wire_msg_string *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->value, "buffer_type_get_name");
    if (buft == NULL) {
        return APIR_CALL_FAILED;
    }
    host_reply_string(out->value, ggml_backend_buft_name(buft));
    return APIR_CALL_OK;
}

/* a size property of the buffer type named by the request */
static uint32_t reply_buft_size(struct host_ctx *ctx, uint64_t buft, struct wire_msg_u64 *out,
                                size_t (*property)(ggml_backend_buffer_type_t))
{
    ggml_backend_buffer_type_t type = host_buft_from_handle(ctx, buft, "buffer_type_get_alignment/max_size");
    if (type == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = property(type);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_type_get_alignment(struct host_ctx *ctx, const struct wire_msg_u64 *req,
                                             struct wire_msg_u64 *out)
{
    return reply_buft_size(ctx, req->value, out, ggml_backend_buft_get_alignment);
}

uint32_t host_call_buffer_type_get_max_size(struct host_ctx *ctx, const struct wire_msg_u64 *req,
                                            struct wire_msg_u64 *out)
{
    return reply_buft_size(ctx, req->value, out, ggml_backend_buft_get_max_size);
}

/* A buffer of type buft, charged to the quota as allocated (at least the
 * size asked for), or NULL (logged). */
static ggml_backend_buffer_t alloc_charged(struct host_ctx *ctx, ggml_backend_buffer_type_t buft, uint64_t size)
{
    if (size > SIZE_MAX || !host_buffer_admit(ctx, size, "buffer_type_alloc_buffer")) {
        return NULL;
    }
    ggml_backend_buffer_t buffer = ggml_backend_buft_alloc_buffer(buft, (size_t)size);
    if (buffer == NULL) {
        CTX_WARN(ctx->ctx_id, "cannot allocate a buffer of %llu bytes on %s", (unsigned long long)size,
                 ggml_backend_dev_name(ctx->device.dev));
    } else if (ggml_backend_buffer_get_size(buffer) > size &&
               !host_buffer_admit(ctx, ggml_backend_buffer_get_size(buffer), "buffer_type_alloc_buffer")) {
        ggml_backend_buffer_free(buffer);
        buffer = NULL;
    }
    return buffer;
}

uint32_t host_call_buffer_type_alloc_buffer(struct host_ctx *ctx, const struct wire_msg_alloc *req,
                                            struct wire_msg_u64 *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->buft, "buffer_type_alloc_buffer");
    if (buft == NULL) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_buffer_t buffer = alloc_charged(ctx, buft, req->size);
    if (buffer != NULL && (out->value = host_buffer_add(ctx, buffer, false)) == 0) {
        ggml_backend_buffer_free(buffer);
    }
    /* a handle of 0 tells the guest the allocation failed; one that asked
     * for error codes is told which limit refused it */
    return out->value == 0 && ctx->call.detailed_errors && ctx->call.refusal != 0 ? APIR_CALL_FAILED : APIR_CALL_OK;
}

uint32_t host_call_buffer_type_get_alloc_size(struct host_ctx *ctx, const struct wire_msg_buft_op *req,
                                              struct wire_msg_u64 *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->buft, "buffer_type_get_alloc_size");
    if (buft == NULL) {
        return APIR_CALL_FAILED;
    }
    struct ggml_tensor *t = host_inline_tensor(ctx, host_call_tensors(ctx), &req->op);
    char why[HOST_OP_WHY_SIZE];
    if (t != NULL && !host_op_accepted(t, why, sizeof why)) {
        CTX_ERROR(ctx->ctx_id, "buffer_type_get_alloc_size: refused %s", why);
        host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
        t = NULL;
    }
    if (t == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = ggml_backend_buft_get_alloc_size(buft, t);
    return APIR_CALL_OK;
}

uint32_t host_call_ext_extra_bufts(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_handles *out)
{
    (void)req;
    out->value.count = ctx->device.n_extra_bufts;
    for (uint32_t i = 0; i < ctx->device.n_extra_bufts; i++) {
        out->value.items[i] = HOST_BUFT_HANDLE + 1 + i;
    }
    return APIR_CALL_OK;
}

/* The op with its first source (a weight, as llama.cpp asks to place one)
 * in an empty buffer of the type named: ggml-cpu's supports_op then asks
 * the repacking type whether it runs the op on that weight. */
uint32_t host_call_ext_buft_supports_op(struct host_ctx *ctx, const struct wire_msg_buft_op *req,
                                        struct wire_msg_boolean *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->buft, "ext_buft_supports_op");
    struct ggml_tensor *op = buft ? host_inline_tensor(ctx, host_call_tensors(ctx), &req->op) : NULL;
    if (op == NULL) {
        return APIR_CALL_FAILED;
    }
    struct ggml_tensor *weight = op->src[0];
    /* experts are not repacked here (extra-buft.c) */
    if (op->op == GGML_OP_MUL_MAT_ID && buft != ctx->device.buft) {
        out->value = false;
        return APIR_CALL_OK;
    }
    if (weight != NULL) {
        weight->buffer = ggml_backend_buft_alloc_buffer(buft, 0); /* ggml's dummy of size 0: never NULL */
    }
    out->value = host_op_supported(ctx, op);
    if (weight != NULL) {
        ggml_backend_buffer_free(weight->buffer);
    }
    return APIR_CALL_OK;
}
