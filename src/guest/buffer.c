/* VirtGPU buffers: memory of the host device, named by a host handle.
 * Tensor data moves through the connection's shared data blob, in chunks
 * of its size, under the connection's lock (one copy on each side). */
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

#define ALLOC_SIZE_SALT 0xa110c5123ull

static struct vgpu_device *buft_device(ggml_backend_buffer_type_t buft)
{
    return buft->context;
}

/* ---- buffers ------------------------------------------------------------ */

static struct vgpu_buffer *buffer_of(ggml_backend_buffer_t buffer)
{
    return buffer->context;
}

static bool call_with_handle(struct vgpu_buffer *b, uint32_t call, uint64_t *reply_u64)
{
    struct apir_decoder dec;
    apir_encode_u64(vgpu_call_begin(b->device->remote, call), b->handle);
    bool ok = vgpu_call_end(b->device->remote, &dec);
    if (ok && reply_u64 != NULL) {
        *reply_u64 = apir_decode_u64(&dec);
        ok = !dec.fatal;
    }
    vgpu_call_release(b->device->remote);
    return ok;
}

static void buffer_free(ggml_backend_buffer_t buffer)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    call_with_handle(b, APIR_CALL_BUFFER_FREE_BUFFER, NULL);
    free(b);
}

static void *buffer_get_base(ggml_backend_buffer_t buffer)
{
    return (void *)(uintptr_t)buffer_of(buffer)->base;
}

/* One set_tensor/get_tensor call for bytes [offset, offset + size) of the
 * tensor, which fit the data blob; fill (when not NULL) runs between
 * encoding and submission, with the blob's mapping. */
static bool tensor_io(struct vgpu_buffer *b, uint32_t call, const struct ggml_tensor *t, size_t offset,
                      size_t size, const void *src, void *dst)
{
    struct vgpu_remote *r = b->device->remote;
    struct apir_wire_tensor w;
    if (!vgpu_wire_tensor(t, &w)) {
        return false;
    }
    struct apir_encoder *enc = vgpu_call_begin(r, call);
    apir_encode_u64(enc, b->handle);
    apir_encode_bytes(enc, &w, sizeof w);
    apir_encode_u32(enc, r->data.res_id);
    apir_encode_u64(enc, offset);
    apir_encode_u64(enc, size);
    if (src != NULL) {
        memcpy(r->data.ptr, src, size);
    }
    struct apir_decoder dec;
    const bool ok = vgpu_call_end(r, &dec);
    if (ok && dst != NULL) {
        memcpy(dst, r->data.ptr, size);
    }
    vgpu_call_release(r);
    return ok;
}

/* Moves [offset, offset + size) in chunks of the data blob's size. A fill
 * value (memset) is used when src is NULL on a set. */
static void tensor_transfer(ggml_backend_buffer_t buffer, uint32_t call, const struct ggml_tensor *t,
                            const void *src, void *dst, size_t offset, size_t size, const uint8_t *fill)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    const size_t chunk_max = b->device->remote->data.size;
    void *fill_chunk = NULL;
    if (fill != NULL && (fill_chunk = malloc(size < chunk_max ? size : chunk_max)) != NULL) {
        memset(fill_chunk, *fill, size < chunk_max ? size : chunk_max);
    }
    for (size_t done = 0; done < size;) {
        const size_t chunk = size - done < chunk_max ? size - done : chunk_max;
        const void *from = fill ? fill_chunk : src ? (const char *)src + done : NULL;
        void *to = dst ? (char *)dst + done : NULL;
        if ((fill && fill_chunk == NULL) || !tensor_io(b, call, t, offset + done, chunk, from, to)) {
            LOG_ERROR("%s of tensor '%s' (%zu bytes) failed", apir_call_name(call), t->name, size);
            break;
        }
        done += chunk;
    }
    free(fill_chunk);
}

static void buffer_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, const void *data,
                              size_t offset, size_t size)
{
    tensor_transfer(buffer, APIR_CALL_BUFFER_SET_TENSOR, tensor, data, NULL, offset, size, NULL);
}

static void buffer_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *tensor, void *data,
                              size_t offset, size_t size)
{
    tensor_transfer(buffer, APIR_CALL_BUFFER_GET_TENSOR, tensor, NULL, data, offset, size, NULL);
}

static void buffer_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, uint8_t value,
                                 size_t offset, size_t size)
{
    tensor_transfer(buffer, APIR_CALL_BUFFER_SET_TENSOR, tensor, NULL, NULL, offset, size, &value);
}

