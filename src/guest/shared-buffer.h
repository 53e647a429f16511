/* The host buffer type in shared memory (VirtGPU<i>-..._Host). */
#ifndef VGPU_SHARED_BUFFER_H
#define VGPU_SHARED_BUFFER_H

#include "frontend.h"

/* d's host buffer type, named after d (d->name set) */
void vgpu_shared_buft_init(struct vgpu_device *d);

#endif
