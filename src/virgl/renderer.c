/* libvirglrenderer.so.1 for an unmodified QEMU: virglrenderer's library
 * interface, serving APIR contexts as proxies to apir-server's per-guest
 * processes (proxy.c) and forwarding everything else to the real
 * virglrenderer (real.c).
 *
 * QEMU calls these from its main loop only. Contexts are told apart by the
 * capset they are created on; resources by the context that created them. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "apir/protocol.h"
#include "apir/names.h"
#include "log.h"
#include "real.h"
#include "proxy.h"

#define VIRGL_DECLARE(ret, name, params, args) VIRGL_EXPORT ret name params;
VIRGL_FUNCTIONS(VIRGL_DECLARE)
#undef VIRGL_DECLARE

/* what the VMM gave virgl_renderer_init, for its callbacks (the interface
 * passes no handle of its own) */
static struct vmm_link {
    void *cookie;
    struct virgl_renderer_callbacks *callbacks;
} vmm;

/* The real virglrenderer's function, or NULL when there is none. */
#define REAL(name) (virgl_real() != NULL ? virgl_real()->name : NULL)

int virgl_renderer_init(void *cookie, int flags, struct virgl_renderer_callbacks *cbs)
{
    vmm.cookie = cookie;
    vmm.callbacks = cbs;
    if (REAL(virgl_renderer_init) != NULL) {
        const int rc = REAL(virgl_renderer_init)(cookie, flags, cbs);
        if (rc != 0) {
            LOG_ERROR("the real virglrenderer did not start (error %d): virgl 3D and Venus are off, APIR "
                      "contexts are served", rc);
            virgl_real_disable();
        }
    }
    return 0;
}

void virgl_renderer_cleanup(void *cookie)
{
    proxy_cleanup();
    if (REAL(virgl_renderer_cleanup) != NULL) {
        REAL(virgl_renderer_cleanup)(cookie);
    }
}

void virgl_renderer_reset(void)
{
    proxy_reset();
    if (REAL(virgl_renderer_reset) != NULL) {
        REAL(virgl_renderer_reset)();
    }
}

void virgl_renderer_poll(void)
{
    proxy_signal_fences(vmm.callbacks, vmm.cookie);
    if (REAL(virgl_renderer_poll) != NULL) {
        REAL(virgl_renderer_poll)();
    }
}

void virgl_renderer_force_ctx_0(void)
{
    if (REAL(virgl_renderer_force_ctx_0) != NULL) {
        REAL(virgl_renderer_force_ctx_0)();
    }
}

/* ---- capsets ---------------------------------------------------------------- */

void virgl_renderer_get_cap_set(uint32_t set, uint32_t *max_ver, uint32_t *max_size)
{
    *max_ver = 0;
    *max_size = 0;
    if (proxy_serves_capset(set)) {
        *max_size = sizeof(struct wire_capset);
    } else if (REAL(virgl_renderer_get_cap_set) != NULL) {
        REAL(virgl_renderer_get_cap_set)(set, max_ver, max_size);
    }
}

void virgl_renderer_fill_caps(uint32_t set, uint32_t version, void *caps)
{
    if (!wire_capset_fill(set, getenv(ENV_ROUTE_VENUS) != NULL, caps) && REAL(virgl_renderer_fill_caps) != NULL) {
        REAL(virgl_renderer_fill_caps)(set, version, caps);
    }
}

/* ---- contexts --------------------------------------------------------------- */

int virgl_renderer_context_create(uint32_t handle, uint32_t nlen, const char *name)
{
    return REAL(virgl_renderer_context_create) != NULL ? REAL(virgl_renderer_context_create)(handle, nlen, name)
                                                        : EINVAL;
}

int virgl_renderer_context_create_with_flags(uint32_t ctx_id, uint32_t ctx_flags, uint32_t nlen, const char *name)
{
    const uint32_t capset_id = ctx_flags & VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK;
    if (proxy_serves_capset(capset_id)) {
        return proxy_context_create(ctx_id, capset_id, name, nlen);
    }
    if (REAL(virgl_renderer_context_create_with_flags) == NULL) {
        LOG_ERROR("context %u on capset %u refused: this library serves only APIR contexts (and Venus ones "
                  "with " ENV_ROUTE_VENUS " set) and no real virglrenderer is loaded", ctx_id, capset_id);
        return -EINVAL;
    }
    return REAL(virgl_renderer_context_create_with_flags)(ctx_id, ctx_flags, nlen, name);
}

