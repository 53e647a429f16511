/* The virtio-gpu DRM interface (Linux uAPI, include/uapi/drm/virtgpu_drm.h)
 * as far as llama.cpp's reference frontend uses it, under the kernel's names
 * because its sources use them. Debian 12 ships no <drm/virtgpu_drm.h>
 * (linux-libc-dev leaves the DRM headers to libdrm-dev), and libdrm-dev's
 * <virtgpu_drm.h> predates blob resources and context init, which the
 * frontend needs. The layouts are the kernel's ABI; ioctl numbers carry the
 * struct sizes, so every field is declared even where the frontend sets 0.
 * For C++ sources (static_assert). */
#ifndef REFERENCE_FRONTEND_VIRTGPU_DRM_H
#define REFERENCE_FRONTEND_VIRTGPU_DRM_H

#include <drm.h> /* libdrm's: DRM_IOWR, DRM_COMMAND_BASE, __u32 and co. */

#define DRM_VIRTGPU_MAP 0x01
#define DRM_VIRTGPU_EXECBUFFER 0x02
#define DRM_VIRTGPU_GETPARAM 0x03
#define DRM_VIRTGPU_GET_CAPS 0x09
#define DRM_VIRTGPU_RESOURCE_CREATE_BLOB 0x0a
#define DRM_VIRTGPU_CONTEXT_INIT 0x0b

/* drm_virtgpu_execbuffer.flags: ring_idx names the timeline */
#define VIRTGPU_EXECBUF_RING_IDX 0x04

/* drm_virtgpu_resource_create_blob.blob_mem and .blob_flags */
#define VIRTGPU_BLOB_MEM_HOST3D 0x0002
#define VIRTGPU_BLOB_FLAG_USE_MAPPABLE 0x0001

/* drm_virtgpu_context_set_param.param */
#define VIRTGPU_CONTEXT_PARAM_CAPSET_ID 0x0001
#define VIRTGPU_CONTEXT_PARAM_NUM_RINGS 0x0002
#define VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK 0x0003

struct drm_virtgpu_map {
    __u64 offset; /* out: the mmap offset on the DRM fd */
    __u32 handle;
    __u32 pad;
};

struct drm_virtgpu_execbuffer {
    __u32 flags;
    __u32 size;
    __u64 command; /* pointer to the command bytes */
    __u64 bo_handles;
    __u32 num_bo_handles;
    __s32 fence_fd;
    __u32 ring_idx;
    __u32 syncobj_stride;
    __u32 num_in_syncobjs;
    __u32 num_out_syncobjs;
    __u64 in_syncobjs;
    __u64 out_syncobjs;
};

struct drm_virtgpu_getparam {
    __u64 param;
    __u64 value; /* pointer to where the kernel writes the value */
};

struct drm_virtgpu_get_caps {
    __u32 cap_set_id;
    __u32 cap_set_ver;
    __u64 addr; /* pointer to a buffer of size bytes */
    __u32 size;
    __u32 pad;
};

struct drm_virtgpu_resource_create_blob {
    __u32 blob_mem;
    __u32 blob_flags;
    __u32 bo_handle;  /* out */
    __u32 res_handle; /* out */
    __u64 size;
    __u32 pad;
    __u32 cmd_size;
    __u64 cmd;
    __u64 blob_id;
};

struct drm_virtgpu_context_set_param {
    __u64 param;
    __u64 value;
};

struct drm_virtgpu_context_init {
    __u32 num_params;
    __u32 pad;
    __u64 ctx_set_params; /* pointer to drm_virtgpu_context_set_param[] */
};

/* the kernel's sizes (a wrong one would change the ioctl numbers below) */
static_assert(sizeof(struct drm_virtgpu_map) == 16, "drm_virtgpu_map layout");
static_assert(sizeof(struct drm_virtgpu_execbuffer) == 64, "drm_virtgpu_execbuffer layout");
static_assert(sizeof(struct drm_virtgpu_getparam) == 16, "drm_virtgpu_getparam layout");
static_assert(sizeof(struct drm_virtgpu_get_caps) == 24, "drm_virtgpu_get_caps layout");
static_assert(sizeof(struct drm_virtgpu_resource_create_blob) == 48, "drm_virtgpu_resource_create_blob layout");
static_assert(sizeof(struct drm_virtgpu_context_set_param) == 16, "drm_virtgpu_context_set_param layout");
static_assert(sizeof(struct drm_virtgpu_context_init) == 16, "drm_virtgpu_context_init layout");

#define DRM_IOCTL_VIRTGPU_MAP \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_MAP, struct drm_virtgpu_map)
#define DRM_IOCTL_VIRTGPU_EXECBUFFER \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_EXECBUFFER, struct drm_virtgpu_execbuffer)
#define DRM_IOCTL_VIRTGPU_GETPARAM \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_GETPARAM, struct drm_virtgpu_getparam)
#define DRM_IOCTL_VIRTGPU_GET_CAPS \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_GET_CAPS, struct drm_virtgpu_get_caps)
#define DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_RESOURCE_CREATE_BLOB, struct drm_virtgpu_resource_create_blob)
#define DRM_IOCTL_VIRTGPU_CONTEXT_INIT \
    DRM_IOWR(DRM_COMMAND_BASE + DRM_VIRTGPU_CONTEXT_INIT, struct drm_virtgpu_context_init)

#endif
