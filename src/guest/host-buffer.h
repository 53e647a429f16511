/* What every VirtGPU buffer shares: its release, and finding it behind a ggml buffer. */
#ifndef VGPU_HOST_BUFFER_H
#define VGPU_HOST_BUFFER_H

#include "frontend.h"

/* the free_buffer of every VirtGPU buffer: frees the host's buffer too */
void vgpu_buffer_release(ggml_backend_buffer_t buffer);
/* the VirtGPU buffer behind a ggml buffer, or NULL (another backend's) */
struct vgpu_buffer *vgpu_buffer_of(ggml_backend_buffer_t buffer);

#endif