void virgl_renderer_context_destroy(uint32_t handle)
{
    if (proxy_has_context(handle)) {
        proxy_context_destroy(handle);
    } else if (REAL(virgl_renderer_context_destroy) != NULL) {
        REAL(virgl_renderer_context_destroy)(handle);
    }
}

int virgl_renderer_submit_cmd(void *buffer, int ctx_id, int ndw)
{
    if (proxy_has_context((uint32_t)ctx_id)) {
        return ndw < 0 ? -EINVAL : proxy_submit((uint32_t)ctx_id, buffer, (size_t)ndw * 4);
    }
    return REAL(virgl_renderer_submit_cmd) != NULL ? REAL(virgl_renderer_submit_cmd)(buffer, ctx_id, ndw) : -EINVAL;
}

/* ---- fences ----------------------------------------------------------------- */

int virgl_renderer_create_fence(int client_fence_id, uint32_t ctx_id)
{
    if (REAL(virgl_renderer_create_fence) != NULL) {
        return REAL(virgl_renderer_create_fence)(client_fence_id, ctx_id);
    }
    proxy_global_fence((uint32_t)client_fence_id);
    return 0;
}

int virgl_renderer_context_create_fence(uint32_t ctx_id, uint32_t flags, uint32_t ring_idx, uint64_t fence_id)
{
    if (proxy_has_context(ctx_id)) {
        return proxy_context_fence(ctx_id, ring_idx, fence_id);
    }
    return REAL(virgl_renderer_context_create_fence) != NULL
               ? REAL(virgl_renderer_context_create_fence)(ctx_id, flags, ring_idx, fence_id)
               : -EINVAL;
}

/* ---- resources -------------------------------------------------------------- */

int virgl_renderer_resource_create(struct virgl_renderer_resource_create_args *args, struct iovec *iov,
                                   uint32_t num_iovs)
{
    return REAL(virgl_renderer_resource_create) != NULL ? REAL(virgl_renderer_resource_create)(args, iov, num_iovs)
                                                         : EINVAL;
}

int virgl_renderer_resource_create_blob(const struct virgl_renderer_resource_create_blob_args *args)
{
    if (proxy_has_context(args->ctx_id)) {
        return proxy_blob_create(args);
    }
    return REAL(virgl_renderer_resource_create_blob) != NULL ? REAL(virgl_renderer_resource_create_blob)(args)
                                                              : -EINVAL;
}

void virgl_renderer_resource_unref(uint32_t res_handle)
{
    if (proxy_has_blob(res_handle)) {
        proxy_blob_unref(res_handle);
    } else if (REAL(virgl_renderer_resource_unref) != NULL) {
        REAL(virgl_renderer_resource_unref)(res_handle);
    }
}

int virgl_renderer_resource_map(uint32_t res_handle, void **map, uint64_t *out_size)
{
    if (proxy_has_blob(res_handle)) {
        *map = proxy_blob_memory(res_handle, out_size);
        return 0;
    }
    return REAL(virgl_renderer_resource_map) != NULL ? REAL(virgl_renderer_resource_map)(res_handle, map, out_size)
                                                      : -EINVAL;
}

int virgl_renderer_resource_unmap(uint32_t res_handle)
{
    if (proxy_has_blob(res_handle)) {
        return 0; /* the memory stays ours until unref */
    }
    return REAL(virgl_renderer_resource_unmap) != NULL ? REAL(virgl_renderer_resource_unmap)(res_handle) : -EINVAL;
}

int virgl_renderer_resource_get_map_info(uint32_t res_handle, uint32_t *map_info)
{
    if (proxy_has_blob(res_handle)) {
        *map_info = VIRGL_RENDERER_MAP_CACHE_CACHED;
        return 0;
    }
    return REAL(virgl_renderer_resource_get_map_info) != NULL
               ? REAL(virgl_renderer_resource_get_map_info)(res_handle, map_info)
               : -EINVAL;
}

