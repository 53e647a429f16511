/* The forwarded ggml calls, host side: one handler per call of APIR_CALLS
 * (dispatch.c decodes the request and encodes the reply). Each handler
 * validates its arguments against this context's state, calls the real
 * GGML backend and fills the reply. A failed check logs what was wrong,
 * notes why (host_refuse) and returns APIR_CALL_FAILED; nothing a guest
 * sends reaches ggml unchecked. */
#define _GNU_SOURCE /* syscall */
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

#include "ggml-backend-impl.h"

/* The context's small ggml context for the tensors of one call (a tensor and
 * its sources, or two tensors): reset, not allocated, per call. */
static struct ggml_context *call_tensors(struct host_ctx *ctx)
{
    ggml_reset(ctx->call_ctx);
    return ctx->call_ctx;
}

static ggml_backend_buffer_t find_buffer(struct host_ctx *ctx, uint64_t handle, const char *call)
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
static void *guest_memory(struct host_ctx *ctx, uint32_t res_id, uint64_t need)
{
    void *ptr = host_shmem(ctx, res_id, need);
    host_capture_shmem(ctx, res_id, ptr, need);
    return ptr;
}

static void reply_string(apir_field_string out, const char *s)
{
    snprintf(out, sizeof(apir_field_string), "%s", s);
}

/* ---- device ------------------------------------------------------------- */

