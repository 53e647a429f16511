/* The 23 forwarded ggml calls, host side. Each handler decodes its
 * arguments, validates them against this context's state, calls the real
 * GGML backend and encodes the reply. A failed check logs what was wrong and
 * returns APIR_CALL_FAILED; nothing a guest sends can reach ggml unchecked. */
#include <string.h>

#include "host.h"

#include "ggml-backend-impl.h"

typedef uint32_t (*host_call_fn)(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc);

/* The context's small ggml context for the tensors of one call (a tensor and
 * its sources, or two tensors): reset, not allocated, per call. */
static struct ggml_context *call_tensors(struct host_ctx *ctx)
{
    ggml_reset(ctx->call_ctx);
    return ctx->call_ctx;
}

static bool check_buft(uint64_t handle)
{
    if (handle != HOST_BUFT_HANDLE) {
        LOG_ERROR("unknown buffer type handle 0x%llx", (unsigned long long)handle);
        return false;
    }
    return true;
}

static ggml_backend_buffer_t decode_buffer(struct host_ctx *ctx, struct apir_decoder *dec)
{
    const uint64_t handle = apir_decode_u64(dec);
    ggml_backend_buffer_t buffer = dec->fatal ? NULL : host_buffer_get(ctx, handle);
    if (buffer == NULL && !dec->fatal) {
        LOG_ERROR("unknown buffer handle 0x%llx", (unsigned long long)handle);
    }
    return buffer;
}

static struct ggml_tensor *decode_wire_tensor(struct host_ctx *ctx, struct ggml_context *mem,
                                              struct apir_decoder *dec)
{
    struct apir_wire_tensor w;
    if (!apir_decode_bytes(dec, &w, sizeof w)) {
        return NULL;
    }
    return host_tensor_from_wire(ctx, mem, &w, true);
}

/* ---- device ------------------------------------------------------------- */

static uint32_t device_get_device_count(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    apir_encode_i32(enc, (int32_t)ggml_backend_reg_dev_count(ctx->reg));
    return APIR_CALL_OK;
}

static uint32_t device_get_count(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)ctx;
    (void)dec;
    /* the devices this context exposes: one, its device 0 */
    apir_encode_i32(enc, 1);
    return APIR_CALL_OK;
}

static uint32_t device_get_name(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    apir_encode_string(enc, ggml_backend_dev_name(ctx->dev));
    return APIR_CALL_OK;
}

static uint32_t device_get_description(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    apir_encode_string(enc, ggml_backend_dev_description(ctx->dev));
    return APIR_CALL_OK;
}

static uint32_t device_get_type(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    apir_encode_u32(enc, (uint32_t)ggml_backend_dev_type(ctx->dev));
    return APIR_CALL_OK;
}

static uint32_t device_get_memory(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    size_t free_bytes = 0, total_bytes = 0;
    ggml_backend_dev_memory(ctx->dev, &free_bytes, &total_bytes);
    apir_encode_u64(enc, free_bytes);
    apir_encode_u64(enc, total_bytes);
    return APIR_CALL_OK;
}

static uint32_t device_supports_op(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    struct ggml_tensor *op = host_inline_tensor(ctx, call_tensors(ctx), dec);
    if (op == NULL) {
        return APIR_CALL_FAILED;
    }
    apir_encode_bool(enc, ggml_backend_dev_supports_op(ctx->dev, op));
    return APIR_CALL_OK;
}

static uint32_t device_get_buffer_type(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)ctx;
    (void)dec;
    apir_encode_u64(enc, HOST_BUFT_HANDLE);
    return APIR_CALL_OK;
}

static uint32_t device_get_props(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->dev, &props);
    apir_encode_bool(enc, props.caps.async);
    apir_encode_bool(enc, props.caps.host_buffer);
    /* device_buffer_from_ptr works (see below) but is not advertised: a
     * guest that took it as a hint (llama.cpp's own frontend does) would
     * put every buffer in shared memory it may unmap under the host */
    apir_encode_bool(enc, false);
    apir_encode_bool(enc, props.caps.events);
    apir_encode_bool(enc, props.caps.mmap_support);
    return APIR_CALL_OK;
}

/* A buffer over a guest-shared blob (zero copy). The blob must stay mapped
 * while the buffer lives; its size must be known to check the request. */
