/* The guest's connection to one APIR host: handshake, library loading, and
 * forwarded calls. One call runs at a time per connection (calls from
 * several threads are serialized). */
#ifndef VGPU_REMOTE_H
#define VGPU_REMOTE_H

#include <pthread.h>

#include "apir-calls.h"
#include "apir-codec.h"
#include "call-stats.h"
#include "apir/names.h"
#include "apir/protocol.h"
#include "log.h"
#include "transport.h"

#define VGPU_CMD_BUFFER_SIZE 8192

struct vgpu_remote {
    struct vgpu_transport *transport;
    struct vgpu_blob reply;  /* notification word + reply payload */
    struct vgpu_blob data;   /* tensor data and serialized graphs */
    pthread_mutex_t lock;
    bool broken;             /* the host went away: every call fails fast */
    uint32_t host_major, host_minor;
    uint32_t call;           /* the call in progress */
    bool debug;              /* GGML_VIRTGPU_DEBUG: each call timed and logged */
    struct vgpu_call_stats stats;
    struct apir_encoder enc;
    uint8_t cmd[VGPU_CMD_BUFFER_SIZE];
};

/* Connects over the transport (which the remote then owns): blobs,
 * handshake, loading of the host library. NULL on failure, with the reason
 * logged. */
struct vgpu_remote *vgpu_remote_open(struct vgpu_transport *transport);
void vgpu_remote_close(struct vgpu_remote *r);

/* The connection's lock: one call at a time, and the shared data blob
 * belongs to the holder (fill it before a call, read it after). */
void vgpu_lock(struct vgpu_remote *r);
void vgpu_unlock(struct vgpu_remote *r);

/* The return code of a call that got no answer: the transport failed or
 * the request did not fit (logged). */
#define VGPU_NO_ANSWER UINT32_MAX

/* Under the lock: starts a FORWARD command of `call` and returns the
 * encoder of its request. */
struct apir_encoder *vgpu_request(struct vgpu_remote *r, uint32_t call);
/* Under the lock: submits the request and waits. Returns the call's return
 * code, with *reply set to decode the reply when it is APIR_CALL_OK, or
 * VGPU_NO_ANSWER. A failure is logged, except an extension the host does
 * not know (APIR_CALL_INVALID_INDEX): an older peer, which callers handle. */
uint32_t vgpu_exchange(struct vgpu_remote *r, struct apir_decoder *reply);
/* APIR_CALL_OK when the reply decoded whole, else logged and FAILED */
uint32_t vgpu_reply_status(struct vgpu_remote *r, const struct apir_decoder *reply);

/* Typed callers of every call of APIR_CALLS:
 *   vgpu_<name>_locked(r, &req, &reply) -> return code (under the lock)
 *   vgpu_<name>(r, &req, &reply)        -> true when the host ran it */
#define VGPU_DEFINE_CALL(NAME, number, name, request, reply)                                          \
    static inline uint32_t vgpu_##name##_locked(struct vgpu_remote *r, const struct apir_msg_##request *req, \
                                               struct apir_msg_##reply *out)                            \
    {                                                                                                 \
        apir_encode_msg_##request(vgpu_request(r, APIR_CALL_##NAME), req);                            \
        struct apir_decoder dec;                                                                      \
        uint32_t rc = vgpu_exchange(r, &dec);                                                         \
        if (rc == APIR_CALL_OK) {                                                                     \
            apir_decode_msg_##reply(&dec, out);                                                       \
            rc = vgpu_reply_status(r, &dec);                                                          \
        }                                                                                             \
        return rc;                                                                                    \
    }                                                                                                 \
    static inline bool vgpu_##name(struct vgpu_remote *r, const struct apir_msg_##request *req,       \
                                   struct apir_msg_##reply *out)                                      \
    {                                                                                                 \
        vgpu_lock(r);                                                                                 \
        const bool ok = vgpu_##name##_locked(r, req, out) == APIR_CALL_OK;                            \
        vgpu_unlock(r);                                                                               \
        return ok;                                                                                    \
    }
APIR_CALLS(VGPU_DEFINE_CALL)
#undef VGPU_DEFINE_CALL

#endif
