/* The frontend's backend: graphs computed on the host. */
#ifndef VGPU_BACKEND_H
#define VGPU_BACKEND_H

#include "frontend.h"

ggml_backend_t vgpu_backend_init(struct vgpu_device *d);

#endif
