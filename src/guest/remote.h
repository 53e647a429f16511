/* The guest's connection to one APIR host: handshake, library loading, and
 * forwarded calls. One call runs at a time per connection (calls from
 * several threads are serialized). */
#ifndef VGPU_REMOTE_H
#define VGPU_REMOTE_H

#include <pthread.h>

#include "apir-codec.h"
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
    struct apir_encoder enc;
    uint8_t cmd[VGPU_CMD_BUFFER_SIZE];
};

/* Connects over the transport (which the remote then owns): blobs,
 * handshake, loading of the host library. NULL on failure, with the reason
 * logged. */
struct vgpu_remote *vgpu_remote_open(struct vgpu_transport *transport);
void vgpu_remote_close(struct vgpu_remote *r);

/* A forwarded call: begin returns the encoder for its arguments (the call
 * holds the connection's lock), end submits and waits, and on success gives
 * the reply decoder; release ends the call. end logs and returns false on a
 * transport failure or a non-zero return code. */
struct apir_encoder *vgpu_call_begin(struct vgpu_remote *r, uint32_t call);
bool vgpu_call_end(struct vgpu_remote *r, struct apir_decoder *reply);
/* vgpu_call_end for a call the host may not know (an extension): a refusal
 * is not logged; *call_rc gets the call's return code (APIR_CALL_OK...). */
bool vgpu_call_try(struct vgpu_remote *r, struct apir_decoder *reply, uint32_t *call_rc);
void vgpu_call_release(struct vgpu_remote *r);

#endif
