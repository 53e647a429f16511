/* The writes that ride with the next call (queued-writes.h). */
#include "queued-writes.h"

#include <string.h>

/* The calls that send writes taken from the queue. They start with
 * vgpu_begin_forward, not vgpu_request (calls.h): that one sends the
 * queued writes first, which would lead back here, and there is nothing
 * to send first (the queue was taken, and ext_set_tensors carries it). */
VGPU_DEFINE_TYPED_CALL(send_set_tensors, vgpu_begin_forward, EXT_SET_TENSORS, writes, none)
VGPU_DEFINE_TYPED_CALL(send_set_tensor, vgpu_begin_forward, BUFFER_SET_TENSOR, tensor_io, none)

size_t vgpu_data_capacity(const struct vgpu_remote *r)
{
    return r->data.size - VGPU_QUEUE_BYTES;
}

/* where the queue area starts in the data blob */
static size_t queue_base(const struct vgpu_remote *r)
{
    return vgpu_data_capacity(r);
}

/* used grows by at most APIR_MAX_WRITES padded writes of VGPU_QUEUE_MAX_WRITE
 * bytes, so it never passes VGPU_QUEUE_BYTES and the subtraction below is
 * safe */
_Static_assert(APIR_MAX_WRITES * (VGPU_QUEUE_MAX_WRITE + 8) <= VGPU_QUEUE_BYTES, "the write queue fits its area");

static bool queue_has_room(const struct vgpu_remote *r, size_t size)
{
    return r->queue.writes.count < APIR_MAX_WRITES && size <= VGPU_QUEUE_BYTES - r->queue.used;
}

/* A host without ext_set_tensors: each write becomes a set_tensor of the
 * bytes moved to the start of the blob (where set_tensor reads them). */
static bool send_writes_one_by_one(struct vgpu_remote *r, const struct wire_tensor_writes *writes)
{
    for (uint32_t i = 0; i < writes->count; i++) {
        const struct wire_tensor_write *w = &writes->items[i];
        memmove(r->data.ptr, (uint8_t *)r->data.ptr + w->data_offset, w->size);
        const struct wire_msg_tensor_io req = {
            .buffer = w->buffer, .tensor = w->tensor, .res_id = r->data.res_id, .offset = w->offset, .size = w->size
        };
        struct wire_msg_none none;
        if (send_set_tensor(r, &req, &none) != APIR_CALL_OK) {
            return false;
        }
    }
    return true;
}

bool vgpu_send_writes(struct vgpu_remote *r, const struct wire_tensor_writes *writes)
{
    if (writes->count == 0) {
        return true;
    }
    if (!r->queue.unsupported) {
        const struct wire_msg_writes req = { .writes = *writes };
        struct wire_msg_none none;
        const uint32_t rc = send_set_tensors(r, &req, &none);
        if (rc != APIR_CALL_INVALID_INDEX) {
            return rc == APIR_CALL_OK;
        }
        r->queue.unsupported = true; /* an older host: from now on, set_tensor */
    }
    return send_writes_one_by_one(r, writes);
}

void vgpu_take_writes(struct vgpu_remote *r, struct wire_tensor_writes *out)
{
    *out = r->queue.writes;
    r->queue.writes.count = 0;
    r->queue.used = 0;
}

void vgpu_flush_writes(struct vgpu_remote *r)
{
    struct wire_tensor_writes *writes = &r->queue.sending;
    vgpu_take_writes(r, writes);
    if (!vgpu_send_writes(r, writes)) {
        VGPU_CALL_ERROR(r, "%u queued tensor writes failed (see the host's log)", writes->count);
    }
}

bool vgpu_queue_write(struct vgpu_remote *r, uint64_t buffer, const struct wire_tensor *tensor,
                      uint64_t offset, const void *src, size_t size)
{
    r->outputs.count = 0; /* the write may change them */
    if (r->queue.unsupported || size > VGPU_QUEUE_MAX_WRITE) {
        return false;
    }
    if (!queue_has_room(r, size)) {
        vgpu_flush_writes(r);
    }
    const size_t at = queue_base(r) + r->queue.used;
    memcpy((uint8_t *)r->data.ptr + at, src, size);
    r->queue.writes.res_id = r->data.res_id;
    r->queue.writes.items[r->queue.writes.count++] = (struct wire_tensor_write){
        .buffer = buffer, .tensor = *tensor, .data_offset = at, .offset = offset, .size = size
    };
    r->queue.used += (size + 7) & ~(size_t)7;
    return true;
}
