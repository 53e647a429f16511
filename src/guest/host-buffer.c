/* A buffer of the host as the guest holds it (struct vgpu_buffer): its
 * handle and base, how to tell it from other backends' buffers, and its
 * release. */
#include <stdlib.h>

#include "calls.h"
#include "frontend.h"
#include "host-buffer.h"

void vgpu_buffer_release(ggml_backend_buffer_t buffer)
{
    struct vgpu_buffer *b = buffer->context;
    const struct wire_msg_u64 req = { .value = b->handle };
    struct wire_msg_none none;
    vgpu_buffer_free_buffer(b->device->remote, &req, &none);
    free(b);
}

struct vgpu_buffer *vgpu_buffer_of(ggml_backend_buffer_t buffer)
{
    return buffer != NULL && buffer->iface.free_buffer == vgpu_buffer_release ? buffer->context : NULL;
}
