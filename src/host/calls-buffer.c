/* The buffers' calls: tensor data in and out (tensor-io.c), copies,
 * clearing, freeing; the queued writes of the extension. */
#include "handlers.h"

#include "call-args.h"
#include "decode.h"
#include "extra-buft.h"
#include "ggml-backend-impl.h"
#include "graph-cache.h"
#include "handles.h"
#include "log.h"
#include "tensor-io.h"

uint32_t host_call_buffer_get_base(struct host_ctx *ctx, const struct wire_msg_u64 *req, struct wire_msg_u64 *out)
{
    if (host_find_buffer(ctx, req->value, "buffer_get_base") == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = host_buffer_guest_base(req->value);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_set_tensor(struct host_ctx *ctx, const struct wire_msg_tensor_io *req,
                                     struct wire_msg_none *out)
{
    (void)out;
    return host_tensor_transfer(ctx, req, true);
}

uint32_t host_call_buffer_get_tensor(struct host_ctx *ctx, const struct wire_msg_tensor_io *req,
                                     struct wire_msg_none *out)
{
    (void)out;
    return host_tensor_transfer(ctx, req, false);
}

uint32_t host_call_buffer_cpy_tensor(struct host_ctx *ctx, const struct wire_msg_copy *req,
                                     struct wire_msg_boolean *out)
{
    struct ggml_context *mem = host_call_tensors(ctx);
    ggml_backend_buffer_t buffer = host_find_buffer(ctx, req->buffer, "buffer_cpy_tensor");
    struct ggml_tensor *src = buffer ? host_tensor_from_wire(ctx, mem, &req->src, true) : NULL;
    struct ggml_tensor *dst = src ? host_tensor_from_wire(ctx, mem, &req->dst, true) : NULL;
    if (dst == NULL) {
        return APIR_CALL_FAILED;
    }
    if (dst->buffer != buffer || ggml_nbytes(src) != ggml_nbytes(dst)) {
        CTX_ERROR(ctx->ctx_id, "buffer_cpy_tensor: '%s' and '%s' differ in size, or the buffer is wrong", src->name,
                  dst->name);
        return APIR_CALL_MALFORMED;
    }
    if (host_buffer_is_extra(ctx, src->buffer) || host_buffer_is_extra(ctx, dst->buffer)) {
        CTX_ERROR(ctx->ctx_id, "buffer_cpy_tensor: '%s' or '%s' is in a repacked buffer, which cannot be copied",
                  src->name, dst->name);
        return APIR_CALL_NOT_ALLOWED;
    }
    out->value = ggml_backend_buffer_copy_tensor(src, dst);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_clear(struct host_ctx *ctx, const struct wire_msg_clear *req, struct wire_msg_none *out)
{
    (void)out;
    ggml_backend_buffer_t buffer = host_find_buffer(ctx, req->buffer, "buffer_clear");
    if (buffer == NULL) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_buffer_clear(buffer, req->value);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_free_buffer(struct host_ctx *ctx, const struct wire_msg_u64 *req, struct wire_msg_none *out)
{
    (void)out;
    ggml_backend_buffer_t buffer = host_buffer_remove(ctx, req->value);
    if (buffer == NULL) {
        CTX_ERROR(ctx->ctx_id, "buffer_free_buffer: unknown buffer handle 0x%llx", (unsigned long long)req->value);
        return APIR_CALL_UNKNOWN_HANDLE;
    }
    host_graph_cache_clear(ctx); /* kept graphs may point into it */
    ggml_backend_buffer_free(buffer);
    return APIR_CALL_OK;
}

uint32_t host_call_ext_set_tensors(struct host_ctx *ctx, const struct wire_msg_writes *req, struct wire_msg_none *out)
{
    (void)out;
    return host_run_writes(ctx, &req->writes, NULL);
}
