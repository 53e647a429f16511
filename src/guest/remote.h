/* The guest's connection to one APIR host: handshake, library loading, and
 * forwarded calls. One call runs at a time per connection (calls from
 * several threads are serialized). */
#ifndef VGPU_REMOTE_H
#define VGPU_REMOTE_H

#include <pthread.h>
#include <stdatomic.h>

#include "apir-calls.h"
#include "apir-codec.h"
#include "call-stats.h"
#include "apir/names.h"
#include "apir/protocol.h"
#include "log.h"
#include "transport.h"

#define VGPU_CMD_BUFFER_SIZE 8192
/* the end of the data blob that holds the bytes of queued writes; a call's
 * own data uses the rest (vgpu_data_capacity) */
#define VGPU_QUEUE_BYTES (4u << 20)
/* a set_tensor of at most this many bytes may be queued */
#define VGPU_QUEUE_MAX_WRITE (64u << 10)

/* Small set_tensor writes wait here until the next call, which carries
 * them (graph run) or sends them first (ext_set_tensors): inputs of a token
 * reach the host with its graph, in one round trip. */
struct vgpu_write_queue {
    struct apir_tensor_writes writes;
    size_t used;      /* bytes of the queue area taken */
    bool unsupported; /* the host lacks the extension: writes go one by one */
    struct apir_tensor_writes sending; /* the writes being sent by a flush */
};

/* Outputs of the last graph run that came back with its reply, in the
 * data blob: a get_tensor of their bytes needs no call. Any later call or
 * queued write forgets them (it may change the tensors, or the blob). */
struct vgpu_run_output {
    uint64_t buffer;  /* host buffer handle */
    uintptr_t start;  /* the tensor's data address (guest side) */
    size_t size;
    size_t at;        /* offset in the data blob */
};
struct vgpu_run_outputs {
    uint32_t count;
    struct vgpu_run_output items[APIR_MAX_OUTPUTS];
};

/* A graph run the host has taken and runs on (ext_graph_run_async): the
 * next holder of the lock waits for its end first. */
struct vgpu_pending_run {
    bool active;
    int64_t start_ns;                /* when it was submitted */
    struct vgpu_run_outputs outputs; /* where its outputs will be, as far as the reply says */
};

/* Blobs of the connection that hold ggml buffers of the guest's own
 * (shared-buffer.c): a large write from them into a host buffer names the
 * blob instead of copying its bytes into the data blob. */
#define VGPU_MAX_SHARED_BLOBS 16
struct vgpu_shared_blobs {
    uint32_t count;
    struct vgpu_blob items[VGPU_MAX_SHARED_BLOBS];
};