/* A copy on the host when both tensors live on the same host device. */
static bool buffer_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src, struct ggml_tensor *dst)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    if (src->buffer == NULL || !vgpu_is_buffer(src->buffer) || buffer_of(src->buffer)->device != b->device) {
        return false;
    }
    struct apir_wire_tensor ws, wd;
    if (!vgpu_wire_tensor(src, &ws) || !vgpu_wire_tensor(dst, &wd)) {
        return false;
    }
    struct vgpu_remote *r = b->device->remote;
    struct apir_encoder *enc = vgpu_call_begin(r, APIR_CALL_BUFFER_CPY_TENSOR);
    apir_encode_u64(enc, b->handle);
    apir_encode_bytes(enc, &ws, sizeof ws);
    apir_encode_bytes(enc, &wd, sizeof wd);
    struct apir_decoder dec;
    const bool copied = vgpu_call_end(r, &dec) && apir_decode_bool(&dec) && !dec.fatal;
    vgpu_call_release(r);
    return copied;
}

static void buffer_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
    struct vgpu_buffer *b = buffer_of(buffer);
    struct apir_encoder *enc = vgpu_call_begin(b->device->remote, APIR_CALL_BUFFER_CLEAR);
    apir_encode_u64(enc, b->handle);
    apir_encode_u8(enc, value);
    struct apir_decoder dec;
    if (!vgpu_call_end(b->device->remote, &dec)) {
        LOG_ERROR("clearing a buffer of %zu bytes failed", buffer->size);
    }
    vgpu_call_release(b->device->remote);
}

static const struct ggml_backend_buffer_i buffer_iface = {
    .free_buffer = buffer_free,
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

bool vgpu_is_buffer(ggml_backend_buffer_t buffer)
{
    return buffer->iface.free_buffer == buffer_free;
}

/* ---- buffer type -------------------------------------------------------- */

static const char *buft_get_name(ggml_backend_buffer_type_t buft)
{
    return buft_device(buft)->name;
}

static ggml_backend_buffer_t buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    struct vgpu_device *d = buft_device(buft);
    struct vgpu_buffer *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->device = d;
    struct apir_encoder *enc = vgpu_call_begin(d->remote, APIR_CALL_BUFFER_TYPE_ALLOC_BUFFER);
    apir_encode_u64(enc, d->buft_handle);
    apir_encode_u64(enc, size);
    struct apir_decoder dec;
    b->handle = vgpu_call_end(d->remote, &dec) ? apir_decode_u64(&dec) : 0;
    vgpu_call_release(d->remote);
    if (b->handle == 0) {
        LOG_ERROR("%s: the host could not allocate %zu MiB", d->name, size >> 20);
        free(b);
        return NULL;
    }
    if (!call_with_handle(b, APIR_CALL_BUFFER_GET_BASE, &b->base)) {
        call_with_handle(b, APIR_CALL_BUFFER_FREE_BUFFER, NULL);
        free(b);
        return NULL;
    }
    return ggml_backend_buffer_init(buft, buffer_iface, b, size);
}

static size_t buft_get_alignment(ggml_backend_buffer_type_t buft)
{
    return buft_device(buft)->alignment;
}

static size_t buft_get_max_size(ggml_backend_buffer_type_t buft)
{
    return buft_device(buft)->max_size;
}

/* The host may pad some tensors (quantized rows on CUDA): ask it, once per
 * shape. */
static size_t buft_get_alloc_size(ggml_backend_buffer_type_t buft, const struct ggml_tensor *tensor)
{
    struct vgpu_device *d = buft_device(buft);
    const uint64_t key = vgpu_op_key(tensor, ALLOC_SIZE_SALT);
    uint64_t size;
    if (vgpu_cache_get(&d->alloc_size, key, &size)) {
        return (size_t)size;
    }
    struct apir_encoder *enc = vgpu_call_begin(d->remote, APIR_CALL_BUFFER_TYPE_GET_ALLOC_SIZE);
    apir_encode_u64(enc, d->buft_handle);
    vgpu_encode_inline_tensor(enc, tensor);
    struct apir_decoder dec;
    const bool ok = vgpu_call_end(d->remote, &dec);
    size = ok ? apir_decode_u64(&dec) : 0;
    vgpu_call_release(d->remote);
    if (!ok || size < ggml_nbytes(tensor)) {
        return ggml_nbytes(tensor);
    }
    vgpu_cache_put(&d->alloc_size, key, size);
    return (size_t)size;
}

const struct ggml_backend_buffer_type_i vgpu_buffer_type_iface = {
    .get_name = buft_get_name,
    .alloc_buffer = buft_alloc_buffer,
    .get_alignment = buft_get_alignment,
    .get_max_size = buft_get_max_size,
    .get_alloc_size = buft_get_alloc_size,
    .is_host = NULL,
};