static uint32_t device_buffer_from_ptr(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const uint32_t res_id = apir_decode_u32(dec);
    const uint64_t size = apir_decode_u64(dec);
    const uint64_t max_tensor_size = apir_decode_u64(dec);
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->dev, &props);
    if (dec->fatal || !props.caps.buffer_from_host_ptr || !ctx->shmem_size_known) {
        LOG_ERROR("device_buffer_from_ptr: not possible here (the device cannot wrap memory, or the "
                   "hypervisor does not give blob sizes)");
        return APIR_CALL_FAILED;
    }
    void *ptr = host_shmem(ctx, res_id, size);
    ggml_backend_buffer_t buffer =
        ptr && size > 0 ? ggml_backend_dev_buffer_from_host_ptr(ctx->dev, ptr, (size_t)size, (size_t)max_tensor_size)
                        : NULL;
    const uint64_t handle = buffer ? host_buffer_add(ctx, buffer) : 0;
    if (handle == 0) {
        if (buffer != NULL) {
            ggml_backend_buffer_free(buffer);
        }
        LOG_ERROR("device_buffer_from_ptr: cannot wrap %llu bytes of resource %u", (unsigned long long)size, res_id);
        return APIR_CALL_FAILED;
    }
    apir_encode_u64(enc, handle);
    apir_encode_u64(enc, HOST_BUFT_HANDLE);
    return APIR_CALL_OK;
}

/* ---- buffer type -------------------------------------------------------- */

static uint32_t buffer_type_get_name(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    if (!check_buft(apir_decode_u64(dec))) {
        return APIR_CALL_FAILED;
    }
    apir_encode_string(enc, ggml_backend_buft_name(ctx->buft));
    return APIR_CALL_OK;
}

/* a size property of the buffer type named by the call's argument */
static uint32_t reply_buft_size(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc,
                                size_t (*property)(ggml_backend_buffer_type_t))
{
    if (!check_buft(apir_decode_u64(dec))) {
        return APIR_CALL_FAILED;
    }
    apir_encode_u64(enc, property(ctx->buft));
    return APIR_CALL_OK;
}

static uint32_t buffer_type_get_alignment(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    return reply_buft_size(ctx, dec, enc, ggml_backend_buft_get_alignment);
}

static uint32_t buffer_type_get_max_size(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    return reply_buft_size(ctx, dec, enc, ggml_backend_buft_get_max_size);
}

static uint32_t buffer_type_is_host(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)ctx;
    (void)dec;
    /* deprecated; the guest cannot touch host memory directly */
    apir_encode_bool(enc, false);
    return APIR_CALL_OK;
}

static uint32_t buffer_type_alloc_buffer(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const uint64_t buft = apir_decode_u64(dec);
    const uint64_t size = apir_decode_u64(dec);
    if (dec->fatal || !check_buft(buft)) {
        return APIR_CALL_FAILED;
    }
    uint64_t handle = 0;
    ggml_backend_buffer_t buffer = size <= SIZE_MAX ? ggml_backend_buft_alloc_buffer(ctx->buft, (size_t)size) : NULL;
    if (buffer == NULL) {
        LOG_WARN("cannot allocate a buffer of %llu bytes on %s", (unsigned long long)size,
                  ggml_backend_dev_name(ctx->dev));
    } else if ((handle = host_buffer_add(ctx, buffer)) == 0) {
        ggml_backend_buffer_free(buffer);
    }
    apir_encode_u64(enc, handle); /* 0 tells the guest the allocation failed */
    return APIR_CALL_OK;
}

static uint32_t buffer_type_get_alloc_size(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    if (!check_buft(apir_decode_u64(dec))) {
        return APIR_CALL_FAILED;
    }
    struct ggml_tensor *t = host_inline_tensor(ctx, call_tensors(ctx), dec);
    if (t == NULL) {
        return APIR_CALL_FAILED;
    }
    apir_encode_u64(enc, ggml_backend_buft_get_alloc_size(ctx->buft, t));
    return APIR_CALL_OK;
}

/* ---- buffer ------------------------------------------------------------- */

static uint32_t buffer_get_base(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const uint64_t handle = apir_decode_u64(dec);
    if (host_buffer_get(ctx, handle) == NULL) {
        LOG_ERROR("buffer_get_base: unknown buffer handle 0x%llx", (unsigned long long)handle);
        return APIR_CALL_FAILED;
    }
    apir_encode_u64(enc, host_buffer_guest_base(handle));
    return APIR_CALL_OK;
}

