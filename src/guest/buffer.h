/* The frontend's buffer type: buffers on the host's device. */
#ifndef VGPU_BUFFER_H
#define VGPU_BUFFER_H

#include "frontend.h"

extern const struct ggml_backend_buffer_type_i vgpu_buffer_type_iface;

#endif
