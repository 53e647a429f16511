/* Tensor data between the guest's shared memory and the device: one
 * tensor's bytes in or out, the queued writes of a graph run (recorded for
 * its index checks), a graph's outputs; through pinned memory when the
 * device has it. */
#include "tensor-io.h"

#include <string.h>

#include "call-args.h"
#include "decode.h"
#include "extra-buft.h"
#include "handles.h"
#include "log.h"
#include "op-table.h"
#include "shmem.h"

/* set_tensor / get_tensor / queued writes: the tensor's bytes [offset,
 * offset + size) move through bytes [data_offset, data_offset + size) of a
 * shared-memory resource. */
struct tensor_io {
    uint64_t buffer;
    const struct wire_tensor *wire;
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
    ggml_backend_buffer_t buffer = host_find_buffer(ctx, io->buffer, "tensor transfer");
    io->tensor = buffer ? host_tensor_from_wire(ctx, host_call_tensors(ctx), io->wire, true) : NULL;
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
    uint8_t *blob = host_guest_memory(ctx, io->res_id, io->data_offset + io->size);
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
    ggml_backend_buffer_type_t host_type = ggml_backend_dev_host_buffer_type(ctx->device.dev);
    if (host_type == NULL || size < STAGING_MIN_BYTES) {
        return NULL;
    }
    if (ctx->io.staging != NULL && ggml_backend_buffer_get_size(ctx->io.staging) < size) {
        ggml_backend_buffer_free(ctx->io.staging);
        ctx->io.staging = NULL;
    }
    if (ctx->io.staging == NULL && (ctx->io.staging = ggml_backend_buft_alloc_buffer(host_type, (size_t)size)) == NULL) {
        CTX_WARN(ctx->ctx_id, "no pinned staging memory of %llu bytes; copying directly", (unsigned long long)size);
        return NULL;
    }
    return ggml_backend_buffer_get_base(ctx->io.staging);
}

/* Bytes [offset, offset + size) of the tensor into shared memory, through
 * pinned staging when the device has it, the transfer is large and the
 * shared memory is not pinned itself. */
static void read_tensor(struct host_ctx *ctx, const struct ggml_tensor *t, uint8_t *shmem, size_t offset,
                        size_t size, bool shmem_pinned)
{
    void *pinned = shmem_pinned ? NULL : staging(ctx, size);
    ctx->io.bytes_out += size;
    ggml_backend_tensor_get(t, pinned ? pinned : shmem, offset, size);
    if (pinned != NULL) {
        memcpy(shmem, pinned, size);
    }
}

/* Whether the tensor is in the device's own memory (its default buffer
 * type), the only memory its backend's asynchronous copies take. */
static bool in_device_memory(const struct host_ctx *ctx, const struct ggml_tensor *t)
{
    return ggml_backend_buffer_get_type(t->buffer) == ggml_backend_dev_buffer_type(ctx->device.dev);
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
        ggml_backend_buffer_type_t host_type = ggml_backend_dev_host_buffer_type(ctx->device.dev);
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
        ggml_backend_tensor_set_async(ctx->device.backend, io->tensor, copy, offset, size);
    } else {
        ggml_backend_tensor_set(io->tensor, bounce, offset, size);
    }
    ctx->io.bytes_in += size;
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

uint32_t host_tensor_transfer(struct host_ctx *ctx, const struct wire_msg_tensor_io *req, bool into_tensor)
{
    struct tensor_io io = { .buffer = req->buffer, .wire = &req->tensor, .res_id = req->res_id,
                            .data_offset = 0, .offset = req->offset, .size = req->size };
    return run_tensor_io(ctx, &io, into_tensor, NULL);
}

/* the queued writes, in order, recorded in `seen` if not NULL; stops at
 * the first that fails */
uint32_t host_run_writes(struct host_ctx *ctx, const struct wire_tensor_writes *writes,
                           struct host_writes_seen *seen)
{
    for (uint32_t i = 0; i < writes->count; i++) {
        const struct wire_tensor_write *w = &writes->items[i];
        struct tensor_io io = { .buffer = w->buffer, .wire = &w->tensor, .res_id = writes->res_id,
                                .data_offset = w->data_offset, .offset = w->offset, .size = w->size };
        if (run_tensor_io(ctx, &io, true, seen) != APIR_CALL_OK) {
            CTX_ERROR(ctx->ctx_id, "queued write %u of %u failed", i + 1, writes->count);
            return APIR_CALL_FAILED;
        }
    }
    return APIR_CALL_OK;
}

/* The graph's outputs into the first outputs_max bytes of blob res_id, laid
 * out as wire-calls.h says: how many. */
uint32_t host_copy_outputs(struct host_ctx *ctx, const struct ggml_cgraph *graph, uint32_t res_id,
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
        const uint64_t at = wire_output_offset(used), size = ggml_nbytes(node);
        if (at > outputs_max || size > outputs_max - at) {
            break;
        }
        if (pinned && in_device_memory(ctx, node)) {
            /* into pinned memory the copies run asynchronously: one wait */
            ggml_backend_tensor_get_async(ctx->device.backend, node, shmem + at, 0, (size_t)size);
            ctx->io.bytes_out += size;
            queued = true;
        } else {
            read_tensor(ctx, node, shmem + at, 0, (size_t)size, pinned);
        }
        used = at + size;
        copied++;
    }
    if (queued) {
        ggml_backend_synchronize(ctx->device.backend);
    }
    return copied;
}