struct vgpu_remote {
    struct vgpu_transport *transport;
    struct vgpu_blob reply;  /* notification word + reply payload */
    struct vgpu_blob data;   /* tensor data and serialized graphs */
    pthread_mutex_t lock;
    atomic_bool broken;      /* the host went away: every call fails fast, quietly */
    uint32_t host_major, host_minor;
    uint32_t call;           /* the call in progress */
    bool debug;              /* GGML_VIRTGPU_DEBUG: each call timed and logged */
    struct vgpu_write_queue queue;
    bool no_graph_run;       /* the host lacks ext_graph_run */
    bool no_async_run;       /* the host lacks ext_graph_run_async */
    size_t accept_at;        /* its acceptance word in the reply payload; 0: none fits */
    struct vgpu_pending_run pending;
    int64_t last_run_end_ns; /* debug: when the guest saw the last graph run end */
    bool error_codes;        /* the host says why it refuses a call */
    struct vgpu_run_outputs outputs;
    struct vgpu_shared_blobs shared;
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
 * belongs to the holder (fill it before a call, read it after). Taking it
 * waits for the end of a graph run the host still runs. */
void vgpu_lock(struct vgpu_remote *r);
void vgpu_unlock(struct vgpu_remote *r);

/* the bytes of the data blob a call may use for its own data */
size_t vgpu_data_capacity(const struct vgpu_remote *r);

/* Under the lock: queues a write of bytes [offset, offset + size) of the
 * tensor (in host buffer `buffer`) from src. False when it is not queued
 * (too large, the host lacks the extension): write it with set_tensor. */
bool vgpu_queue_write(struct vgpu_remote *r, uint64_t buffer, const struct apir_wire_tensor *tensor,
                      uint64_t offset, const void *src, size_t size);
/* Under the lock: a new blob of at least size bytes, known as one of the
 * connection's shared blobs; false when it cannot be had (none is left
 * or the transport has no memory). */
bool vgpu_shared_blob_create(struct vgpu_remote *r, size_t size, struct vgpu_blob *out);
/* Under the lock: the blob is no longer the connection's, and is destroyed. */
void vgpu_shared_blob_destroy(struct vgpu_remote *r, struct vgpu_blob *blob);
/* Under the lock: writes bytes [offset, offset + size) of the tensor (in
 * host buffer `buffer`) from src, which lies in one of the connection's
 * shared blobs, by naming the blob (after the queued writes). False when
 * it was not sent that way (src is elsewhere, the host lacks
 * ext_set_tensors); *refused then says whether the host refused it. */
bool vgpu_write_from_shared(struct vgpu_remote *r, uint64_t buffer, const struct apir_wire_tensor *tensor,
                            uint64_t offset, const void *src, size_t size, bool *refused);
/* Under the lock: moves the queued writes into *out (for a call that
 * carries them); the queue is empty after it. */
void vgpu_take_writes(struct vgpu_remote *r, struct apir_tensor_writes *out);
/* Under the lock: sends writes now (ext_set_tensors, or one set_tensor each
 * to a host without it); false (logged) when the host refused one. */
bool vgpu_send_writes(struct vgpu_remote *r, const struct apir_tensor_writes *writes);

/* Whether the connection broke (the host's context was lost, said once in
 * the log): every call fails at once. */
static inline bool vgpu_broken(const struct vgpu_remote *r)
{
    return atomic_load(&r->broken);
}

/* Logs an error about a call that failed, unless the connection broke:
 * that was said once, and each later call failing would only repeat it. */
#define VGPU_CALL_ERROR(r, ...)     \
    do {                            \
        if (!vgpu_broken(r)) {      \
            LOG_ERROR(__VA_ARGS__); \
        }                           \
    } while (0)

/* The return code of a call that got no answer: the transport failed or
 * the request did not fit (logged). */
#define VGPU_NO_ANSWER UINT32_MAX

/* Under the lock: starts a FORWARD command of `call` and returns the
 * encoder of its request. Queued writes are sent first, unless the call
 * carries them. */
struct apir_encoder *vgpu_request(struct vgpu_remote *r, uint32_t call);
/* Bytes [start, start + size) of a tensor in host buffer `buffer`, from the
 * outputs of the last graph run, into dst; false when they are not among
 * them. Called with the lock held. */
bool vgpu_read_run_output(struct vgpu_remote *r, uint64_t buffer, uintptr_t start, size_t size, void *dst);
/* Under the lock: submits the request and waits. Returns the call's return
 * code, with *reply set to decode the reply when it is APIR_CALL_OK, or
 * VGPU_NO_ANSWER. A failure is logged ("the host refused <call>: <why>"
 * with a host that gives reasons), except an extension the host does not
 * know (APIR_CALL_INVALID_INDEX): an older peer, which callers handle. */
uint32_t vgpu_exchange(struct vgpu_remote *r, struct apir_decoder *reply);
/* The return code of an ext_graph_run_async the host took: it runs on. */
#define VGPU_ACCEPTED (UINT32_MAX - 1)
/* Under the lock: submits an ext_graph_run_async and waits until the host
 * has taken the work (VGPU_ACCEPTED: the run's end is waited for when the
 * lock is next taken, and its outputs are then those of `outputs` that the
 * reply counts) or has answered (its return code, *result filled, as from
 * vgpu_ext_graph_run_locked). */
uint32_t vgpu_graph_run_async_locked(struct vgpu_remote *r, const struct apir_msg_graph_run *req,
                                     const struct vgpu_run_outputs *outputs, struct apir_msg_graph_result *result);
/* Under the lock: the first n outputs of `layout` are those the last graph
 * run brought back (its reply counts them), for get_tensor to find. */
void vgpu_note_run_outputs(struct vgpu_remote *r, const struct vgpu_run_outputs *layout, uint32_t n);
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
