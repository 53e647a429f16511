/* <drm/virtgpu_drm.h> for llama.cpp's reference frontend: the virtio-gpu DRM
 * interface (Linux uAPI) under the kernel's names, which its sources use.
 * Debian 12 ships no <drm/virtgpu_drm.h> (linux-libc-dev leaves the DRM
 * headers to libdrm-dev), and libdrm-dev's <virtgpu_drm.h> predates blob
 * resources and context init, which the frontend needs. The layouts are
 * declared once, for our own frontend, in src/guest/virtgpu-uapi.h; this maps
 * the kernel's names onto them. C++ only (the reference is C++20). */
#ifndef REFERENCE_FRONTEND_VIRTGPU_DRM_H
#define REFERENCE_FRONTEND_VIRTGPU_DRM_H

/* virtgpu-uapi.h is C11; C++ spells its layout checks static_assert */
#define _Static_assert static_assert
#include "../../../../src/guest/virtgpu-uapi.h"
#undef _Static_assert

typedef struct vgpu_drm_map drm_virtgpu_map;
typedef struct vgpu_drm_execbuffer drm_virtgpu_execbuffer;
typedef struct vgpu_drm_getparam drm_virtgpu_getparam;
typedef struct vgpu_drm_get_caps drm_virtgpu_get_caps;
typedef struct vgpu_drm_resource_create_blob drm_virtgpu_resource_create_blob;
typedef struct vgpu_drm_context_set_param drm_virtgpu_context_set_param;
typedef struct vgpu_drm_context_init drm_virtgpu_context_init;

#define DRM_IOCTL_VIRTGPU_MAP VGPU_DRM_IOCTL_MAP
#define DRM_IOCTL_VIRTGPU_EXECBUFFER VGPU_DRM_IOCTL_EXECBUFFER
#define DRM_IOCTL_VIRTGPU_GETPARAM VGPU_DRM_IOCTL_GETPARAM
#define DRM_IOCTL_VIRTGPU_GET_CAPS VGPU_DRM_IOCTL_GET_CAPS
#define DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB VGPU_DRM_IOCTL_RESOURCE_CREATE_BLOB
#define DRM_IOCTL_VIRTGPU_CONTEXT_INIT VGPU_DRM_IOCTL_CONTEXT_INIT

#define VIRTGPU_EXECBUF_RING_IDX VGPU_DRM_EXECBUF_RING_IDX
#define VIRTGPU_BLOB_MEM_HOST3D VGPU_DRM_BLOB_MEM_HOST3D
#define VIRTGPU_BLOB_FLAG_USE_MAPPABLE VGPU_DRM_BLOB_FLAG_USE_MAPPABLE
#define VIRTGPU_CONTEXT_PARAM_CAPSET_ID VGPU_DRM_CONTEXT_PARAM_CAPSET_ID
#define VIRTGPU_CONTEXT_PARAM_NUM_RINGS VGPU_DRM_CONTEXT_PARAM_NUM_RINGS
#define VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK VGPU_DRM_CONTEXT_PARAM_POLL_RINGS_MASK

#endif