/* set_tensor / get_tensor: the tensor's bytes [offset, offset + size) move
 * through the start of a shared-memory resource. */
struct tensor_io {
    struct ggml_tensor *tensor;
    void *shmem;
    uint64_t offset;
    uint64_t size;
};

static bool decode_tensor_io(struct host_ctx *ctx, struct ggml_context *mem, struct apir_decoder *dec,
                             struct tensor_io *io)
{
    ggml_backend_buffer_t buffer = decode_buffer(ctx, dec);
    io->tensor = buffer ? decode_wire_tensor(ctx, mem, dec) : NULL;
    const uint32_t res_id = apir_decode_u32(dec);
    io->offset = apir_decode_u64(dec);
    io->size = apir_decode_u64(dec);
    if (io->tensor == NULL || dec->fatal) {
        return false;
    }
    if (io->tensor->buffer != buffer) {
        LOG_ERROR("tensor '%s' is not in the buffer the call names", io->tensor->name);
        return false;
    }
    const uint64_t nbytes = ggml_nbytes(io->tensor);
    if (io->offset > nbytes || io->size > nbytes - io->offset) {
        LOG_ERROR("tensor '%s': bytes [%llu, +%llu) are outside its %llu bytes", io->tensor->name,
                   (unsigned long long)io->offset, (unsigned long long)io->size, (unsigned long long)nbytes);
        return false;
    }
    io->shmem = host_shmem(ctx, res_id, io->size);
    return io->shmem != NULL;
}

static uint32_t buffer_set_tensor(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)enc;
    struct tensor_io io;
    if (!decode_tensor_io(ctx, call_tensors(ctx), dec, &io)) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_tensor_set(io.tensor, io.shmem, (size_t)io.offset, (size_t)io.size);
    return APIR_CALL_OK;
}

static uint32_t buffer_get_tensor(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)enc;
    struct tensor_io io;
    if (!decode_tensor_io(ctx, call_tensors(ctx), dec, &io)) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_tensor_get(io.tensor, io.shmem, (size_t)io.offset, (size_t)io.size);
    return APIR_CALL_OK;
}

static uint32_t buffer_cpy_tensor(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    struct ggml_context *mem = call_tensors(ctx);
    ggml_backend_buffer_t buffer = decode_buffer(ctx, dec);
    struct ggml_tensor *src = buffer ? decode_wire_tensor(ctx, mem, dec) : NULL;
    struct ggml_tensor *dst = src ? decode_wire_tensor(ctx, mem, dec) : NULL;
    if (dst == NULL) {
        return APIR_CALL_FAILED;
    }
    if (dst->buffer != buffer || ggml_nbytes(src) != ggml_nbytes(dst)) {
        LOG_ERROR("buffer_cpy_tensor: '%s' and '%s' differ in size, or the buffer is wrong", src->name, dst->name);
        return APIR_CALL_FAILED;
    }
    apir_encode_bool(enc, ggml_backend_buffer_copy_tensor(src, dst));
    return APIR_CALL_OK;
}

static uint32_t buffer_clear(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)enc;
    ggml_backend_buffer_t buffer = decode_buffer(ctx, dec);
    const uint8_t value = apir_decode_u8(dec);
    if (buffer == NULL || dec->fatal) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_buffer_clear(buffer, value);
    return APIR_CALL_OK;
}

static uint32_t buffer_free_buffer(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)enc;
    const uint64_t handle = apir_decode_u64(dec);
    ggml_backend_buffer_t buffer = dec->fatal ? NULL : host_buffer_remove(ctx, handle);
    if (buffer == NULL) {
        LOG_ERROR("buffer_free_buffer: unknown buffer handle 0x%llx", (unsigned long long)handle);
        return APIR_CALL_FAILED;
    }
    ggml_backend_buffer_free(buffer);
    return APIR_CALL_OK;
}

/* ---- backend ------------------------------------------------------------ */

static uint32_t backend_graph_compute(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const uint32_t res_id = apir_decode_u32(dec);
    const uint64_t size = apir_decode_u64(dec);
    if (dec->fatal) {
        return APIR_CALL_FAILED;
    }
    if (size == 0) {
        LOG_ERROR("backend_graph_compute: zero-size computation graph");
        return APIR_CALL_FAILED;
    }
    const uint8_t *data = host_shmem(ctx, res_id, size);
    struct ggml_cgraph *graph = data ? host_graph_from_wire(ctx, data, size) : NULL;
    if (graph == NULL) {
        LOG_ERROR("backend_graph_compute: cannot use the computation graph");
        return APIR_CALL_FAILED;
    }
    const int64_t start = ggml_time_us();
    apir_encode_i32(enc, (int32_t)ggml_backend_graph_compute(ctx->backend, graph));
    LOG_DEBUG("backend_graph_compute: %d nodes in %lld us", ggml_graph_n_nodes(graph),
               (long long)(ggml_time_us() - start));
    return APIR_CALL_OK;
}

