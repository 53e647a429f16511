/* The start of a forwarded call (calls.h). */
#include "calls.h"

#include "queued-writes.h"

static bool carries_writes(uint32_t call)
{
    return call == APIR_CALL_EXT_SET_TENSORS || call == APIR_CALL_EXT_GRAPH_RUN || call == APIR_CALL_EXT_GRAPH_RUN_ASYNC;
}

struct wire_encoder *vgpu_request(struct vgpu_remote *r, uint32_t call)
{
    if (r->queue.writes.count > 0 && !carries_writes(call)) {
        vgpu_flush_writes(r);
    }
    return vgpu_begin_forward(r, call);
}
