#include "virgl_loopback.h"

#include <stdlib.h>
#include <string.h>

#include "apir/protocol.h"
#include "real.h"

#define VIRGL_DECLARE(ret, name, params, args) ret name params;
VIRGL_FUNCTIONS(VIRGL_DECLARE)
#undef VIRGL_DECLARE

uint64_t virgl_loopback_fences_signalled;
uint64_t virgl_loopback_last_fence;

struct virgl_loopback {
    struct vgpu_transport base;
    uint32_t ctx_id;
    uint64_t next_fence;
};

/* resource ids are global in a VM: the guest kernel picks them */
static uint32_t next_res_id = 100;

static void on_fence(void *cookie, uint32_t fence)
{
    (void)cookie;
    (void)fence;
}

static void on_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    (void)cookie;
    (void)ctx_id;
    (void)ring_idx;
    virgl_loopback_fences_signalled++;
    virgl_loopback_last_fence = fence_id;
}

static struct virgl_renderer_callbacks callbacks = {
    .version = 3,
    .write_fence = on_fence,
    .write_context_fence = on_context_fence,
};

static bool vl_create_blob(struct vgpu_transport *t, size_t size, struct vgpu_blob *out)
{
    struct virgl_loopback *vl = (struct virgl_loopback *)t;
    const struct virgl_renderer_resource_create_blob_args args = {
        .res_handle = next_res_id++,
        .ctx_id = vl->ctx_id,
        .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
        .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE,
        .size = size,
    };
    void *map = NULL;
    uint64_t mapped = 0;
    if (virgl_renderer_resource_create_blob(&args) != 0) {
        return false;
    }
    if (virgl_renderer_resource_map(args.res_handle, &map, &mapped) != 0 || mapped < size) {
        virgl_renderer_resource_unref(args.res_handle);
        return false;
    }
    *out = (struct vgpu_blob){ args.res_handle, map, size, 0 };
    return true;
}

static void vl_destroy_blob(struct vgpu_transport *t, struct vgpu_blob *blob)
{
    (void)t;
    virgl_renderer_resource_unmap(blob->res_id);
    virgl_renderer_resource_unref(blob->res_id);
    blob->ptr = NULL;
}

/* as QEMU does: a copy of the guest's buffer, a fence after it, a poll */
static bool vl_submit(struct vgpu_transport *t, const void *cmd, size_t size)
{
    struct virgl_loopback *vl = (struct virgl_loopback *)t;
    void *copy = malloc(size);
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, cmd, size);
    const int rc = virgl_renderer_submit_cmd(copy, (int)vl->ctx_id, (int)(size / 4));
    free(copy);
    const bool fenced = virgl_renderer_context_create_fence(vl->ctx_id, 1, 0, ++vl->next_fence) == 0;
    virgl_renderer_poll();
    return rc == 0 && fenced;
}

static bool vl_alive(struct vgpu_transport *t)
{
    (void)t;
    return true;
}

static void vl_destroy(struct vgpu_transport *t)
{
    struct virgl_loopback *vl = (struct virgl_loopback *)t;
    virgl_renderer_context_destroy(vl->ctx_id);
    free(vl);
}

static const struct vgpu_transport_ops virgl_loopback_ops = {
    .create_blob = vl_create_blob,
    .destroy_blob = vl_destroy_blob,
    .submit = vl_submit,
    .alive = vl_alive,
    .destroy = vl_destroy,
};

struct vgpu_transport *virgl_loopback_create(uint32_t ctx_id)
{
    static bool started;
    if (!started && virgl_renderer_init(&callbacks, 0, &callbacks) != 0) {
        return NULL;
    }
    started = true;
    static const char name[] = "virgl-loopback";
    if (virgl_renderer_context_create_with_flags(ctx_id, APIR_CAPSET_ID_VENUS, sizeof name - 1, name) != 0) {
        return NULL;
    }
    struct virgl_loopback *vl = calloc(1, sizeof *vl);
    if (vl == NULL) {
        virgl_renderer_context_destroy(ctx_id);
        return NULL;
    }
    vl->ctx_id = ctx_id;
    vl->base.ops = &virgl_loopback_ops;
    vl->base.name = "virgl";
    vl->base.lost = "the virglrenderer library ended the context";
    vl->base.venus_capset = true;
    return &vl->base;
}