static const host_call_fn calls[APIR_CALL_COUNT] = {
    [APIR_CALL_DEVICE_GET_DEVICE_COUNT] = device_get_device_count,
    [APIR_CALL_DEVICE_GET_COUNT] = device_get_count,
    [APIR_CALL_DEVICE_GET_NAME] = device_get_name,
    [APIR_CALL_DEVICE_GET_DESCRIPTION] = device_get_description,
    [APIR_CALL_DEVICE_GET_TYPE] = device_get_type,
    [APIR_CALL_DEVICE_GET_MEMORY] = device_get_memory,
    [APIR_CALL_DEVICE_SUPPORTS_OP] = device_supports_op,
    [APIR_CALL_DEVICE_GET_BUFFER_TYPE] = device_get_buffer_type,
    [APIR_CALL_DEVICE_GET_PROPS] = device_get_props,
    [APIR_CALL_DEVICE_BUFFER_FROM_PTR] = device_buffer_from_ptr,
    [APIR_CALL_BUFFER_TYPE_GET_NAME] = buffer_type_get_name,
    [APIR_CALL_BUFFER_TYPE_GET_ALIGNMENT] = buffer_type_get_alignment,
    [APIR_CALL_BUFFER_TYPE_GET_MAX_SIZE] = buffer_type_get_max_size,
    [APIR_CALL_BUFFER_TYPE_IS_HOST] = buffer_type_is_host,
    [APIR_CALL_BUFFER_TYPE_ALLOC_BUFFER] = buffer_type_alloc_buffer,
    [APIR_CALL_BUFFER_TYPE_GET_ALLOC_SIZE] = buffer_type_get_alloc_size,
    [APIR_CALL_BUFFER_GET_BASE] = buffer_get_base,
    [APIR_CALL_BUFFER_SET_TENSOR] = buffer_set_tensor,
    [APIR_CALL_BUFFER_GET_TENSOR] = buffer_get_tensor,
    [APIR_CALL_BUFFER_CPY_TENSOR] = buffer_cpy_tensor,
    [APIR_CALL_BUFFER_CLEAR] = buffer_clear,
    [APIR_CALL_BUFFER_FREE_BUFFER] = buffer_free_buffer,
    [APIR_CALL_BACKEND_GRAPH_COMPUTE] = backend_graph_compute,
};

/* ---- extensions ----------------------------------------------------------- */

static uint32_t ext_device_count(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)dec;
    apir_encode_i32(enc, (int32_t)ggml_backend_reg_dev_count(ctx->reg));
    return APIR_CALL_OK;
}

static uint32_t ext_bind_device(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc)
{
    (void)enc;
    const uint32_t index = apir_decode_u32(dec);
    for (uint32_t i = 0; i < ctx->n_slots; i++) {
        if (ctx->slots[i].buffer != NULL) {
            LOG_ERROR("ext_bind_device: the context already has buffers on %s", ggml_backend_dev_name(ctx->dev));
            return APIR_CALL_FAILED;
        }
    }
    return !dec->fatal && host_bind_device(ctx, index) ? APIR_CALL_OK : APIR_CALL_FAILED;
}

static host_call_fn find_call(uint32_t call)
{
    if (call < APIR_CALL_COUNT) {
        return calls[call];
    }
    switch (call) {
    case APIR_CALL_EXT_DEVICE_COUNT: return ext_device_count;
    case APIR_CALL_EXT_BIND_DEVICE: return ext_bind_device;
    default: return NULL;
    }
}

uint32_t host_dispatch(struct host_ctx *ctx, uint32_t call, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const host_call_fn fn = find_call(call);
    if (fn == NULL) {
        LOG_ERROR("invalid call index %u", call);
        return APIR_CALL_INVALID_INDEX;
    }
    CTX_DEBUG(ctx->ctx_id, "%s", apir_call_name(call));
    return fn(ctx, dec, enc);
}
