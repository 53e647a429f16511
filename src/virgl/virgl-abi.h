/* The part of virglrenderer's library interface (virglrenderer.h, as of
 * virglrenderer 1.1) that QEMU's virtio-gpu-gl uses: the types and
 * constants of the functions this library exports in virglrenderer's place.
 * Layouts must match virglrenderer's exactly: QEMU was built against them. */
#ifndef VIRGL_ABI_H
#define VIRGL_ABI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRGL_EXPORT __attribute__((visibility("default")))

typedef void *virgl_renderer_gl_context;
struct virgl_box;
struct virgl_renderer_gl_ctx_param;

/* The VMM's callbacks (version 1..4 of the struct; later members are only
 * present when version says so). */
struct virgl_renderer_callbacks {
    int version;
    void (*write_fence)(void *cookie, uint32_t fence);
    virgl_renderer_gl_context (*create_gl_context)(void *cookie, int scanout_idx,
                                                   struct virgl_renderer_gl_ctx_param *param);
    void (*destroy_gl_context)(void *cookie, virgl_renderer_gl_context ctx);
    int (*make_current)(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx);
    int (*get_drm_fd)(void *cookie);                                                     /* v2 */
    void (*write_context_fence)(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id); /* v3 */
    int (*get_server_fd)(void *cookie, uint32_t version);                               /* v3 */
    void *(*get_egl_display)(void *cookie);                                              /* v4 */
};

struct virgl_renderer_resource_create_args {
    uint32_t handle;
    uint32_t target;
    uint32_t format;
    uint32_t bind;
    uint32_t width;
    uint32_t height;
    uint32_t depth;
    uint32_t array_size;
    uint32_t last_level;
    uint32_t nr_samples;
    uint32_t flags;
};

struct virgl_renderer_resource_info {
    uint32_t handle;
    uint32_t virgl_format;
    uint32_t width;
    uint32_t height;
    uint32_t depth;
    uint32_t flags;
    uint32_t tex_id;
    uint32_t stride;
    int drm_fourcc;
    int fd;
};

struct virgl_renderer_resource_info_ext {
    int version;
    struct virgl_renderer_resource_info base;
    bool has_dmabuf_export;
    int planes;
    uint64_t modifiers;
    void *d3d_tex2d;
};

struct virgl_renderer_resource_create_blob_args {
    uint32_t res_handle;
    uint32_t ctx_id;
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint64_t blob_id;
    uint64_t size;
    const struct iovec *iovecs;
    uint32_t num_iovs;
};

/* context_create_with_flags: the capset is in the low bits of the flags */
#define VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK 0xffu

#define VIRGL_RENDERER_BLOB_MEM_HOST3D 0x0002u
#define VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE 0x0001u

#define VIRGL_RENDERER_MAP_CACHE_CACHED 0x01u

/* virtio-gpu allows 64 rings per context */
#define VIRGL_MAX_RINGS 64u

#endif
