/* The guest's connection to one APIR host, the state of all its parts, and
 * one call's round trip over it: the command encoded, submitted, its reply
 * waited for and decoded. One call runs at a time per connection (calls
 * from several threads are serialized by lock.h).
 *
 * The rest, by concern: connection.h opens and closes a connection,
 * calls.h calls the host by name, queued-writes.h holds the writes that
 * ride with the next call, graph-run.h the graph runs the host has taken
 * and the outputs of the last one, shared-blobs.h the blobs of the guest's
 * own buffers, reply-wait.h the wait for the host's words. */
#ifndef VGPU_REMOTE_H
#define VGPU_REMOTE_H

#include <pthread.h>
#include <stdatomic.h>

#include "wire-calls.h"
#include "wire-codec.h"
#include "call-stats.h"
#include "log.h"
#include "transport.h"

#define VGPU_CMD_BUFFER_SIZE 8192

/* Small set_tensor writes wait here until the next call, which carries
 * them (graph run) or sends them first (ext_set_tensors): inputs of a token
 * reach the host with its graph, in one round trip (queued-writes.h). */
struct vgpu_write_queue {
    struct wire_tensor_writes writes;
    size_t used;      /* bytes of the queue area taken */
    bool unsupported; /* the host lacks the extension: writes go one by one */
    struct wire_tensor_writes sending; /* the writes being sent by a flush */
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
 * next holder of the lock waits for its end first (graph-run.h). */
struct vgpu_pending_run {
    bool active;
    int64_t start_ns;                /* when it was submitted */
    struct vgpu_run_outputs outputs; /* where its outputs will be, as far as the reply says */
};

/* Blobs of the connection that hold ggml buffers of the guest's own
 * (shared-buffer.c): a large write from them into a host buffer names the
 * blob instead of copying its bytes into the data blob (shared-blobs.h). */
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
    struct wire_encoder enc;
    uint8_t cmd[VGPU_CMD_BUFFER_SIZE];
};

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

/* ---- one command: encode, submit, wait ------------------------------------ */

/* the reply blob's first word, which the host sets to its return code + 1 */
static inline _Atomic uint32_t *vgpu_reply_word(const struct vgpu_remote *r)
{
    return (_Atomic uint32_t *)r->reply.ptr;
}

/* Starts a command of `type` in r->enc, its reply to come in the reply
 * blob. */
void vgpu_begin_command(struct vgpu_remote *r, uint32_t type, uint32_t flags);
/* Submits the command in r->enc; false (the connection is broken) when
 * it cannot. */
bool vgpu_submit(struct vgpu_remote *r);
/* Waits for the host's return code of the command submitted, polling for
 * up to spin_ns first; false (the connection is broken) when none came. */
bool vgpu_await_reply(struct vgpu_remote *r, int64_t timeout_ms, int64_t spin_ns, uint32_t *ret);
/* Submits the command in r->enc and waits for the host's return code. */
bool vgpu_round_trip(struct vgpu_remote *r, int64_t timeout_ms, uint32_t *ret);
/* From now on every call fails at once; a host that went away is said to
 * be lost, once. */
void vgpu_mark_broken(struct vgpu_remote *r);
/* a decoder of the reply payload */
void vgpu_reply_decoder(struct vgpu_remote *r, struct wire_decoder *dec);

/* ---- one forwarded call --------------------------------------------------- */

/* Under the lock: starts a FORWARD command of `call` and returns the
 * encoder of its request; the outputs of the last graph run are forgotten
 * (the call may change them). The queued writes are left where they are:
 * vgpu_request (calls.h) sends them first. */
struct wire_encoder *vgpu_begin_forward(struct vgpu_remote *r, uint32_t call);
/* whether the request in r->enc fit its command buffer (logged if not) */
bool vgpu_request_fits(const struct vgpu_remote *r);
/* The return code of the call in r->call that the host answered with
 * `ret` (submitted at start_ns), logged as vgpu_exchange says, with *reply
 * set to decode its reply. */
uint32_t vgpu_call_answer(struct vgpu_remote *r, int64_t start_ns, uint32_t ret, struct wire_decoder *reply);
/* Under the lock: submits the request and waits. Returns the call's return
 * code, with *reply set to decode the reply when it is APIR_CALL_OK, or
 * VGPU_NO_ANSWER. A failure is logged ("the host refused <call>: <why>"
 * with a host that gives reasons), except an extension the host does not
 * know (APIR_CALL_INVALID_INDEX): an older peer, which callers handle. */
uint32_t vgpu_exchange(struct vgpu_remote *r, struct wire_decoder *reply);
/* APIR_CALL_OK when the reply decoded whole, else logged and FAILED */
uint32_t vgpu_reply_status(struct vgpu_remote *r, const struct wire_decoder *reply);

/* Defines fn(r, &req, &reply) -> return code, the typed caller of the call
 * APIR_CALL_<NAME> (its request and reply layouts named as APIR_CALLS
 * does), whose command `begin` (r, call) starts: *reply is decoded when the
 * host ran it. */
#define VGPU_DEFINE_TYPED_CALL(fn, begin, NAME, request, reply)                                         \
    static inline uint32_t fn(struct vgpu_remote *r, const struct wire_msg_##request *req,             \
                              struct wire_msg_##reply *out)                                            \
    {                                                                                                 \
        wire_encode_msg_##request(begin(r, APIR_CALL_##NAME), req);                                   \
        struct wire_decoder dec;                                                                      \
        uint32_t rc = vgpu_exchange(r, &dec);                                                         \
        if (rc == APIR_CALL_OK) {                                                                     \
            wire_decode_msg_##reply(&dec, out);                                                       \
            rc = vgpu_reply_status(r, &dec);                                                          \
        }                                                                                             \
        return rc;                                                                                    \
    }

#endif
