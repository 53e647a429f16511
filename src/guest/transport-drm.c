/* The drm transport: the virtio-gpu device of a VM. Blobs are host3d blob
 * resources mapped through the render node; commands go through
 * EXECBUFFER on ring 0. */
#define _GNU_SOURCE
#include "transport-drm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apir/names.h"
#include "apir/protocol.h"
#include "log.h"
#include "virtgpu-uapi.h"

#define RENDER_NODE_FIRST 128
#define RENDER_NODE_COUNT 64
#define BLOB_ALIGNMENT 16384

struct drm_transport {
    struct vgpu_transport base;
    int fd;
};

static int drm_ioctl(int fd, unsigned long request, void *arg)
{
    int rc;
    do {
        rc = ioctl(fd, request, arg);
    } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
    return rc;
}

static bool is_virtio_gpu(int fd)
{
    char name[32] = { 0 };
    struct vgpu_drm_version v;
    memset(&v, 0, sizeof v);
    v.name = name;
    v.name_len = sizeof name - 1;
    return drm_ioctl(fd, VGPU_DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "virtio_gpu") == 0;
}

static int open_render_node(void)
{
    for (int i = 0; i < RENDER_NODE_COUNT; i++) {
        char path[64];
        snprintf(path, sizeof path, "/dev/dri/renderD%d", RENDER_NODE_FIRST + i);
        const int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && is_virtio_gpu(fd)) {
            LOG_DEBUG("using the virtio-gpu render node %s", path);
            return fd;
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    LOG_ERROR("no virtio-gpu render node in /dev/dri (not in a VM with virtio-gpu? for a local "
              "apir-server set " ENV_TRANSPORT "=vtest or " ENV_VTEST_SOCKET ")");
    return -1;
}

static bool has_param(int fd, uint64_t param)
{
    int value = 0;
    struct vgpu_drm_getparam p = { param, (uint64_t)(uintptr_t)&value };
    return drm_ioctl(fd, VGPU_DRM_IOCTL_GETPARAM, &p) == 0 && value != 0;
}

static void explain_missing_capset(uint32_t capset_id)
{
    if (capset_id == APIR_CAPSET_ID_APIR) {
        LOG_ERROR("the hypervisor does not offer the APIR capset (%u): an unmodified QEMU offers only Venus's; "
                  "unset " ENV_USE_APIR_CAPSET " here to use the Venus capset, with " ENV_ROUTE_VENUS
                  " set in the hypervisor's environment", capset_id);
    } else {
        LOG_ERROR("the hypervisor does not offer the Venus capset (%u): start the VM with virtio-gpu-gl's "
                  "venus=on,blob=on,hostmem=... and our libvirglrenderer.so.1 with " ENV_ROUTE_VENUS " set "
                  "(docs/vm.md)", capset_id);
    }
}

static bool init_context(int fd, uint32_t capset_id)
{
    struct wire_capset caps;
    memset(&caps, 0, sizeof caps);
    struct vgpu_drm_get_caps gc = { capset_id, 0, (uint64_t)(uintptr_t)&caps, sizeof caps, 0 };
    if (drm_ioctl(fd, VGPU_DRM_IOCTL_GET_CAPS, &gc) != 0) {
        explain_missing_capset(capset_id);
        return false;
    }
    if (!wire_capset_valid(&caps)) {
        LOG_ERROR("the hypervisor's Venus capset is Venus's own, not routed to APIR: set "
                  ENV_ROUTE_VENUS " in the hypervisor's environment (QEMU's, where our "
                  "libvirglrenderer.so.1 runs), or use a hypervisor with the APIR capset and set "
                  ENV_USE_APIR_CAPSET " here");
        return false;
    }
    struct vgpu_drm_context_set_param params[3] = {
        { VGPU_DRM_CONTEXT_PARAM_CAPSET_ID, capset_id },
        { VGPU_DRM_CONTEXT_PARAM_NUM_RINGS, 1 },
        { VGPU_DRM_CONTEXT_PARAM_POLL_RINGS_MASK, 0 },
    };
    struct vgpu_drm_context_init init = { 3, 0, (uint64_t)(uintptr_t)params };
    if (drm_ioctl(fd, VGPU_DRM_IOCTL_CONTEXT_INIT, &init) != 0) {
        LOG_ERROR("cannot create a virtio-gpu context on capset %u: %s", capset_id, strerror(errno));
        return false;
    }
    return true;
}

static bool drm_create_blob(struct vgpu_transport *t, size_t size, struct vgpu_blob *out)
{
    struct drm_transport *d = (struct drm_transport *)t;
    size = (size + BLOB_ALIGNMENT - 1) & ~(size_t)(BLOB_ALIGNMENT - 1);
    struct vgpu_drm_resource_create_blob cb;
    memset(&cb, 0, sizeof cb);
    cb.blob_mem = VGPU_DRM_BLOB_MEM_HOST3D;
    cb.blob_flags = VGPU_DRM_BLOB_FLAG_USE_MAPPABLE;
    cb.size = size;
    if (drm_ioctl(d->fd, VGPU_DRM_IOCTL_RESOURCE_CREATE_BLOB, &cb) != 0) {
        LOG_ERROR("cannot create a %zu-byte blob resource: %s", size, strerror(errno));
        return false;
    }
    struct vgpu_drm_map map = { 0, cb.bo_handle, 0 };
    void *ptr = MAP_FAILED;
    if (drm_ioctl(d->fd, VGPU_DRM_IOCTL_MAP, &map) == 0) {
        ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)map.offset);
    }
    if (ptr == MAP_FAILED) {
        struct vgpu_drm_gem_close close_args = { cb.bo_handle, 0 };
        drm_ioctl(d->fd, VGPU_DRM_IOCTL_GEM_CLOSE, &close_args);
        LOG_ERROR("cannot map a blob resource: %s", strerror(errno));
        return false;
    }
    *out = (struct vgpu_blob){ cb.res_handle, ptr, size, cb.bo_handle };
    return true;
}

