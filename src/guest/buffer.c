/* VirtGPU buffers: memory of the host device, named by a host handle.
 * Tensor data moves through the connection's shared data blob, in chunks
 * of its size, under the connection's lock (one copy on each side), except
 * a large write from one of the guest's shared buffers (shared-buffer.c),
 * which the host takes from where it is. */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "calls.h"
#include "frontend.h"
#include "graph-run.h"
#include "host-buffer.h"
#include "lock.h"
#include "op-cache.h"
#include "queued-writes.h"
#include "remote.h"
#include "shared-blobs.h"
#include "wire.h"

#define ALLOC_SIZE_SALT 0xa110c5123ull

static struct vgpu_buft *buft_of(ggml_backend_buffer_type_t buft)
{
    return buft->context;
}

/* ---- buffers ------------------------------------------------------------ */

static struct vgpu_buffer *buffer_of(ggml_backend_buffer_t buffer)
{
    return buffer->context;
}

static void *buffer_get_base(ggml_backend_buffer_t buffer)
{
    return (void *)(uintptr_t)buffer_of(buffer)->base;
}

/* One set_tensor/get_tensor call for bytes [offset, offset + size) of the
 * tensor, which fit the data blob: src (when not NULL) goes into the blob
 * before the call, the blob into dst (when not NULL) after it. */
static bool tensor_io(struct vgpu_buffer *b, uint32_t call, const struct ggml_tensor *t, size_t offset,
                      size_t size, const void *src, void *dst)
{
    struct vgpu_remote *r = b->device->remote;
    struct wire_msg_tensor_io req = { .buffer = b->handle, .res_id = r->data.res_id, .offset = offset, .size = size };
    if (!vgpu_wire_tensor(t, &req.tensor)) {
        return false;
    }
    struct wire_msg_none none;
    vgpu_lock(r);
    if (call == APIR_CALL_BUFFER_GET_TENSOR && dst != NULL &&
        vgpu_read_run_output(r, b->handle, (uintptr_t)t->data + offset, size, dst)) {
        vgpu_unlock(r);
        return true; /* came back with the graph run */
    }
    if (call == APIR_CALL_BUFFER_SET_TENSOR && src != NULL && vgpu_queue_write(r, b->handle, &req.tensor, offset, src, size)) {
        vgpu_unlock(r);
        return true; /* sent with the next call */
    }
    bool refused = false;
    if (call == APIR_CALL_BUFFER_SET_TENSOR && src != NULL &&
        (vgpu_write_from_shared(r, b->handle, &req.tensor, offset, src, size, &refused) || refused)) {
        vgpu_unlock(r);
        if (!refused) {
            LOG_DEBUG("%zu bytes of tensor '%s' taken by the host from the shared memory they are in", size, t->name);
        }
        return !refused;
    }
    if (src != NULL) {
        memcpy(r->data.ptr, src, size);
    }
    const bool ok = (call == APIR_CALL_BUFFER_SET_TENSOR ? vgpu_buffer_set_tensor_locked(r, &req, &none)
                                                          : vgpu_buffer_get_tensor_locked(r, &req, &none)) ==
                    APIR_CALL_OK;
    if (ok && dst != NULL) {
        memcpy(dst, r->data.ptr, size);
    }
    vgpu_unlock(r);
    return ok;
}

/* Moves [offset, offset + size) in chunks of the data blob's size. A fill
 * value (memset) is used when src is NULL on a set. */
static void tensor_transfer(ggml_backend_buffer_t buffer, uint32_t call, const struct ggml_tensor *t,
                            const void *src, void *dst, size_t offset, size_t size, const uint8_t *fill)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    const size_t chunk_max = vgpu_data_capacity(b->device->remote);
    void *fill_chunk = NULL;
    if (fill != NULL && (fill_chunk = malloc(size < chunk_max ? size : chunk_max)) != NULL) {
        memset(fill_chunk, *fill, size < chunk_max ? size : chunk_max);
    }
    for (size_t done = 0; done < size;) {
        const size_t chunk = size - done < chunk_max ? size - done : chunk_max;
        const void *from = fill ? fill_chunk : src ? (const char *)src + done : NULL;
        void *to = dst ? (char *)dst + done : NULL;
        if ((fill && fill_chunk == NULL) || !tensor_io(b, call, t, offset + done, chunk, from, to)) {
            VGPU_CALL_ERROR(b->device->remote, "%s of tensor '%s' (%zu bytes) failed", wire_call_name(call), t->name,
                            size);
            break;
        }
        done += chunk;
    }
    free(fill_chunk);
}