int virgl_renderer_resource_get_info(int res_handle, struct virgl_renderer_resource_info *info)
{
    if (proxy_has_blob((uint32_t)res_handle)) {
        *info = (struct virgl_renderer_resource_info){ .handle = (uint32_t)res_handle, .fd = -1 };
        return 0;
    }
    return REAL(virgl_renderer_resource_get_info) != NULL ? REAL(virgl_renderer_resource_get_info)(res_handle, info)
                                                           : -EINVAL;
}

int virgl_renderer_resource_get_info_ext(int res_handle, struct virgl_renderer_resource_info_ext *info)
{
    if (proxy_has_blob((uint32_t)res_handle)) {
        return -EINVAL; /* not a texture: nothing to scan out */
    }
    return REAL(virgl_renderer_resource_get_info_ext) != NULL
               ? REAL(virgl_renderer_resource_get_info_ext)(res_handle, info)
               : -EINVAL;
}

int virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov, int num_iovs)
{
    if (proxy_has_blob((uint32_t)res_handle)) {
        return -EINVAL; /* host memory: no guest pages to attach */
    }
    return REAL(virgl_renderer_resource_attach_iov) != NULL
               ? REAL(virgl_renderer_resource_attach_iov)(res_handle, iov, num_iovs)
               : -EINVAL;
}

void virgl_renderer_resource_detach_iov(int res_handle, struct iovec **iov, int *num_iovs)
{
    if (!proxy_has_blob((uint32_t)res_handle) && REAL(virgl_renderer_resource_detach_iov) != NULL) {
        REAL(virgl_renderer_resource_detach_iov)(res_handle, iov, num_iovs);
    }
}

/* A blob belongs to the APIR context that created it; attaching it to
 * another context changes nothing. */
void virgl_renderer_ctx_attach_resource(int ctx_id, int res_handle)
{
    if (!proxy_has_context((uint32_t)ctx_id) && !proxy_has_blob((uint32_t)res_handle) &&
        REAL(virgl_renderer_ctx_attach_resource) != NULL) {
        REAL(virgl_renderer_ctx_attach_resource)(ctx_id, res_handle);
    }
}

void virgl_renderer_ctx_detach_resource(int ctx_id, int res_handle)
{
    if (!proxy_has_context((uint32_t)ctx_id) && !proxy_has_blob((uint32_t)res_handle) &&
        REAL(virgl_renderer_ctx_detach_resource) != NULL) {
        REAL(virgl_renderer_ctx_detach_resource)(ctx_id, res_handle);
    }
}

int virgl_renderer_transfer_read_iov(uint32_t handle, uint32_t ctx_id, uint32_t level, uint32_t stride,
                                     uint32_t layer_stride, struct virgl_box *box, uint64_t offset,
                                     struct iovec *iov, int iovec_cnt)
{
    if (proxy_has_blob(handle) || REAL(virgl_renderer_transfer_read_iov) == NULL) {
        return -EINVAL;
    }
    return REAL(virgl_renderer_transfer_read_iov)(handle, ctx_id, level, stride, layer_stride, box, offset, iov,
                                                  iovec_cnt);
}

int virgl_renderer_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level, uint32_t stride,
                                      uint32_t layer_stride, struct virgl_box *box, uint64_t offset,
                                      struct iovec *iovec, unsigned int iovec_cnt)
{
    if (proxy_has_blob(handle) || REAL(virgl_renderer_transfer_write_iov) == NULL) {
        return -EINVAL;
    }
    return REAL(virgl_renderer_transfer_write_iov)(handle, ctx_id, level, stride, layer_stride, box, offset, iovec,
                                                   iovec_cnt);
}

void *virgl_renderer_get_cursor_data(uint32_t resource_id, uint32_t *width, uint32_t *height)
{
    if (proxy_has_blob(resource_id) || REAL(virgl_renderer_get_cursor_data) == NULL) {
        return NULL;
    }
    return REAL(virgl_renderer_get_cursor_data)(resource_id, width, height);
}