static void drm_destroy_blob(struct vgpu_transport *t, struct vgpu_blob *blob)
{
    struct drm_transport *d = (struct drm_transport *)t;
    munmap(blob->ptr, blob->size);
    struct vgpu_drm_gem_close close_args = { blob->handle, 0 };
    drm_ioctl(d->fd, VGPU_DRM_IOCTL_GEM_CLOSE, &close_args);
    blob->ptr = NULL;
}

static bool drm_submit(struct vgpu_transport *t, const void *cmd, size_t size)
{
    struct drm_transport *d = (struct drm_transport *)t;
    struct vgpu_drm_execbuffer eb;
    memset(&eb, 0, sizeof eb);
    eb.flags = VGPU_DRM_EXECBUF_RING_IDX;
    eb.size = (uint32_t)size;
    eb.command = (uint64_t)(uintptr_t)cmd;
    return drm_ioctl(d->fd, VGPU_DRM_IOCTL_EXECBUFFER, &eb) == 0;
}

/* The device does not go away under a running VM; a host context that
 * does is said in the reply word the guest waits on (APIR_REPLY_HOST_LOST,
 * which vgpu_transport_alive() then reports). */
static bool drm_alive(struct vgpu_transport *t)
{
    return !atomic_load_explicit(&t->host_said_lost, memory_order_relaxed);
}

static void drm_destroy(struct vgpu_transport *t)
{
    struct drm_transport *d = (struct drm_transport *)t;
    close(d->fd);
    free(d);
}

static const struct vgpu_transport_ops drm_ops = {
    .create_blob = drm_create_blob,
    .destroy_blob = drm_destroy_blob,
    .submit = drm_submit,
    .alive = drm_alive,
    .destroy = drm_destroy,
};

struct vgpu_transport *vgpu_transport_drm_open(bool venus_capset)
{
    const int fd = open_render_node();
    if (fd < 0) {
        return NULL;
    }
    if (!has_param(fd, VGPU_DRM_PARAM_RESOURCE_BLOB) || !has_param(fd, VGPU_DRM_PARAM_CONTEXT_INIT)) {
        LOG_ERROR("the virtio-gpu device lacks blob resources or context init; start the VM with "
                  "blob=true and a hypervisor with virglrenderer's APIR (or Venus) support");
        close(fd);
        return NULL;
    }
    if (!init_context(fd, venus_capset ? APIR_CAPSET_ID_VENUS : APIR_CAPSET_ID_APIR)) {
        close(fd);
        return NULL;
    }
    struct drm_transport *d = calloc(1, sizeof *d);
    if (d == NULL) {
        close(fd);
        return NULL;
    }
    d->fd = fd;
    d->base.ops = &drm_ops;
    d->base.name = "drm";
    d->base.lost = "the hypervisor ended this guest's APIR context; see the host's log";
    d->base.venus_capset = venus_capset;
    d->base.blobs_are_ordinary_memory = false;
    return &d->base;
}