/* A whole tensor of an extra (repacking) buffer type in one set_tensor,
 * as the host's type requires: through a blob of its own when it is larger
 * than the data blob (a 1B model's output weight is about 150 MB). */
static bool set_whole_tensor(struct vgpu_buffer *b, const struct ggml_tensor *t, const void *src, size_t size)
{
    struct vgpu_remote *r = b->device->remote;
    if (size <= vgpu_data_capacity(r)) {
        return tensor_io(b, APIR_CALL_BUFFER_SET_TENSOR, t, 0, size, src, NULL);
    }
    struct vgpu_transport *transport = r->transport;
    struct vgpu_blob blob;
    vgpu_lock(r); /* the transport is the connection's: one user at a time */
    if (!vgpu_transport_create_blob(transport, size, &blob)) {
        vgpu_unlock(r);
        LOG_ERROR("no shared memory of %zu MiB for tensor '%s' (written whole into %s)", size >> 20, t->name,
                  ggml_backend_buffer_name(t->buffer));
        return false;
    }
    LOG_DEBUG("tensor '%s' (%zu MiB) is written whole through a blob of its own", t->name, size >> 20);
    memcpy(blob.ptr, src, size);
    struct wire_msg_tensor_io req = { .buffer = b->handle, .res_id = blob.res_id, .offset = 0, .size = size };
    struct wire_msg_none none;
    const bool ok = vgpu_wire_tensor(t, &req.tensor) && vgpu_buffer_set_tensor_locked(r, &req, &none) == APIR_CALL_OK;
    vgpu_transport_destroy_blob(transport, &blob);
    vgpu_unlock(r);
    return ok;
}

/* Whether the buffer is of an extra type, which refuses `what` (logged):
 * its tensors are written whole, once, and never read back (the host's
 * repacked layout is not ggml's). */
static bool extra_type_refuses(ggml_backend_buffer_t buffer, const struct ggml_tensor *t, const char *what)
{
    if (!buft_of(buffer->buft)->extra) {
        return false;
    }
    LOG_ERROR("%s of tensor '%s' is not possible in buffer type %s: its tensors are written whole, once, and "
              "cannot be read back", what, t->name, ggml_backend_buffer_name(buffer));
    return true;
}

static void buffer_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, const void *data,
                              size_t offset, size_t size)
{
    if (!buft_of(buffer->buft)->extra) {
        tensor_transfer(buffer, APIR_CALL_BUFFER_SET_TENSOR, tensor, data, NULL, offset, size, NULL);
        return;
    }
    if (offset != 0 || size != ggml_nbytes(tensor)) {
        extra_type_refuses(buffer, tensor, "a partial write");
    } else if (!set_whole_tensor(buffer_of(buffer), tensor, data, size)) {
        VGPU_CALL_ERROR(buffer_of(buffer)->device->remote, "set_tensor of tensor '%s' (%zu bytes) into %s failed",
                        tensor->name, size, ggml_backend_buffer_name(buffer));
    }
}

static void buffer_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *tensor, void *data,
                              size_t offset, size_t size)
{
    if (!extra_type_refuses(buffer, tensor, "get_tensor")) {
        tensor_transfer(buffer, APIR_CALL_BUFFER_GET_TENSOR, tensor, NULL, data, offset, size, NULL);
    }
}

static void buffer_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, uint8_t value,
                                 size_t offset, size_t size)
{
    if (!extra_type_refuses(buffer, tensor, "memset_tensor")) {
        tensor_transfer(buffer, APIR_CALL_BUFFER_SET_TENSOR, tensor, NULL, NULL, offset, size, &value);
    }
}

/* A copy on the host when both tensors live on the same host device. */
static bool buffer_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src, struct ggml_tensor *dst)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    const struct vgpu_buffer *from = vgpu_buffer_of(src->buffer);
    if (from == NULL || from->device != b->device) {
        return false;
    }
    struct wire_msg_copy req = { .buffer = b->handle };
    struct wire_msg_boolean copied = { .value = false };
    return vgpu_wire_tensor(src, &req.src) && vgpu_wire_tensor(dst, &req.dst) &&
           vgpu_buffer_cpy_tensor(b->device->remote, &req, &copied) && copied.value;
}

