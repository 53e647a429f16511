/* The device's calls: what it is, its memory, the ops it runs, its buffer
 * type, buffers over guest memory; the extensions that pick one of the
 * library's devices and ask for error codes. */
#include "handlers.h"

#include "call-args.h"
#include "decode.h"
#include "ggml-lib.h"
#include "handles.h"
#include "log.h"

uint32_t host_call_device_get_device_count(struct host_ctx *ctx, const struct wire_msg_none *req,
                                           struct wire_msg_i32 *out)
{
    (void)req;
    out->value = (int32_t)ggml_backend_reg_dev_count(ctx->device.reg);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_count(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_i32 *out)
{
    (void)ctx;
    (void)req;
    out->value = 1; /* the devices this context exposes: one, its device 0 */
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_name(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_string *out)
{
    (void)req;
    host_reply_string(out->value, ggml_backend_dev_name(ctx->device.dev));
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_description(struct host_ctx *ctx, const struct wire_msg_none *req,
                                          struct wire_msg_string *out)
{
    (void)req;
    host_reply_string(out->value, ggml_backend_dev_description(ctx->device.dev));
    return APIR_CALL_OK;
}

/* To the guest the host's device is a remote accelerator, whatever it is
 * here: a CPU (or accelerator) is told as a GPU, or llama.cpp would not
 * offload layers to it (llama.cpp's own frontend passes the type on as is). */
uint32_t host_call_device_get_type(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_u32 *out)
{
    (void)req;
    const enum ggml_backend_dev_type type = ggml_backend_dev_type(ctx->device.dev);
    out->value = (uint32_t)(type == GGML_BACKEND_DEVICE_TYPE_IGPU ? type : GGML_BACKEND_DEVICE_TYPE_GPU);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_memory(struct host_ctx *ctx, const struct wire_msg_none *req,
                                     struct wire_msg_memory *out)
{
    (void)req;
    size_t free_bytes = 0, total_bytes = 0;
    ggml_backend_dev_memory(ctx->device.dev, &free_bytes, &total_bytes);
    out->free_bytes = free_bytes;
    out->total_bytes = total_bytes;
    return APIR_CALL_OK;
}

uint32_t host_call_device_supports_op(struct host_ctx *ctx, const struct wire_msg_op *req,
                                      struct wire_msg_boolean *out)
{
    struct ggml_tensor *op = host_inline_tensor(ctx, host_call_tensors(ctx), &req->op);
    if (op == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = host_op_supported(ctx, op);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_buffer_type(struct host_ctx *ctx, const struct wire_msg_none *req,
                                          struct wire_msg_u64 *out)
{
    (void)ctx;
    (void)req;
    out->value = HOST_BUFT_HANDLE;
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_props(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_props *out)
{
    (void)req;
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->device.dev, &props);
    out->async = props.caps.async;
    /* whether the device has a host buffer type (shmem.c pins shared
     * memory for such a device), whatever its props say */
    out->host_buffer = ggml_backend_dev_host_buffer_type(ctx->device.dev) != NULL;
    /* device_buffer_from_ptr works (see below) but is not advertised: a
     * guest that took it as a hint (llama.cpp's own frontend does) would
     * put every buffer in shared memory it may unmap under the host */
    out->buffer_from_host_ptr = false;
    out->events = props.caps.events;
    out->mmap_support = props.caps.mmap_support;
    return APIR_CALL_OK;
}

/* A buffer over a guest-shared blob (zero copy). The blob must stay mapped
 * while the buffer lives; its size must be known to check the request. */
uint32_t host_call_device_buffer_from_ptr(struct host_ctx *ctx, const struct wire_msg_from_ptr *req,
                                          struct wire_msg_buffer_and_type *out)
{
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->device.dev, &props);
    if (!props.caps.buffer_from_host_ptr || !ctx->hv.shmem_size_known) {
        CTX_ERROR(ctx->ctx_id, "device_buffer_from_ptr: not possible here (the device cannot wrap memory, or "
                               "the hypervisor does not give blob sizes)");
        return APIR_CALL_NOT_ALLOWED;
    }
    /* not charged to the memory quota: the memory is the guest's blob */
    if (!host_buffer_admit(ctx, 0, "device_buffer_from_ptr")) {
        return APIR_CALL_FAILED;
    }
    void *ptr = host_guest_memory(ctx, req->res_id, req->size);
    /* ggml asserts (aborts) on a base that is not aligned for its tensors */
    const size_t alignment = ggml_backend_buft_get_alignment(ctx->device.buft);
    if (ptr != NULL && (uintptr_t)ptr % alignment != 0) {
        CTX_ERROR(ctx->ctx_id, "device_buffer_from_ptr: resource %u is mapped at an address not aligned to %zu bytes",
                  req->res_id, alignment);
        return APIR_CALL_NOT_ALLOWED;
    }
    /* the blob must outlive the buffer, whatever the guest unrefs */
    ptr = ptr && ctx->hv.cbs.pin_shmem(ctx->ctx_id, req->res_id) ? ptr : NULL;
    ggml_backend_buffer_t buffer =
        ptr && req->size > 0
            ? ggml_backend_dev_buffer_from_host_ptr(ctx->device.dev, ptr, (size_t)req->size, (size_t)req->max_tensor_size)
            : NULL;
    const uint64_t handle = buffer ? host_buffer_add(ctx, buffer, true) : 0;
    if (handle == 0) {
        if (buffer != NULL) {
            ggml_backend_buffer_free(buffer);
        }
        CTX_ERROR(ctx->ctx_id, "device_buffer_from_ptr: cannot wrap %llu bytes of resource %u",
                  (unsigned long long)req->size, req->res_id);
        return APIR_CALL_FAILED;
    }
    out->buffer = handle;
    out->buft = HOST_BUFT_HANDLE;
    return APIR_CALL_OK;
}

uint32_t host_call_ext_device_count(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_i32 *out)
{
    return host_call_device_get_device_count(ctx, req, out);
}

uint32_t host_call_ext_bind_device(struct host_ctx *ctx, const struct wire_msg_u32 *req, struct wire_msg_none *out)
{
    (void)out;
    if (host_buffer_count(ctx) != 0) {
        CTX_ERROR(ctx->ctx_id, "ext_bind_device: the context already has buffers on %s",
                  ggml_backend_dev_name(ctx->device.dev));
        return APIR_CALL_NOT_ALLOWED;
    }
    if (req->value >= ggml_backend_reg_dev_count(ctx->device.reg)) {
        host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
    }
    return host_bind_device(ctx, req->value) ? APIR_CALL_OK : APIR_CALL_FAILED;
}

uint32_t host_call_ext_error_codes(struct host_ctx *ctx, const struct wire_msg_none *req, struct wire_msg_none *out)
{
    (void)req;
    (void)out;
    ctx->call.detailed_errors = true;
    return APIR_CALL_OK;
}
