/* Forwarded calls by name: vgpu_request starts one, and the typed callers
 * of every call of APIR_CALLS encode its request, exchange it with the host
 * (remote.h) and decode its reply. */
#ifndef VGPU_CALLS_H
#define VGPU_CALLS_H

#include "lock.h"
#include "remote.h"

/* Under the lock: starts a FORWARD command of `call` and returns the
 * encoder of its request. Queued writes are sent first, unless the call
 * carries them. */
struct wire_encoder *vgpu_request(struct vgpu_remote *r, uint32_t call);

/* Typed callers of every call of APIR_CALLS:
 *   vgpu_<name>_locked(r, &req, &reply) -> return code (under the lock)
 *   vgpu_<name>(r, &req, &reply)        -> true when the host ran it */
#define VGPU_DEFINE_CALL(NAME, number, name, request, reply)                                          \
    VGPU_DEFINE_TYPED_CALL(vgpu_##name##_locked, vgpu_request, NAME, request, reply)                  \
    static inline bool vgpu_##name(struct vgpu_remote *r, const struct wire_msg_##request *req,       \
                                   struct wire_msg_##reply *out)                                      \
    {                                                                                                 \
        vgpu_lock(r);                                                                                 \
        const bool ok = vgpu_##name##_locked(r, req, out) == APIR_CALL_OK;                            \
        vgpu_unlock(r);                                                                               \
        return ok;                                                                                    \
    }
APIR_CALLS(VGPU_DEFINE_CALL)
#undef VGPU_DEFINE_CALL

#endif