uint32_t host_call_device_get_device_count(struct host_ctx *ctx, const struct apir_msg_none *req,
                                           struct apir_msg_i32 *out)
{
    (void)req;
    out->value = (int32_t)ggml_backend_reg_dev_count(ctx->reg);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_count(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_i32 *out)
{
    (void)ctx;
    (void)req;
    out->value = 1; /* the devices this context exposes: one, its device 0 */
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_name(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_string *out)
{
    (void)req;
    reply_string(out->value, ggml_backend_dev_name(ctx->dev));
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_description(struct host_ctx *ctx, const struct apir_msg_none *req,
                                          struct apir_msg_string *out)
{
    (void)req;
    reply_string(out->value, ggml_backend_dev_description(ctx->dev));
    return APIR_CALL_OK;
}

/* To the guest the host's device is a remote accelerator, whatever it is
 * here: a CPU (or accelerator) is told as a GPU, or llama.cpp would not
 * offload layers to it (llama.cpp's own frontend passes the type on as is). */
uint32_t host_call_device_get_type(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_u32 *out)
{
    (void)req;
    const enum ggml_backend_dev_type type = ggml_backend_dev_type(ctx->dev);
    out->value = (uint32_t)(type == GGML_BACKEND_DEVICE_TYPE_IGPU ? type : GGML_BACKEND_DEVICE_TYPE_GPU);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_memory(struct host_ctx *ctx, const struct apir_msg_none *req,
                                     struct apir_msg_memory *out)
{
    (void)req;
    size_t free_bytes = 0, total_bytes = 0;
    ggml_backend_dev_memory(ctx->dev, &free_bytes, &total_bytes);
    out->free_bytes = free_bytes;
    out->total_bytes = total_bytes;
    return APIR_CALL_OK;
}

/* Whether the op table accepts the op and the device supports it. */
static bool op_supported(struct host_ctx *ctx, const struct ggml_tensor *op)
{
    /* the table first: the device's supports_op reads the sources an op takes */
    char why[HOST_OP_WHY_SIZE];
    if (!host_op_accepted(op, why, sizeof why)) {
        CTX_DEBUG(ctx->ctx_id, "supports_op: no, %s", why);
        return false;
    }
    return ggml_backend_dev_supports_op(ctx->dev, op);
}

uint32_t host_call_device_supports_op(struct host_ctx *ctx, const struct apir_msg_op *req,
                                      struct apir_msg_boolean *out)
{
    struct ggml_tensor *op = host_inline_tensor(ctx, call_tensors(ctx), &req->op);
    if (op == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = op_supported(ctx, op);
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_buffer_type(struct host_ctx *ctx, const struct apir_msg_none *req,
                                          struct apir_msg_u64 *out)
{
    (void)ctx;
    (void)req;
    out->value = HOST_BUFT_HANDLE;
    return APIR_CALL_OK;
}

uint32_t host_call_device_get_props(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_props *out)
{
    (void)req;
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->dev, &props);
    out->async = props.caps.async;
    /* whether the device has a host buffer type (pinned.c pins shared
     * memory for such a device), whatever its props say */
    out->host_buffer = ggml_backend_dev_host_buffer_type(ctx->dev) != NULL;
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
uint32_t host_call_device_buffer_from_ptr(struct host_ctx *ctx, const struct apir_msg_from_ptr *req,
                                          struct apir_msg_buffer_and_type *out)
{
    struct ggml_backend_dev_props props;
    ggml_backend_dev_get_props(ctx->dev, &props);
    if (!props.caps.buffer_from_host_ptr || !ctx->shmem_size_known) {
        CTX_ERROR(ctx->ctx_id, "device_buffer_from_ptr: not possible here (the device cannot wrap memory, or "
                               "the hypervisor does not give blob sizes)");
        return APIR_CALL_NOT_ALLOWED;
    }
    /* not charged to the memory quota: the memory is the guest's blob */
    if (!host_buffer_admit(ctx, 0, "device_buffer_from_ptr")) {
        return APIR_CALL_FAILED;
    }
    void *ptr = guest_memory(ctx, req->res_id, req->size);
    /* ggml asserts (aborts) on a base that is not aligned for its tensors */
    const size_t alignment = ggml_backend_buft_get_alignment(ctx->buft);
    if (ptr != NULL && (uintptr_t)ptr % alignment != 0) {
        CTX_ERROR(ctx->ctx_id, "device_buffer_from_ptr: resource %u is mapped at an address not aligned to %zu bytes",
                  req->res_id, alignment);
        return APIR_CALL_NOT_ALLOWED;
    }
    /* the blob must outlive the buffer, whatever the guest unrefs */
    ptr = ptr && ctx->cbs.pin_shmem(ctx->ctx_id, req->res_id) ? ptr : NULL;
    ggml_backend_buffer_t buffer =
        ptr && req->size > 0
            ? ggml_backend_dev_buffer_from_host_ptr(ctx->dev, ptr, (size_t)req->size, (size_t)req->max_tensor_size)
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

/* ---- buffer type -------------------------------------------------------- */

uint32_t host_call_buffer_type_get_name(struct host_ctx *ctx, const struct apir_msg_u64 *req,
                                        struct apir_msg_string *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->value, "buffer_type_get_name");
    if (buft == NULL) {
        return APIR_CALL_FAILED;
    }
    reply_string(out->value, ggml_backend_buft_name(buft));
    return APIR_CALL_OK;
}

/* a size property of the buffer type named by the request */
static uint32_t reply_buft_size(struct host_ctx *ctx, uint64_t buft, struct apir_msg_u64 *out,
                                size_t (*property)(ggml_backend_buffer_type_t))
{
    ggml_backend_buffer_type_t type = host_buft_from_handle(ctx, buft, "buffer_type_get_alignment/max_size");
    if (type == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = property(type);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_type_get_alignment(struct host_ctx *ctx, const struct apir_msg_u64 *req,
                                             struct apir_msg_u64 *out)
{
    return reply_buft_size(ctx, req->value, out, ggml_backend_buft_get_alignment);
}

uint32_t host_call_buffer_type_get_max_size(struct host_ctx *ctx, const struct apir_msg_u64 *req,
                                            struct apir_msg_u64 *out)
{
    return reply_buft_size(ctx, req->value, out, ggml_backend_buft_get_max_size);
}

uint32_t host_call_buffer_type_is_host(struct host_ctx *ctx, const struct apir_msg_u64 *req,
                                       struct apir_msg_boolean *out)
{
    (void)ctx;
    (void)req;
    out->value = false; /* deprecated; the guest cannot touch host memory directly */
    return APIR_CALL_OK;
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
                 ggml_backend_dev_name(ctx->dev));
    } else if (ggml_backend_buffer_get_size(buffer) > size &&
               !host_buffer_admit(ctx, ggml_backend_buffer_get_size(buffer), "buffer_type_alloc_buffer")) {
        ggml_backend_buffer_free(buffer);
        buffer = NULL;
    }
    return buffer;
}

uint32_t host_call_buffer_type_alloc_buffer(struct host_ctx *ctx, const struct apir_msg_alloc *req,
                                            struct apir_msg_u64 *out)
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
    return out->value == 0 && ctx->detailed_errors && ctx->refusal != 0 ? APIR_CALL_FAILED : APIR_CALL_OK;
}

uint32_t host_call_buffer_type_get_alloc_size(struct host_ctx *ctx, const struct apir_msg_buft_op *req,
                                              struct apir_msg_u64 *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->buft, "buffer_type_get_alloc_size");
    if (buft == NULL) {
        return APIR_CALL_FAILED;
    }
    struct ggml_tensor *t = host_inline_tensor(ctx, call_tensors(ctx), &req->op);
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

/* ---- buffer ------------------------------------------------------------- */

uint32_t host_call_buffer_get_base(struct host_ctx *ctx, const struct apir_msg_u64 *req, struct apir_msg_u64 *out)
{
    if (find_buffer(ctx, req->value, "buffer_get_base") == NULL) {
        return APIR_CALL_FAILED;
    }
    out->value = host_buffer_guest_base(req->value);
    return APIR_CALL_OK;
}

/* set_tensor / get_tensor / queued writes: the tensor's bytes [offset,
 * offset + size) move through bytes [data_offset, data_offset + size) of a
 * shared-memory resource. */
struct tensor_io {
    uint64_t buffer;
    const struct apir_wire_tensor *wire;
    uint32_t res_id;
    uint64_t data_offset;
    uint64_t offset;
    uint64_t size;
    /* resolved */
    struct ggml_tensor *tensor;
    uint8_t *shmem;
    bool pinned; /* the device copies straight from and into it */
};

/* below this a transfer goes straight to shared memory: the driver's own
 * staging is as fast, and a small copy is dominated by its latency */
#define STAGING_MIN_BYTES (64u << 10)

static bool prepare_tensor_io(struct host_ctx *ctx, struct tensor_io *io)
{
    ggml_backend_buffer_t buffer = find_buffer(ctx, io->buffer, "tensor transfer");
    io->tensor = buffer ? host_tensor_from_wire(ctx, call_tensors(ctx), io->wire, true) : NULL;
    if (io->tensor == NULL) {
        return false;
    }
    if (io->tensor->buffer != buffer) {
        CTX_ERROR(ctx->ctx_id, "tensor '%s' is not in the buffer the call names", io->tensor->name);
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return false;
    }
    const uint64_t nbytes = ggml_nbytes(io->tensor);
    if (io->offset > nbytes || io->size > nbytes - io->offset) {
        CTX_ERROR(ctx->ctx_id, "tensor '%s': bytes [%llu, +%llu) are outside its %llu bytes", io->tensor->name,
                  (unsigned long long)io->offset, (unsigned long long)io->size, (unsigned long long)nbytes);
        host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
        return false;
    }
    if (io->data_offset > UINT64_MAX - io->size) {
        CTX_ERROR(ctx->ctx_id, "tensor '%s': shared-memory offset %llu overflows", io->tensor->name,
                  (unsigned long long)io->data_offset);
        host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
        return false;
    }
    uint8_t *blob = guest_memory(ctx, io->res_id, io->data_offset + io->size);
    if (blob == NULL) {
        return false;
    }
    io->shmem = blob + io->data_offset;
    io->pinned = io->size >= STAGING_MIN_BYTES && host_shmem_pinned(ctx, io->res_id, blob);
    return true;
}


/* The context's pinned staging memory, at least size bytes, or NULL when
 * the device has no host buffer type (the CPU) or it cannot be had. */
static void *staging(struct host_ctx *ctx, uint64_t size)
{
    ggml_backend_buffer_type_t host_type = ggml_backend_dev_host_buffer_type(ctx->dev);
    if (host_type == NULL || size < STAGING_MIN_BYTES) {
        return NULL;
    }
    if (ctx->staging != NULL && ggml_backend_buffer_get_size(ctx->staging) < size) {
        ggml_backend_buffer_free(ctx->staging);
        ctx->staging = NULL;
    }
    if (ctx->staging == NULL && (ctx->staging = ggml_backend_buft_alloc_buffer(host_type, (size_t)size)) == NULL) {
        CTX_WARN(ctx->ctx_id, "no pinned staging memory of %llu bytes; copying directly", (unsigned long long)size);
        return NULL;
    }
    return ggml_backend_buffer_get_base(ctx->staging);
}

/* Bytes [offset, offset + size) of the tensor into shared memory, through
 * pinned staging when the device has it, the transfer is large and the
 * shared memory is not pinned itself. */
static void read_tensor(struct host_ctx *ctx, const struct ggml_tensor *t, uint8_t *shmem, size_t offset,
                        size_t size, bool shmem_pinned)
{
    void *pinned = shmem_pinned ? NULL : staging(ctx, size);
    ctx->tensor_bytes_out += size;
    ggml_backend_tensor_get(t, pinned ? pinned : shmem, offset, size);
    if (pinned != NULL) {
        memcpy(shmem, pinned, size);
    }
}

/* Whether the tensor is in the device's own memory (its default buffer
 * type), the only memory its backend's asynchronous copies take. */
static bool in_device_memory(const struct host_ctx *ctx, const struct ggml_tensor *t)
{
    return ggml_backend_buffer_get_type(t->buffer) == ggml_backend_dev_buffer_type(ctx->dev);
}

/* Room for a private copy of a write of `size` bytes in the area of
 * writes seen, or NULL when it is too large or there is no area. */
static uint8_t *write_copy(struct host_ctx *ctx, struct host_writes_seen *seen, size_t size)
{
    if (size > HOST_WRITE_COPY_MAX) {
        return NULL;
    }
    if (seen->area == NULL) {
        const size_t area = (size_t)APIR_MAX_WRITES * HOST_WRITE_COPY_MAX;
        ggml_backend_buffer_type_t host_type = ggml_backend_dev_host_buffer_type(ctx->dev);
        seen->area = ggml_backend_buft_alloc_buffer(host_type ? host_type : ggml_backend_cpu_buffer_type(), area);
        if (seen->area == NULL) {
            return NULL;
        }
    }
    uint8_t *copy = (uint8_t *)ggml_backend_buffer_get_base(seen->area) + seen->used;
    seen->used += size;
    return copy;
}

/* A write into the tensor; with `seen`, one of this call's writes, copied
 * privately first when small and in device memory (the index checks read
 * host memory itself), and recorded for the index checks. */
static void write_tensor(struct host_ctx *ctx, struct tensor_io *io, struct host_writes_seen *seen)
{
    const size_t offset = (size_t)io->offset, size = (size_t)io->size;
    const bool device_memory = !ggml_backend_buffer_is_host(io->tensor->buffer);
    uint8_t *copy = seen && device_memory ? write_copy(ctx, seen, size) : NULL;
    void *pinned = copy || io->pinned ? NULL : staging(ctx, size);
    void *bounce = copy ? (void *)copy : pinned ? pinned : io->shmem;
    if (bounce != io->shmem) {
        memcpy(bounce, io->shmem, size);
    }
    if (copy != NULL && in_device_memory(ctx, io->tensor)) {
        /* a graph run's input in the device's own memory, from the host's
         * copy, which outlives the run: queued on the backend's stream
         * ahead of the graph (ext_graph_run synchronizes) */
        ggml_backend_tensor_set_async(ctx->backend, io->tensor, copy, offset, size);
    } else {
        ggml_backend_tensor_set(io->tensor, bounce, offset, size);
    }
    ctx->tensor_bytes_in += size;
    if (seen != NULL) { /* a call has at most APIR_MAX_WRITES writes (its decoder's bound) */
        seen->items[seen->count++] =
            (struct host_write_record){ .start = (uintptr_t)io->tensor->data + offset, .size = size, .copy = copy };
    }
}

/* A tensor of an extra (repacking) buffer is written whole, as one its
 * type takes, and never read back (extra-buft.c says why). */
static bool extra_io_allowed(struct host_ctx *ctx, const struct tensor_io *io, bool into_tensor)
{
    struct ggml_tensor *t = io->tensor;
    char why[HOST_OP_WHY_SIZE];
    if (!host_buffer_is_extra(ctx, t->buffer)) {
        return true;
    }
    if (!into_tensor) {
        CTX_ERROR(ctx->ctx_id, "tensor '%s' is in a buffer of type %s, whose bytes cannot be read back", t->name,
                  ggml_backend_buffer_name(t->buffer));
    } else if (io->offset != 0 || io->size != ggml_nbytes(t)) {
        CTX_ERROR(ctx->ctx_id, "tensor '%s' is in a buffer of type %s, which takes only whole tensors (%llu bytes "
                  "at 0), not %llu bytes at %llu", t->name, ggml_backend_buffer_name(t->buffer),
                  (unsigned long long)ggml_nbytes(t), (unsigned long long)io->size, (unsigned long long)io->offset);
    } else if (!host_extra_tensor_ok(t, why, sizeof why)) {
        CTX_ERROR(ctx->ctx_id, "refused a write: %s", why);
    } else {
        return true;
    }
    host_refuse(ctx, APIR_CALL_NOT_ALLOWED);
    return false;
}

static uint32_t run_tensor_io(struct host_ctx *ctx, struct tensor_io *io, bool into_tensor,
                              struct host_writes_seen *seen)
{
    if (!prepare_tensor_io(ctx, io) || !extra_io_allowed(ctx, io, into_tensor)) {
        return APIR_CALL_FAILED;
    }
    if (into_tensor) {
        write_tensor(ctx, io, seen);
    } else {
        read_tensor(ctx, io->tensor, io->shmem, (size_t)io->offset, (size_t)io->size, io->pinned);
    }
    return APIR_CALL_OK;
}

static uint32_t run_tensor_io_request(struct host_ctx *ctx, const struct apir_msg_tensor_io *req, bool into_tensor)
{
    struct tensor_io io = { .buffer = req->buffer, .wire = &req->tensor, .res_id = req->res_id,
                            .data_offset = 0, .offset = req->offset, .size = req->size };
    return run_tensor_io(ctx, &io, into_tensor, NULL);
}

/* the queued writes, in order, recorded in `seen` if not NULL; stops at
 * the first that fails */
static uint32_t run_writes(struct host_ctx *ctx, const struct apir_tensor_writes *writes,
                           struct host_writes_seen *seen)
{
    for (uint32_t i = 0; i < writes->count; i++) {
        const struct apir_tensor_write *w = &writes->items[i];
        struct tensor_io io = { .buffer = w->buffer, .wire = &w->tensor, .res_id = writes->res_id,
                                .data_offset = w->data_offset, .offset = w->offset, .size = w->size };
        if (run_tensor_io(ctx, &io, true, seen) != APIR_CALL_OK) {
            CTX_ERROR(ctx->ctx_id, "queued write %u of %u failed", i + 1, writes->count);
            return APIR_CALL_FAILED;
        }
    }
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_set_tensor(struct host_ctx *ctx, const struct apir_msg_tensor_io *req,
                                     struct apir_msg_none *out)
{
    (void)out;
    return run_tensor_io_request(ctx, req, true);
}

uint32_t host_call_buffer_get_tensor(struct host_ctx *ctx, const struct apir_msg_tensor_io *req,
                                     struct apir_msg_none *out)
{
    (void)out;
    return run_tensor_io_request(ctx, req, false);
}

uint32_t host_call_buffer_cpy_tensor(struct host_ctx *ctx, const struct apir_msg_copy *req,
                                     struct apir_msg_boolean *out)
{
    struct ggml_context *mem = call_tensors(ctx);
    ggml_backend_buffer_t buffer = find_buffer(ctx, req->buffer, "buffer_cpy_tensor");
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

uint32_t host_call_buffer_clear(struct host_ctx *ctx, const struct apir_msg_clear *req, struct apir_msg_none *out)
{
    (void)out;
    ggml_backend_buffer_t buffer = find_buffer(ctx, req->buffer, "buffer_clear");
    if (buffer == NULL) {
        return APIR_CALL_FAILED;
    }
    ggml_backend_buffer_clear(buffer, req->value);
    return APIR_CALL_OK;
}

uint32_t host_call_buffer_free_buffer(struct host_ctx *ctx, const struct apir_msg_u64 *req, struct apir_msg_none *out)
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

/* ---- backend ------------------------------------------------------------ */

/* Tells a guest waiting on ext_graph_run_async that its work is taken:
 * the acceptance word, then a wake-up for a guest asleep on it (a guest in
 * a VM polls it). */
static void signal_accepted(struct host_ctx *ctx)
{
    if (ctx->accept_word != NULL) {
        atomic_store_explicit(ctx->accept_word, 1, memory_order_release);
        syscall(SYS_futex, ctx->accept_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        ctx->accept_word = NULL;
    }
}

/* Runs a graph, once the indices the guest wrote are checked, into
 * *status (a ggml_status), and logs how long it took. */
static uint32_t compute(struct host_ctx *ctx, const struct host_graph *graph, int32_t *status,
                        const struct host_writes_seen *seen)
{
    const int64_t checked = ggml_time_us();
    if (!host_index_checks_pass(ctx, graph->index_checks, seen)) {
        return APIR_CALL_FAILED;
    }
    signal_accepted(ctx);
    const int64_t start = ggml_time_us();
    *status = (int32_t)ggml_backend_graph_compute(ctx->backend, graph->cgraph);
    CTX_DEBUG(ctx->ctx_id, "backend_graph_compute: %d nodes in %lld us (its indices checked in %lld us)",
              ggml_graph_n_nodes(graph->cgraph), (long long)(ggml_time_us() - start), (long long)(start - checked));
    return APIR_CALL_OK;
}

/* the graph of `size` bytes of resource res_id, decoded once and kept */
static const struct host_graph *graph_from_guest(struct host_ctx *ctx, uint32_t res_id, uint64_t size,
                                                 uint64_t key, bool use_counts)
{
    if (size == 0) {
        CTX_ERROR(ctx->ctx_id, "backend_graph_compute: zero-size computation graph");
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return NULL;
    }
    const uint8_t *data = guest_memory(ctx, res_id, size);
    const struct host_graph *graph = data ? host_graph_cache_get(ctx, data, size, key, use_counts) : NULL;
    if (graph == NULL) {
        CTX_ERROR(ctx->ctx_id, "backend_graph_compute: cannot use the computation graph");
    }
    return graph;
}

uint32_t host_call_backend_graph_compute(struct host_ctx *ctx, const struct apir_msg_graph *req,
                                         struct apir_msg_i32 *out)
{
    const struct host_graph *graph = graph_from_guest(ctx, req->res_id, req->size, 0, false);
    return graph != NULL ? compute(ctx, graph, &out->value, NULL) : APIR_CALL_FAILED;
}

/* ---- extensions ----------------------------------------------------------- */

uint32_t host_call_ext_device_count(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_i32 *out)
{
    return host_call_device_get_device_count(ctx, req, out);
}

uint32_t host_call_ext_bind_device(struct host_ctx *ctx, const struct apir_msg_u32 *req, struct apir_msg_none *out)
{
    (void)out;
    if (host_buffer_count(ctx) != 0) {
        CTX_ERROR(ctx->ctx_id, "ext_bind_device: the context already has buffers on %s",
                  ggml_backend_dev_name(ctx->dev));
        return APIR_CALL_NOT_ALLOWED;
    }
    if (req->value >= ggml_backend_reg_dev_count(ctx->reg)) {
        host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
    }
    return host_bind_device(ctx, req->value) ? APIR_CALL_OK : APIR_CALL_FAILED;
}

uint32_t host_call_ext_set_tensors(struct host_ctx *ctx, const struct apir_msg_writes *req, struct apir_msg_none *out)
{
    (void)out;
    return run_writes(ctx, &req->writes, NULL);
}

/* The graph's outputs into the first outputs_max bytes of blob res_id, laid
 * out as apir-calls.h says: how many. */
static uint32_t copy_outputs(struct host_ctx *ctx, const struct ggml_cgraph *graph, uint32_t res_id,
                             uint64_t outputs_max)
{
    uint8_t *shmem = outputs_max > 0 ? host_shmem(ctx, res_id, outputs_max) : NULL;
    const bool pinned = shmem != NULL && host_shmem_pinned(ctx, res_id, shmem);
    bool queued = false;
    uint32_t copied = 0;
    uint64_t used = 0;
    for (int i = 0; shmem != NULL && i < ggml_graph_n_nodes((struct ggml_cgraph *)graph) && copied < APIR_MAX_OUTPUTS;
         i++) {
        const struct ggml_tensor *node = ggml_graph_node((struct ggml_cgraph *)graph, i);
        if ((node->flags & GGML_TENSOR_FLAG_OUTPUT) == 0) {
            continue;
        }
        const uint64_t at = apir_output_offset(used), size = ggml_nbytes(node);
        if (at > outputs_max || size > outputs_max - at) {
            break;
        }
        if (pinned && in_device_memory(ctx, node)) {
            /* into pinned memory the copies run asynchronously: one wait */
            ggml_backend_tensor_get_async(ctx->backend, node, shmem + at, 0, (size_t)size);
            ctx->tensor_bytes_out += size;
            queued = true;
        } else {
            read_tensor(ctx, node, shmem + at, 0, (size_t)size, pinned);
        }
        used = at + size;
        copied++;
    }
    if (queued) {
        ggml_backend_synchronize(ctx->backend);
    }
    return copied;
}

/* The run's writes (queued on the backend's stream), then its graph,
 * decoded from the guest unless kept; *graph is set once known. */
static uint32_t write_and_compute(struct host_ctx *ctx, const struct apir_msg_graph_run *req,
                                  const struct host_graph **graph, struct apir_msg_graph_result *out,
                                  int64_t *written)
{
    struct host_writes_seen *seen = &ctx->writes_seen;
    seen->count = 0;
    seen->used = 0;
    if (run_writes(ctx, &req->writes, seen) != APIR_CALL_OK) {
        return APIR_CALL_FAILED;
    }
    *written = ggml_time_us();
    if (*graph == NULL && (*graph = graph_from_guest(ctx, req->res_id, req->size, req->key, true)) == NULL) {
        return APIR_CALL_FAILED;
    }
    out->kept = true;
    return compute(ctx, *graph, &out->status, seen);
}

/* A kept graph is looked up before the writes run: a guest told "not
 * kept" sends the same writes again with the whole graph. */
uint32_t host_call_ext_graph_run(struct host_ctx *ctx, const struct apir_msg_graph_run *req,
                                 struct apir_msg_graph_result *out)
{
    const struct host_graph *graph = NULL;
    if (req->size == 0 && (graph = host_graph_cache_find(ctx, req->key)) == NULL) {
        out->kept = false;
        return APIR_CALL_OK;
    }
    const int64_t start = ggml_time_us();
    int64_t written = start;
    const uint32_t rc = write_and_compute(ctx, req, &graph, out, &written);
    if (rc != APIR_CALL_OK) {
        /* the graph did not run (it synchronizes): the queued writes are
         * done before the guest hears of it */
        ggml_backend_synchronize(ctx->backend);
        return rc;
    }
    const int64_t computed = ggml_time_us();
    if (out->status == GGML_STATUS_SUCCESS) {
        out->outputs = copy_outputs(ctx, graph->cgraph, req->res_id, req->outputs_max);
    }
    CTX_DEBUG(ctx->ctx_id, "ext_graph_run: %u writes in %lld us, graph in %lld us, %u outputs in %lld us",
              ctx->writes_seen.count, (long long)(written - start), (long long)(computed - written), out->outputs,
              (long long)(ggml_time_us() - computed));
    return rc;
}

uint32_t host_call_ext_graph_run_async(struct host_ctx *ctx, const struct apir_msg_graph_run *req,
                                       struct apir_msg_graph_result *out)
{
    const size_t at = apir_accept_word_offset(ctx->reply_page_size);
    ctx->accept_word = at != 0 ? (_Atomic uint32_t *)(void *)(ctx->reply_page + at) : NULL;
    const uint32_t rc = host_call_ext_graph_run(ctx, req, out);
    ctx->accept_word = NULL; /* not taken: the reply word says how it ended */
    return rc;
}

uint32_t host_call_ext_error_codes(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_none *out)
{
    (void)req;
    (void)out;
    ctx->detailed_errors = true;
    return APIR_CALL_OK;
}

uint32_t host_call_ext_extra_bufts(struct host_ctx *ctx, const struct apir_msg_none *req, struct apir_msg_handles *out)
{
    (void)req;
    out->value.count = ctx->n_extra_bufts;
    for (uint32_t i = 0; i < ctx->n_extra_bufts; i++) {
        out->value.items[i] = HOST_BUFT_HANDLE + 1 + i;
    }
    return APIR_CALL_OK;
}

/* The op with its first source (a weight, as llama.cpp asks to place one)
 * in an empty buffer of the type named: ggml-cpu's supports_op then asks
 * the repacking type whether it runs the op on that weight. */
uint32_t host_call_ext_buft_supports_op(struct host_ctx *ctx, const struct apir_msg_buft_op *req,
                                        struct apir_msg_boolean *out)
{
    ggml_backend_buffer_type_t buft = host_buft_from_handle(ctx, req->buft, "ext_buft_supports_op");
    struct ggml_tensor *op = buft ? host_inline_tensor(ctx, call_tensors(ctx), &req->op) : NULL;
    if (op == NULL) {
        return APIR_CALL_FAILED;
    }
    struct ggml_tensor *weight = op->src[0];
    if (weight != NULL) {
        weight->buffer = ggml_backend_buft_alloc_buffer(buft, 0); /* ggml's dummy of size 0: never NULL */
    }
    out->value = op_supported(ctx, op);
    if (weight != NULL) {
        ggml_backend_buffer_free(weight->buffer);
    }
    return APIR_CALL_OK;
}
