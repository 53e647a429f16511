/* The frontend's devices: one per host device, with its buffer types. */
#ifndef VGPU_DEVICE_H
#define VGPU_DEVICE_H

#include "frontend.h"

bool vgpu_device_init(struct vgpu_device *d, struct vgpu_remote *remote, int index, ggml_backend_reg_t reg);
/* the device's extra buffer types, NULL-terminated (maybe none); NULL for
 * a device that is not a VirtGPU one */
ggml_backend_buffer_type_t *vgpu_device_extra_bufts(ggml_backend_dev_t dev);

#endif