static void buffer_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    const struct wire_msg_clear req = { .buffer = b->handle, .value = value };
    struct wire_msg_none none;
    if (!vgpu_buffer_clear(b->device->remote, &req, &none)) {
        VGPU_CALL_ERROR(b->device->remote, "clearing a buffer of %zu bytes failed", buffer->size);
    }
}

static const struct ggml_backend_buffer_i buffer_iface = {
    .free_buffer = vgpu_buffer_release,
    .get_base = buffer_get_base,
    .init_tensor = NULL,
    .memset_tensor = buffer_memset_tensor,
    .set_tensor = buffer_set_tensor,
    .get_tensor = buffer_get_tensor,
    .set_tensor_2d = NULL,
    .get_tensor_2d = NULL,
    .cpy_tensor = buffer_cpy_tensor,
    .clear = buffer_clear,
    .reset = NULL,
};

/* ---- buffer type -------------------------------------------------------- */

static const char *buft_get_name(ggml_backend_buffer_type_t buft)
{
    return buft_of(buft)->name;
}

/* the host's buffer of type t and its base, or 0 (logged) */
static uint64_t alloc_on_host(const struct vgpu_buft *t, size_t size, uint64_t *base)
{
    struct vgpu_device *d = t->device;
    const struct wire_msg_alloc req = { .buft = t->handle, .size = size };
    struct wire_msg_u64 handle = { .value = 0 };
    if (!vgpu_buffer_type_alloc_buffer(d->remote, &req, &handle) || handle.value == 0) {
        VGPU_CALL_ERROR(d->remote, "%s: the host could not allocate %zu MiB", t->name, size >> 20);
        return 0;
    }
    const struct wire_msg_u64 named = { .value = handle.value };
    struct wire_msg_u64 reply;
    struct wire_msg_none none;
    if (!vgpu_buffer_get_base(d->remote, &named, &reply)) {
        vgpu_buffer_free_buffer(d->remote, &named, &none);
        return 0;
    }
    *base = reply.value;
    return handle.value;
}

static ggml_backend_buffer_t buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    struct vgpu_buffer *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->device = buft_of(buft)->device;
    if ((b->handle = alloc_on_host(buft_of(buft), size, &b->base)) == 0) {
        free(b);
        return NULL;
    }
    return ggml_backend_buffer_init(buft, buffer_iface, b, size);
}

static size_t buft_get_alignment(ggml_backend_buffer_type_t buft)
{
    return buft_of(buft)->alignment;
}

static size_t buft_get_max_size(ggml_backend_buffer_type_t buft)
{
    return buft_of(buft)->max_size;
}

/* The host may pad some tensors (quantized rows on CUDA): ask it, once per
 * shape. */
static size_t buft_get_alloc_size(ggml_backend_buffer_type_t buft, const struct ggml_tensor *tensor)
{
    const struct vgpu_buft *t = buft_of(buft);
    struct vgpu_device *d = t->device;
    const uint64_t key = vgpu_op_key(tensor, ALLOC_SIZE_SALT + t->handle);
    uint64_t size;
    if (vgpu_cache_get(&d->alloc_size, key, &size)) {
        return (size_t)size;
    }
    struct wire_msg_buft_op req = { .buft = t->handle };
    vgpu_inline_op(tensor, &req.op);
    struct wire_msg_u64 reply = { .value = 0 };
    if (!vgpu_buffer_type_get_alloc_size(d->remote, &req, &reply) || reply.value < ggml_nbytes(tensor)) {
        return ggml_nbytes(tensor);
    }
    vgpu_cache_put(&d->alloc_size, key, reply.value);
    return (size_t)reply.value;
}

const struct ggml_backend_buffer_type_i vgpu_buffer_type_iface = {
    .get_name = buft_get_name,
    .alloc_buffer = buft_alloc_buffer,
    .get_alignment = buft_get_alignment,
    .get_max_size = buft_get_max_size,
    .get_alloc_size = buft_get_alloc_size,
    .is_host = NULL,
};
