/* The real virglrenderer, loaded beside this library so that what is not
 * APIR (virgl 3D, Venus when not routed, their resources and fences) keeps
 * working: GGML_VIRTGPU_VIRGLRENDERER names it (default: the system's). */
#ifndef VIRGL_REAL_H
#define VIRGL_REAL_H

#include "virgl-abi.h"

/* Every function QEMU's virtio-gpu-gl imports (X(return type, name,
 * parameters, arguments)); this library exports each, and forwards each to
 * the real one for what it does not serve itself. */
#define VIRGL_FUNCTIONS(X)                                                                              \
    X(int, virgl_renderer_init, (void *cookie, int flags, struct virgl_renderer_callbacks *cbs),          \
      (cookie, flags, cbs))                                                                             \
    X(void, virgl_renderer_cleanup, (void *cookie), (cookie))                                           \
    X(void, virgl_renderer_reset, (void), ())                                                           \
    X(void, virgl_renderer_poll, (void), ())                                                            \
    X(void, virgl_renderer_force_ctx_0, (void), ())                                                     \
    X(void, virgl_renderer_get_cap_set, (uint32_t set, uint32_t *max_ver, uint32_t *max_size),          \
      (set, max_ver, max_size))                                                                         \
    X(void, virgl_renderer_fill_caps, (uint32_t set, uint32_t version, void *caps), (set, version, caps)) \
    X(int, virgl_renderer_context_create, (uint32_t handle, uint32_t nlen, const char *name),           \
      (handle, nlen, name))                                                                             \
    X(int, virgl_renderer_context_create_with_flags,                                                    \
      (uint32_t ctx_id, uint32_t ctx_flags, uint32_t nlen, const char *name), (ctx_id, ctx_flags, nlen, name)) \
    X(void, virgl_renderer_context_destroy, (uint32_t handle), (handle))                                \
    X(int, virgl_renderer_submit_cmd, (void *buffer, int ctx_id, int ndw), (buffer, ctx_id, ndw))       \
    X(int, virgl_renderer_create_fence, (int client_fence_id, uint32_t ctx_id), (client_fence_id, ctx_id)) \
    X(int, virgl_renderer_context_create_fence, (uint32_t ctx_id, uint32_t flags, uint32_t ring_idx,   \
                                                 uint64_t fence_id),                                    \
      (ctx_id, flags, ring_idx, fence_id))                                                              \
    X(int, virgl_renderer_resource_create,                                                              \
      (struct virgl_renderer_resource_create_args * args, struct iovec *iov, uint32_t num_iovs),        \
      (args, iov, num_iovs))                                                                            \
    X(int, virgl_renderer_resource_create_blob, (const struct virgl_renderer_resource_create_blob_args *args), \
      (args))                                                                                           \
    X(void, virgl_renderer_resource_unref, (uint32_t res_handle), (res_handle))                         \
    X(int, virgl_renderer_resource_map, (uint32_t res_handle, void **map, uint64_t *out_size),          \
      (res_handle, map, out_size))                                                                      \
    X(int, virgl_renderer_resource_unmap, (uint32_t res_handle), (res_handle))                          \
    X(int, virgl_renderer_resource_get_map_info, (uint32_t res_handle, uint32_t *map_info),             \
      (res_handle, map_info))                                                                           \
    X(int, virgl_renderer_resource_get_info, (int res_handle, struct virgl_renderer_resource_info *info), \
      (res_handle, info))                                                                               \
    X(int, virgl_renderer_resource_get_info_ext,                                                        \
      (int res_handle, struct virgl_renderer_resource_info_ext *info), (res_handle, info))              \
    X(int, virgl_renderer_resource_attach_iov, (int res_handle, struct iovec *iov, int num_iovs),       \
      (res_handle, iov, num_iovs))                                                                      \
    X(void, virgl_renderer_resource_detach_iov, (int res_handle, struct iovec **iov, int *num_iovs),    \
      (res_handle, iov, num_iovs))                                                                      \
    X(void, virgl_renderer_ctx_attach_resource, (int ctx_id, int res_handle), (ctx_id, res_handle))     \
    X(void, virgl_renderer_ctx_detach_resource, (int ctx_id, int res_handle), (ctx_id, res_handle))     \
    X(int, virgl_renderer_transfer_read_iov,                                                            \
      (uint32_t handle, uint32_t ctx_id, uint32_t level, uint32_t stride, uint32_t layer_stride,         \
       struct virgl_box *box, uint64_t offset, struct iovec *iov, int iovec_cnt),                        \
      (handle, ctx_id, level, stride, layer_stride, box, offset, iov, iovec_cnt))                       \
    X(int, virgl_renderer_transfer_write_iov,                                                           \
      (uint32_t handle, uint32_t ctx_id, int level, uint32_t stride, uint32_t layer_stride,             \
       struct virgl_box *box, uint64_t offset, struct iovec *iovec, unsigned int iovec_cnt),             \
      (handle, ctx_id, level, stride, layer_stride, box, offset, iovec, iovec_cnt))                     \
    X(void *, virgl_renderer_get_cursor_data, (uint32_t resource_id, uint32_t *width, uint32_t *height), \
      (resource_id, width, height))

#define VIRGL_REAL_FIELD(ret, name, params, args) ret(*name) params;
struct virgl_real {
    VIRGL_FUNCTIONS(VIRGL_REAL_FIELD)
};
#undef VIRGL_REAL_FIELD

/* The real virglrenderer's functions (loaded on first use), or NULL when
 * there is none: none configured, none installed, or it failed to load
 * or to start (logged once). */
const struct virgl_real *virgl_real(void);

/* After its init failed: stop forwarding to it. */
void virgl_real_disable(void);

#endif
