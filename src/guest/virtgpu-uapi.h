/* The DRM and virtio-gpu interface the drm transport needs (Linux uAPI,
 * include/uapi/drm/drm.h and virtgpu_drm.h). Debian 12's libdrm ships a
 * virtgpu_drm.h from before blob resources and context init, so the needed
 * parts are declared here under names of our own (no build dependency). */
#ifndef VIRTGPU_UAPI_H
#define VIRTGPU_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define VGPU_DRM_IOCTL_TYPE 'd'
#define VGPU_DRM_COMMAND_BASE 0x40

struct vgpu_drm_version {
    int version_major;
    int version_minor;
    int version_patchlevel;
    size_t name_len;
    char *name;
    size_t date_len;
    char *date;
    size_t desc_len;
    char *desc;
};

struct vgpu_drm_gem_close {
    uint32_t handle;
    uint32_t pad;
};

#define VGPU_DRM_IOCTL_VERSION _IOWR(VGPU_DRM_IOCTL_TYPE, 0x00, struct vgpu_drm_version)
#define VGPU_DRM_IOCTL_GEM_CLOSE _IOW(VGPU_DRM_IOCTL_TYPE, 0x09, struct vgpu_drm_gem_close)

#define VGPU_DRM_PARAM_RESOURCE_BLOB 3
#define VGPU_DRM_PARAM_CONTEXT_INIT 6

#define VGPU_DRM_CONTEXT_PARAM_CAPSET_ID 1
#define VGPU_DRM_CONTEXT_PARAM_NUM_RINGS 2
#define VGPU_DRM_CONTEXT_PARAM_POLL_RINGS_MASK 3

#define VGPU_DRM_BLOB_MEM_HOST3D 2
#define VGPU_DRM_BLOB_FLAG_USE_MAPPABLE 1
#define VGPU_DRM_EXECBUF_RING_IDX 4

struct vgpu_drm_getparam {
    uint64_t param;
    uint64_t value; /* pointer to an int */
};

struct vgpu_drm_get_caps {
    uint32_t cap_set_id;
    uint32_t cap_set_ver;
    uint64_t addr;
    uint32_t size;
    uint32_t pad;
};

struct vgpu_drm_context_set_param {
    uint64_t param;
    uint64_t value;
};

struct vgpu_drm_context_init {
    uint32_t num_params;
    uint32_t pad;
    uint64_t ctx_set_params; /* pointer to vgpu_drm_context_set_param[] */
};

struct vgpu_drm_resource_create_blob {
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint32_t bo_handle;   /* out */
    uint32_t res_handle;  /* out */
    uint64_t size;
    uint32_t pad;
    uint32_t cmd_size;
    uint64_t cmd;
    uint64_t blob_id;
};

struct vgpu_drm_map {
    uint64_t offset; /* out */
    uint32_t handle;
    uint32_t pad;
};

struct vgpu_drm_execbuffer {
    uint32_t flags;
    uint32_t size;
    uint64_t command;
    uint64_t bo_handles;
    uint32_t num_bo_handles;
    int32_t fence_fd;
    uint32_t ring_idx;
    uint32_t syncobj_stride;
    uint32_t num_in_syncobjs;
    uint32_t num_out_syncobjs;
    uint64_t in_syncobjs;
    uint64_t out_syncobjs;
};

_Static_assert(sizeof(struct vgpu_drm_resource_create_blob) == 48, "create_blob layout");
_Static_assert(sizeof(struct vgpu_drm_execbuffer) == 64, "execbuffer layout");

#define VGPU_DRM_IOCTL_MAP _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x01, struct vgpu_drm_map)
#define VGPU_DRM_IOCTL_EXECBUFFER _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x02, struct vgpu_drm_execbuffer)
#define VGPU_DRM_IOCTL_GETPARAM _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x03, struct vgpu_drm_getparam)
#define VGPU_DRM_IOCTL_GET_CAPS _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x09, struct vgpu_drm_get_caps)
#define VGPU_DRM_IOCTL_RESOURCE_CREATE_BLOB _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x0a, struct vgpu_drm_resource_create_blob)
#define VGPU_DRM_IOCTL_CONTEXT_INIT _IOWR(VGPU_DRM_IOCTL_TYPE, VGPU_DRM_COMMAND_BASE + 0x0b, struct vgpu_drm_context_init)

#endif
