/* The connection's shared blobs: blobs that hold ggml buffers of the
 * guest's own (shared-buffer.c), known to the connection, so that a large
 * write from one into a host buffer names the blob instead of copying its
 * bytes into the data blob. All of it under the connection's lock. */
#ifndef VGPU_SHARED_BLOBS_H
#define VGPU_SHARED_BLOBS_H

#include "remote.h"

/* A new blob of at least size bytes, known as one of the connection's
 * shared blobs; false when it cannot be had (none is left or the transport
 * has no memory). */
bool vgpu_shared_blob_create(struct vgpu_remote *r, size_t size, struct vgpu_blob *out);
/* The blob is no longer the connection's, and is destroyed. */
void vgpu_shared_blob_destroy(struct vgpu_remote *r, struct vgpu_blob *blob);
/* Writes bytes [offset, offset + size) of the tensor (in host buffer
 * `buffer`) from src, which lies in one of the connection's shared blobs,
 * by naming the blob (after the queued writes). False when it was not sent
 * that way (src is elsewhere, the host lacks ext_set_tensors); *refused
 * then says whether the host refused it. */
bool vgpu_write_from_shared(struct vgpu_remote *r, uint64_t buffer, const struct wire_tensor *tensor,
                            uint64_t offset, const void *src, size_t size, bool *refused);

#endif
