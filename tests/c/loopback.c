#include "loopback.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PINNED 16

struct loopback {
    struct vgpu_transport base;
    struct apir_context *ctx;
    void *pinned[MAX_PINNED]; /* blobs the host pinned: freed with the transport */
    int n_pinned;
    uint32_t next_res_id;
    void *cmd_copy;
    size_t cmd_cap;
};

static bool lb_create_blob(struct vgpu_transport *t, size_t size, struct vgpu_blob *out)
{
    struct loopback *lb = (struct loopback *)t;
    size = (size + 4095) & ~(size_t)4095;
    void *ptr = aligned_alloc(4096, size);
    if (ptr == NULL) {
        return false;
    }
    memset(ptr, 0, size);
    *out = (struct vgpu_blob){ ++lb->next_res_id, ptr, size, 0 };
    if (!apir_context_add_resource(lb->ctx, out->res_id, ptr, size)) {
        free(ptr);
        return false;
    }
    return true;
}

static void lb_destroy_blob(struct vgpu_transport *t, struct vgpu_blob *blob)
{
    struct loopback *lb = (struct loopback *)t;
    if (apir_context_remove_resource(lb->ctx, blob->res_id) || lb->n_pinned == MAX_PINNED) {
        free(blob->ptr);
    } else {
        lb->pinned[lb->n_pinned++] = blob->ptr; /* the host still uses it */
    }
    blob->ptr = NULL;
}

/* the host may decode in place: give it a copy, as a socket would */
static bool lb_submit(struct vgpu_transport *t, const void *cmd, size_t size)
{
    struct loopback *lb = (struct loopback *)t;
    if (size > lb->cmd_cap) {
        free(lb->cmd_copy);
        lb->cmd_copy = malloc(size);
        lb->cmd_cap = lb->cmd_copy ? size : 0;
    }
    if (lb->cmd_copy == NULL) {
        return false;
    }
    memcpy(lb->cmd_copy, cmd, size);
    return apir_context_submit(lb->ctx, lb->cmd_copy, size);
}

static bool lb_alive(struct vgpu_transport *t)
{
    (void)t;
    return true;
}

static void lb_destroy(struct vgpu_transport *t)
{
    struct loopback *lb = (struct loopback *)t;
    for (int i = 0; i < lb->n_pinned; i++) {
        free(lb->pinned[i]);
    }
    free(lb->cmd_copy);
    free(lb);
}

static const struct vgpu_transport_ops loopback_ops = {
    .create_blob = lb_create_blob,
    .destroy_blob = lb_destroy_blob,
    .submit = lb_submit,
    .alive = lb_alive,
    .destroy = lb_destroy,
};

struct vgpu_transport *loopback_create(struct apir_context *ctx)
{
    struct loopback *lb = calloc(1, sizeof *lb);
    if (lb == NULL) {
        return NULL;
    }
    lb->base.ops = &loopback_ops;
    lb->base.name = "loopback";
    lb->base.lost = "the loopback host ended";
    lb->ctx = ctx;
    return &lb->base;
}
