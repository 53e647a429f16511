/* The drm transport: the virtio-gpu device of a VM. */
#ifndef VGPU_TRANSPORT_DRM_H
#define VGPU_TRANSPORT_DRM_H

#include <stdbool.h>

#include "transport.h"

/* Opens the virtio-gpu render node of a VM and starts an APIR context on
 * the APIR capset (or the Venus capset); NULL with the reason logged. */
struct vgpu_transport *vgpu_transport_drm_open(bool venus_capset);

#endif
