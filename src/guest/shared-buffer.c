/* The device's host buffer type (ggml_backend_dev_host_buffer_type), as
 * ggml-cuda's pinned "CUDA_Host" is natively: guest memory, in a blob the
 * connection shares with the host. llama.cpp puts the CPU's compute buffer
 * (the token embeddings of a batch, computed on the CPU) and its output
 * buffer there. A large write from such memory into a VirtGPU buffer names
 * the blob and offset, and the host copies straight from it (by DMA where
 * it pinned the blob) instead of the guest copying the bytes into the data
 * blob first. A buffer larger than the host pins, or with no blob to be
 * had, is plain memory, copied as any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "lock.h"
#include "shared-blobs.h"
#include "shared-buffer.h"

#define SHARED_BUFFER_ALIGNMENT 64
/* the host pins blobs of at most 256 MiB (the host library's shmem.c); llama.cpp's output
 * buffer with every token's logits (perplexity) can be far larger */
#define SHARED_BUFFER_MAX_BLOB ((size_t)256 << 20)

struct vgpu_shared_buffer {
    struct vgpu_device *device;
    struct vgpu_blob blob; /* ptr NULL: the buffer is `plain` */
    void *plain;
};

static struct vgpu_shared_buffer *shared_of(ggml_backend_buffer_t buffer)
{
    return buffer->context;
}

static void *shared_get_base(ggml_backend_buffer_t buffer)
{
    struct vgpu_shared_buffer *s = shared_of(buffer);
    return s->blob.ptr != NULL ? s->blob.ptr : s->plain;
}

static void shared_free(ggml_backend_buffer_t buffer)
{
    struct vgpu_shared_buffer *s = shared_of(buffer);
    if (s->blob.ptr != NULL) {
        struct vgpu_remote *r = s->device->remote;
        vgpu_lock(r); /* the transport is the connection's: one user at a time */
        vgpu_shared_blob_destroy(r, &s->blob);
        vgpu_unlock(r);
    }
    free(s->plain);
    free(s);
}

static void shared_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, uint8_t value,
                                 size_t offset, size_t size)
{
    (void)buffer;
    memset((uint8_t *)tensor->data + offset, value, size);
}

static void shared_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, const void *data,
                              size_t offset, size_t size)
{
    (void)buffer;
    memcpy((uint8_t *)tensor->data + offset, data, size);
}

static void shared_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *tensor, void *data,
                              size_t offset, size_t size)
{
    (void)buffer;
    memcpy(data, (const uint8_t *)tensor->data + offset, size);
}

static bool shared_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src, struct ggml_tensor *dst)
{
    (void)buffer;
    if (!ggml_backend_buffer_is_host(src->buffer)) {
        return false;
    }
    memcpy(dst->data, src->data, ggml_nbytes(src));
    return true;
}

static void shared_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
    memset(shared_get_base(buffer), value, buffer->size);
}

static const struct ggml_backend_buffer_i shared_buffer_iface = {
    .free_buffer = shared_free,
    .get_base = shared_get_base,
    .init_tensor = NULL,
    .memset_tensor = shared_memset_tensor,
    .set_tensor = shared_set_tensor,
    .get_tensor = shared_get_tensor,
    .set_tensor_2d = NULL,
    .get_tensor_2d = NULL,
    .cpy_tensor = shared_cpy_tensor,
    .clear = shared_clear,
    .reset = NULL,
};

/* ---- buffer type -------------------------------------------------------- */

static struct vgpu_device *device_of_buft(ggml_backend_buffer_type_t buft)
{
    return buft->context;
}

static const char *shared_buft_get_name(ggml_backend_buffer_type_t buft)
{
    return device_of_buft(buft)->host_buft_name;
}

/* A blob of the connection for the buffer, when it is small enough to be
 * pinned and one can be had. */
static bool share_blob(struct vgpu_shared_buffer *s, size_t size)
{
    if (size > SHARED_BUFFER_MAX_BLOB) {
        return false;
    }
    struct vgpu_remote *r = s->device->remote;
    vgpu_lock(r);
    const bool ok = vgpu_shared_blob_create(r, size, &s->blob);
    vgpu_unlock(r);
    if (!ok) {
        s->blob.ptr = NULL;
        LOG_DEBUG("%s: no shared blob of %zu MiB; this buffer is plain memory, copied as any other",
                  s->device->host_buft_name, size >> 20);
    }
    return ok;
}

static ggml_backend_buffer_t shared_buft_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    struct vgpu_shared_buffer *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->device = device_of_buft(buft);
    const size_t rounded = (size + SHARED_BUFFER_ALIGNMENT - 1) / SHARED_BUFFER_ALIGNMENT * SHARED_BUFFER_ALIGNMENT;
    if (!share_blob(s, rounded) &&
        (s->plain = aligned_alloc(SHARED_BUFFER_ALIGNMENT, rounded ? rounded : SHARED_BUFFER_ALIGNMENT)) == NULL) {
        LOG_ERROR("%s: out of memory for a buffer of %zu MiB", s->device->host_buft_name, size >> 20);
        free(s);
        return NULL;
    }
    return ggml_backend_buffer_init(buft, shared_buffer_iface, s, size);
}

static size_t shared_buft_get_alignment(ggml_backend_buffer_type_t buft)
{
    (void)buft;
    return SHARED_BUFFER_ALIGNMENT;
}

static bool shared_buft_is_host(ggml_backend_buffer_type_t buft)
{
    (void)buft;
    return true;
}

static const struct ggml_backend_buffer_type_i shared_buft_iface = {
    .get_name = shared_buft_get_name,
    .alloc_buffer = shared_buft_alloc_buffer,
    .get_alignment = shared_buft_get_alignment,
    .get_max_size = NULL,
    .get_alloc_size = NULL,
    .is_host = shared_buft_is_host,
};

void vgpu_shared_buft_init(struct vgpu_device *d)
{
    snprintf(d->host_buft_name, sizeof d->host_buft_name, "%.*s_Host", VGPU_NAME_SIZE - 8, d->name);
    d->host_buft = (struct ggml_backend_buffer_type){ .iface = shared_buft_iface, .device = &d->dev, .context = d };
}
