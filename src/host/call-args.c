/* What the handlers of several families share: their arguments looked up
 * (a buffer by handle, guest memory), the call's tensors, a string reply,
 * whether the host runs an op. */
#include "call-args.h"

#include <stdio.h>

#include "capture.h"
#include "handles.h"
#include "log.h"
#include "op-table.h"
#include "shmem.h"

/* The context's small ggml context for the tensors of one call (a tensor and
 * its sources, or two tensors): reset, not allocated, per call. */
struct ggml_context *host_call_tensors(struct host_ctx *ctx)
{
    ggml_reset(ctx->call.tensors);
    return ctx->call.tensors;
}

ggml_backend_buffer_t host_find_buffer(struct host_ctx *ctx, uint64_t handle, const char *call)
{
    ggml_backend_buffer_t buffer = host_buffer_get(ctx, handle);
    if (buffer == NULL) {
        CTX_ERROR(ctx->ctx_id, "%s: unknown buffer handle 0x%llx", call, (unsigned long long)handle);
        host_refuse(ctx, APIR_CALL_UNKNOWN_HANDLE);
    }
    return buffer;
}

/* The host mapping of `need` bytes of resource res_id (host_shmem), seen
 * by the capture too. */
void *host_guest_memory(struct host_ctx *ctx, uint32_t res_id, uint64_t need)
{
    void *ptr = host_shmem(ctx, res_id, need);
    host_capture_shmem(ctx, res_id, ptr, need);
    return ptr;
}

void host_reply_string(wire_field_string out, const char *s)
{
    snprintf(out, sizeof(wire_field_string), "%s", s);
}

/* Whether the op table accepts the op and the device supports it. */
bool host_op_supported(struct host_ctx *ctx, const struct ggml_tensor *op)
{
    /* the table first: the device's supports_op reads the sources an op takes */
    char why[HOST_OP_WHY_SIZE];
    if (!host_op_accepted(op, why, sizeof why)) {
        CTX_DEBUG(ctx->ctx_id, "supports_op: no, %s", why);
        return false;
    }
    return ggml_backend_dev_supports_op(ctx->device.dev, op);
}
