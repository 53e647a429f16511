/* The connection's shared blobs (shared-blobs.h). */
#include "shared-blobs.h"

#include "calls.h"
#include "queued-writes.h"

bool vgpu_shared_blob_create(struct vgpu_remote *r, size_t size, struct vgpu_blob *out)
{
    struct vgpu_shared_blobs *s = &r->shared;
    if (s->count == VGPU_MAX_SHARED_BLOBS || vgpu_broken(r) ||
        !vgpu_transport_create_blob(r->transport, size, out)) {
        return false;
    }
    s->items[s->count++] = *out;
    return true;
}

void vgpu_shared_blob_destroy(struct vgpu_remote *r, struct vgpu_blob *blob)
{
    struct vgpu_shared_blobs *s = &r->shared;
    for (uint32_t i = 0; i < s->count; i++) {
        if (s->items[i].res_id == blob->res_id) {
            s->items[i] = s->items[--s->count];
            break;
        }
    }
    vgpu_transport_destroy_blob(r->transport, blob);
}

/* the shared blob that holds [p, p + size), or NULL */
static const struct vgpu_blob *shared_blob_holding(const struct vgpu_remote *r, const void *p, size_t size)
{
    const uintptr_t start = (uintptr_t)p;
    for (uint32_t i = 0; i < r->shared.count; i++) {
        const struct vgpu_blob *b = &r->shared.items[i];
        const uintptr_t base = (uintptr_t)b->ptr;
        if (start >= base && start - base <= b->size && size <= b->size - (start - base)) {
            return b;
        }
    }
    return NULL;
}

bool vgpu_write_from_shared(struct vgpu_remote *r, uint64_t buffer, const struct wire_tensor *tensor,
                            uint64_t offset, const void *src, size_t size, bool *refused)
{
    *refused = false;
    const struct vgpu_blob *blob = r->queue.unsupported ? NULL : shared_blob_holding(r, src, size);
    if (blob == NULL) {
        return false;
    }
    if (r->queue.writes.count > 0) {
        vgpu_flush_writes(r); /* they come first, and name the data blob */
    }
    r->outputs.count = 0; /* the write may change them */
    const struct wire_msg_writes req = { .writes = { .res_id = blob->res_id, .count = 1, .items[0] = {
        .buffer = buffer, .tensor = *tensor, .data_offset = (uint64_t)((uintptr_t)src - (uintptr_t)blob->ptr),
        .offset = offset, .size = size } } };
    struct wire_msg_none none;
    const uint32_t rc = vgpu_ext_set_tensors_locked(r, &req, &none);
    if (rc == APIR_CALL_INVALID_INDEX) {
        r->queue.unsupported = true; /* an older host: the caller copies */
        return false;
    }
    *refused = rc != APIR_CALL_OK;
    return rc == APIR_CALL_OK;
}
