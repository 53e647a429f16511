/* The guest side of the APIR protocol: command framing, the reply wait, the
 * handshake and the loading of the host library. */
#define _GNU_SOURCE
#include "remote.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ggml.h"

#define HANDSHAKE_TIMEOUT_MS 2000
#define LOAD_LIBRARY_TIMEOUT_MS 60000
#define NO_TIMEOUT 0
/* how long to poll the notification word before sleeping: a cheap call is
 * answered within it; a long one must not keep a core from the host's work,
 * unless the machine has cores to spare: then the wait goes on polling
 * (yielding the core to anything runnable) for up to SPIN_LONG_NS, as
 * ggml-cuda's own synchronization spins, and a graph run's answer is seen
 * at once instead of after a futex wake-up */
#define SPIN_NS 50000
#define SPIN_LONG_NS 5000000
#define SPARE_CORES_FOR_LONG_SPIN 8
#define POLLS_PER_CLOCK_READ 64
#define SLEEP_MIN_NS 20000L
#define SLEEP_MAX_NS 1000000L

static void complete_pending_run(struct vgpu_remote *r);

/* ---- the reply wait ----------------------------------------------------- */

static int64_t spin_budget_ns(void)
{
    static _Atomic int64_t budget;
    if (atomic_load_explicit(&budget, memory_order_relaxed) == 0) {
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        atomic_store_explicit(&budget, cores >= SPARE_CORES_FOR_LONG_SPIN ? SPIN_LONG_NS : SPIN_NS,
                              memory_order_relaxed);
    }
    return atomic_load_explicit(&budget, memory_order_relaxed);
}

/* The polling before sleeping for the end of a graph run the host has
 * taken, which is milliseconds away: a machine without cores to spare
 * sleeps at once, since polling there takes a core from the host's own
 * compute (with a CPU host, on the same few cores). Measured on 2 cores,
 * small model Q4_0 tg64: 219.3 against 224.4 ms and 227.7 against
 * 231.9 ms (bench/results/2026-11-26-cpu.md). */
static int64_t run_end_spin_ns(void)
{
    return spin_budget_ns() == SPIN_LONG_NS ? SPIN_LONG_NS : 0;
}

/* The value of `word`, or 0; when that is 0 and `also` (may be NULL) is
 * set, *also_set. */
static uint32_t first_set(_Atomic uint32_t *word, _Atomic uint32_t *also, bool *also_set)
{
    const uint32_t v = atomic_load_explicit(word, memory_order_acquire);
    if (v == 0 && also != NULL && atomic_load_explicit(also, memory_order_acquire) != 0) {
        *also_set = true;
    }
    return v;
}

/* Polls for up to budget_ns: `word`'s value, or 0 (with *also_set when
 * `also` was set first, or nothing was). */
static uint32_t spin_on(_Atomic uint32_t *word, _Atomic uint32_t *also, int64_t budget_ns, bool *also_set)
{
    const int64_t start = monotonic_ns(), budget = budget_ns;
    int64_t spun = 0;
    do {
        for (int i = 0; i < POLLS_PER_CLOCK_READ; i++) {
            const uint32_t v = first_set(word, also, also_set);
            if (v != 0 || *also_set) {
                return v;
            }
        }
        spun = monotonic_ns() - start;
        if (spun > SPIN_NS) {
            sched_yield();
        }
    } while (spun < budget);
    return 0;
}

/* Waits until the host sets `word` and returns its value, or returns 0 on
 * timeout (timeout_ms 0: none), when the host is gone, or (*also_set) when
 * `also`, if not NULL, is set first. It polls for up to spin_ns first,
 * then sleeps on the word: a host on the same machine (vtest) wakes the
 * futex at once; a VM's host cannot, so the sleep between checks grows
 * from 20 us to 1 ms. */
static uint32_t wait_word(struct vgpu_remote *r, _Atomic uint32_t *word, _Atomic uint32_t *also, int64_t timeout_ms,
                          int64_t spin_ns, bool *also_set)
{
    *also_set = false;
    const uint32_t spun = spin_on(word, also, spin_ns, also_set);
    if (spun != 0 || *also_set) {
        return spun;
    }
    const int64_t start = monotonic_ns();
    long sleep_ns = SLEEP_MIN_NS;
    for (;;) {
        struct timespec slice = { 0, sleep_ns };
        syscall(SYS_futex, word, FUTEX_WAIT, 0, &slice, NULL, 0);
        const uint32_t v = first_set(word, also, also_set);
        if (v != 0 || *also_set) {
            return v;
        }
        if (!vgpu_transport_alive(r->transport)) {
            return 0;
        }
        if (timeout_ms > 0 && monotonic_ns() - start > timeout_ms * 1000000) {
            LOG_ERROR("no answer from the host within %lld ms", (long long)timeout_ms);
            return 0;
        }
        sleep_ns = sleep_ns * 2 > SLEEP_MAX_NS ? SLEEP_MAX_NS : sleep_ns * 2;
    }
}

static _Atomic uint32_t *reply_word(const struct vgpu_remote *r)
{
    return (_Atomic uint32_t *)r->reply.ptr;
}

/* the word an ext_graph_run_async's host sets once it has taken the work */
static _Atomic uint32_t *accept_word(const struct vgpu_remote *r)
{
    return (_Atomic uint32_t *)(void *)((uint8_t *)r->reply.ptr + APIR_REPLY_PAYLOAD_OFFSET + r->accept_at);
}

static void begin_command(struct vgpu_remote *r, uint32_t type, uint32_t flags)
{
    const uint32_t offset = r->transport->venus_capset ? APIR_VENUS_COMMAND_OFFSET : 0;
    apir_encoder_init(&r->enc, r->cmd, sizeof r->cmd);
    apir_encode_u32(&r->enc, type + offset);
    apir_encode_u32(&r->enc, flags);
    apir_encode_u32(&r->enc, r->reply.res_id);
}

/* From now on every call fails at once. A host that went away (its
 * process died: a crash, a GGML abort, the sandbox, a kill) is said to be
 * lost, once; llama.cpp then sees its calls fail and ends cleanly. */
static void mark_broken(struct vgpu_remote *r)
{
    if (!vgpu_broken(r) && !vgpu_transport_alive(r->transport)) {
        LOG_ERROR("the host context was lost: %s", r->transport->lost);
    }
    r->broken = true;
}

/* Submits the command in r->enc; false (the connection is broken) when
 * it cannot. */
static bool submit(struct vgpu_remote *r)
{
    if (vgpu_broken(r)) {
        return false;
    }
    atomic_store_explicit(reply_word(r), 0, memory_order_relaxed);
    if (!vgpu_transport_submit(r->transport, r->cmd, apir_encoder_used(&r->enc))) {
        if (vgpu_transport_alive(r->transport)) {
            LOG_ERROR("cannot submit a command to the host (%s transport)", r->transport->name);
        }
        mark_broken(r);
        return false;
    }
    return true;
}

/* Waits for the host's return code of the command submitted, polling for
 * up to spin_ns first. */
static bool await_reply(struct vgpu_remote *r, int64_t timeout_ms, int64_t spin_ns, uint32_t *ret)
{
    if (vgpu_broken(r)) {
        return false;
    }
    bool unused;
    const uint32_t notification = wait_word(r, reply_word(r), NULL, timeout_ms, spin_ns, &unused);
    if (notification == 0) {
        mark_broken(r);
        return false;
    }
    *ret = notification - 1;
    return true;
}

/* Submits the command in r->enc and waits for the host's return code. */
static bool round_trip(struct vgpu_remote *r, int64_t timeout_ms, uint32_t *ret)
{
    return submit(r) && await_reply(r, timeout_ms, spin_budget_ns(), ret);
}

static void reply_decoder(struct vgpu_remote *r, struct apir_decoder *dec)
{
    apir_decoder_init(dec, (uint8_t *)r->reply.ptr + APIR_REPLY_PAYLOAD_OFFSET,
                      r->reply.size - APIR_REPLY_PAYLOAD_OFFSET);
}

/* ---- connection setup --------------------------------------------------- */

static bool handshake(struct vgpu_remote *r)
{
    begin_command(r, APIR_CMD_HANDSHAKE, 0);
    apir_encode_u32(&r->enc, APIR_PROTOCOL_MAJOR);
    apir_encode_u32(&r->enc, APIR_PROTOCOL_MINOR);
    uint32_t ret;
    if (!round_trip(r, HANDSHAKE_TIMEOUT_MS, &ret)) {
        LOG_ERROR("the host did not answer the APIR handshake: it does not serve APIR contexts "
                       "(wrong hypervisor or server, or " ENV_ROUTE_VENUS " unset on the host "
                       "while the guest uses the Venus capset)");
        return false;
    }
    if (ret != APIR_HANDSHAKE_MAGIC) {
        LOG_ERROR("the APIR handshake failed: the host answered 0x%x instead of 0x%x", ret,
                       APIR_HANDSHAKE_MAGIC);
        return false;
    }
    struct apir_decoder dec;
    reply_decoder(r, &dec);
    r->host_major = apir_decode_u32(&dec);
    r->host_minor = apir_decode_u32(&dec);
    if (r->host_major != APIR_PROTOCOL_MAJOR) {
        LOG_ERROR("the host speaks APIR protocol %u.%u, this guest %u.%u: major versions differ", r->host_major,
                       r->host_minor, APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR);
        return false;
    }
    if (r->host_minor != APIR_PROTOCOL_MINOR) {
        LOG_INFO("the host speaks APIR protocol %u.%u, this guest %u.%u", r->host_major, r->host_minor,
                      APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR);
    }
    return true;
}

static const char *backend_init_failure(uint32_t code)
{
    switch (code) {
    case APIR_BACKEND_INIT_BACKEND_REG_FAILED: return "the GGML library's registration function failed";
    case APIR_BACKEND_INIT_ALREADY_INITED: return "the context was already initialized";
    case APIR_BACKEND_INIT_NO_DEVICE: return "the GGML library has no device";
    case APIR_BACKEND_INIT_BACKEND_INIT_FAILED: return "the GGML backend failed to start on its device";
    default: return "it failed";
    }
}

/* Turns a LOADLIBRARY return code into what the user must do. */
static void explain_load_failure(uint32_t code)
{
    const uint32_t base = APIR_LOAD_LIBRARY_INIT_BASE_INDEX;
    switch (code) {
    case APIR_LOAD_LIBRARY_ENV_VAR_MISSING:
        LOG_ERROR("the hypervisor has no APIR backend library configured: set " ENV_BACKEND_LIBRARY " "
                       "(config key " APIR_CFG_LOAD_LIBRARY_PATH ") on the host to libggml-virtgpu-backend.so");
        return;
    case APIR_LOAD_LIBRARY_CANNOT_OPEN:
        LOG_ERROR("the hypervisor cannot open the APIR backend library named by " ENV_BACKEND_LIBRARY "; "
                       "check that path on the host");
        return;
    case APIR_LOAD_LIBRARY_SYMBOL_MISSING:
        LOG_ERROR("the library named by " ENV_BACKEND_LIBRARY " on the host is not an APIR backend library");
        return;
    case APIR_LOAD_LIBRARY_ALREADY_LOADED:
    case APIR_LOAD_LIBRARY_HYPERCALL_INITIALIZATION_ERROR:
        LOG_ERROR("the hypervisor's APIR component could not load the backend library (code %u)", code);
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_ENV_VAR_MISSING:
        LOG_ERROR("the host cannot open the GGML library: env var '" ENV_GGML_LIBRARY_PATH "' not defined "
                  "(set it, or the config key " APIR_CFG_GGML_LIBRARY_PATH ", on the host to the GGML backend "
                  "library to run on, e.g. libggml-cuda.so)");
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_CANNOT_OPEN:
        LOG_ERROR("the host library cannot open the GGML library named by " ENV_GGML_LIBRARY_PATH "; "
                       "check that path on the host");
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_SYMBOL_MISSING:
        LOG_ERROR("the host library cannot find the GGML library's registration function: set "
                       ENV_GGML_LIBRARY_REG " on the host (e.g. ggml_backend_cuda_reg)");
        return;
    default:
        if (code >= 2 * base) {
            LOG_ERROR("the host library could not start the GGML backend: %s (see the host's log)",
                           backend_init_failure(code - 2 * base));
        } else {
            LOG_ERROR("the host could not load its libraries (code %u; see the host's log)", code);
        }
    }
}

static bool load_library(struct vgpu_remote *r)
{
    begin_command(r, APIR_CMD_LOAD_LIBRARY, 0);
    uint32_t ret;
    if (!round_trip(r, LOAD_LIBRARY_TIMEOUT_MS, &ret)) {
        LOG_ERROR("the host did not answer the request to load its libraries");
        return false;
    }
    if (ret != APIR_LOAD_LIBRARY_SUCCESS) {
        explain_load_failure(ret);
        return false;
    }
    return true;
}

/* From now on the host answers a refused call with why (an APIR_CALL_ERRORS
 * code); an older host does not know the extension and answers
 * APIR_CALL_FAILED, as before. */
static void ask_for_error_codes(struct vgpu_remote *r)
{
    struct apir_msg_none none = { 0 };
    r->error_codes = vgpu_ext_error_codes_locked(r, &none, &none) == APIR_CALL_OK;
    if (!r->error_codes) {
        LOG_DEBUG("the host does not say why it refuses a call: its own log will");
    }
}

struct vgpu_remote *vgpu_remote_open(struct vgpu_transport *transport)
{
    struct vgpu_remote *r = calloc(1, sizeof *r);
    if (r == NULL) {
        vgpu_transport_destroy(transport);
        return NULL;
    }
    r->transport = transport;
    r->debug = log_debug_enabled(&component_log);
    pthread_mutex_init(&r->lock, NULL);
    if (!vgpu_transport_create_blob(transport, APIR_REPLY_BLOB_SIZE, &r->reply) ||
        !vgpu_transport_create_blob(transport, APIR_DATA_BLOB_SIZE, &r->data)) {
        LOG_ERROR("cannot create the shared-memory blobs with the host (%s transport)", transport->name);
        vgpu_remote_close(r);
        return NULL;
    }
    r->accept_at = apir_accept_word_offset(r->reply.size - APIR_REPLY_PAYLOAD_OFFSET);
    r->no_async_run = r->accept_at == 0; /* no room for the acceptance word */
    if (!handshake(r) || !load_library(r)) {
        vgpu_remote_close(r);
        return NULL;
    }
    ask_for_error_codes(r);
    return r;
}

void vgpu_remote_close(struct vgpu_remote *r)
{
    struct vgpu_transport *t = r->transport;
    if (r->pending.active) {
        complete_pending_run(r); /* the host may still write into the blobs */
    }
    if (r->data.ptr != NULL) {
        vgpu_transport_destroy_blob(t, &r->data);
    }
    if (r->reply.ptr != NULL) {
        vgpu_transport_destroy_blob(t, &r->reply);
    }
    vgpu_transport_destroy(t);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void vgpu_lock(struct vgpu_remote *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->pending.active) {
        complete_pending_run(r); /* the blobs and the outputs are the holder's only then */
    }
}

void vgpu_unlock(struct vgpu_remote *r)
{
    pthread_mutex_unlock(&r->lock);
}

/* ---- queued writes ------------------------------------------------------ */

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
static bool send_writes_one_by_one(struct vgpu_remote *r, const struct apir_tensor_writes *writes)
{
    for (uint32_t i = 0; i < writes->count; i++) {
        const struct apir_tensor_write *w = &writes->items[i];
        memmove(r->data.ptr, (uint8_t *)r->data.ptr + w->data_offset, w->size);
        const struct apir_msg_tensor_io req = {
            .buffer = w->buffer, .tensor = w->tensor, .res_id = r->data.res_id, .offset = w->offset, .size = w->size
        };
        struct apir_msg_none none;
        if (vgpu_buffer_set_tensor_locked(r, &req, &none) != APIR_CALL_OK) {
            return false;
        }
    }
    return true;
}

bool vgpu_send_writes(struct vgpu_remote *r, const struct apir_tensor_writes *writes)
{
    if (writes->count == 0) {
        return true;
    }
    if (!r->queue.unsupported) {
        const struct apir_msg_writes req = { .writes = *writes };
        struct apir_msg_none none;
        const uint32_t rc = vgpu_ext_set_tensors_locked(r, &req, &none);
        if (rc != APIR_CALL_INVALID_INDEX) {
            return rc == APIR_CALL_OK;
        }
        r->queue.unsupported = true; /* an older host: from now on, set_tensor */
    }
    return send_writes_one_by_one(r, writes);
}

void vgpu_take_writes(struct vgpu_remote *r, struct apir_tensor_writes *out)
{
    *out = r->queue.writes;
    r->queue.writes.count = 0;
    r->queue.used = 0;
}

static void flush_writes(struct vgpu_remote *r)
{
    struct apir_tensor_writes *writes = &r->queue.sending;
    vgpu_take_writes(r, writes);
    if (!vgpu_send_writes(r, writes)) {
        VGPU_CALL_ERROR(r, "%u queued tensor writes failed (see the host's log)", writes->count);
    }
}

bool vgpu_queue_write(struct vgpu_remote *r, uint64_t buffer, const struct apir_wire_tensor *tensor,
                      uint64_t offset, const void *src, size_t size)
{
    r->outputs.count = 0; /* the write may change them */
    if (r->queue.unsupported || size > VGPU_QUEUE_MAX_WRITE) {
        return false;
    }
    if (!queue_has_room(r, size)) {
        flush_writes(r);
    }
    const size_t at = queue_base(r) + r->queue.used;
    memcpy((uint8_t *)r->data.ptr + at, src, size);
    r->queue.writes.res_id = r->data.res_id;
    r->queue.writes.items[r->queue.writes.count++] = (struct apir_tensor_write){
        .buffer = buffer, .tensor = *tensor, .data_offset = at, .offset = offset, .size = size
    };
    r->queue.used += (size + 7) & ~(size_t)7;
    return true;
}

/* ---- shared blobs of the guest's own buffers ------------------------------ */

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

bool vgpu_write_from_shared(struct vgpu_remote *r, uint64_t buffer, const struct apir_wire_tensor *tensor,
                            uint64_t offset, const void *src, size_t size, bool *refused)
{
    *refused = false;
    const struct vgpu_blob *blob = r->queue.unsupported ? NULL : shared_blob_holding(r, src, size);
    if (blob == NULL) {
        return false;
    }
    if (r->queue.writes.count > 0) {
        flush_writes(r); /* they come first, and name the data blob */
    }
    r->outputs.count = 0; /* the write may change them */
    const struct apir_msg_writes req = { .writes = { .res_id = blob->res_id, .count = 1, .items[0] = {
        .buffer = buffer, .tensor = *tensor, .data_offset = (uint64_t)((uintptr_t)src - (uintptr_t)blob->ptr),
        .offset = offset, .size = size } } };
    struct apir_msg_none none;
    const uint32_t rc = vgpu_ext_set_tensors_locked(r, &req, &none);
    if (rc == APIR_CALL_INVALID_INDEX) {
        r->queue.unsupported = true; /* an older host: the caller copies */
        return false;
    }
    *refused = rc != APIR_CALL_OK;
    return rc == APIR_CALL_OK;
}

/* ---- forwarded calls ------------------------------------------------------ */

static bool carries_writes(uint32_t call)
{
    return call == APIR_CALL_EXT_SET_TENSORS || call == APIR_CALL_EXT_GRAPH_RUN || call == APIR_CALL_EXT_GRAPH_RUN_ASYNC;
}

bool vgpu_read_run_output(struct vgpu_remote *r, uint64_t buffer, uintptr_t start, size_t size, void *dst)
{
    for (uint32_t i = 0; i < r->outputs.count; i++) {
        const struct vgpu_run_output *o = &r->outputs.items[i];
        if (o->buffer == buffer && start >= o->start && start - o->start <= o->size &&
            size <= o->size - (start - o->start)) {
            memcpy(dst, (const uint8_t *)r->data.ptr + o->at + (start - o->start), size);
            return true;
        }
    }
    return false;
}

struct apir_encoder *vgpu_request(struct vgpu_remote *r, uint32_t call)
{
    r->outputs.count = 0; /* the call may change them */
    if (r->queue.writes.count > 0 && !carries_writes(call)) {
        flush_writes(r);
    }
    r->call = call;
    begin_command(r, APIR_CMD_FORWARD, call);
    return &r->enc;
}

static bool is_unknown_extension(uint32_t call, uint32_t rc)
{
    return call >= APIR_CALL_EXT_FIRST && rc == APIR_CALL_INVALID_INDEX;
}

/* The return code of the call in r->call that the host answered with
 * `ret` (submitted at start_ns), logged as vgpu_exchange says, with *reply
 * set to decode its reply. */
static uint32_t call_answer(struct vgpu_remote *r, int64_t start_ns, uint32_t ret, struct apir_decoder *reply)
{
    const char *name = apir_call_name(r->call);
    if (r->debug) {
        const int64_t ns = monotonic_ns() - start_ns;
        vgpu_stats_record(&r->stats, r->call, ns);
        LOG_DEBUG("%s: %.1f us", name, (double)ns / 1e3);
    }
    if (ret < APIR_FORWARD_BASE_INDEX && r->call >= APIR_CALL_EXT_FIRST) {
        /* what some APIR components answer for a call their host refused */
        LOG_DEBUG("%s: not forwarded (code %u): taken as a host without it", name, ret);
        return APIR_CALL_INVALID_INDEX;
    }
    if (ret < APIR_FORWARD_BASE_INDEX) {
        LOG_ERROR("%s: the hypervisor could not forward the call (code %u)", name, ret);
        return VGPU_NO_ANSWER;
    }
    const uint32_t rc = ret - APIR_FORWARD_BASE_INDEX;
    const char *why = apir_call_error_text(rc);
    if (why != NULL) {
        LOG_ERROR("the host refused %s: %s, code %u (the host's log says more)", name, why, rc);
    } else if (rc != APIR_CALL_OK && !is_unknown_extension(r->call, rc)) {
        LOG_ERROR("the host refused %s (code %u; see the host's log)", name, rc);
    }
    reply_decoder(r, reply);
    return rc;
}

static bool request_fits(const struct vgpu_remote *r)
{
    if (r->enc.fatal) {
        LOG_ERROR("%s: the arguments do not fit a command buffer", apir_call_name(r->call));
    }
    return !r->enc.fatal;
}

uint32_t vgpu_exchange(struct vgpu_remote *r, struct apir_decoder *reply)
{
    if (!request_fits(r)) {
        return VGPU_NO_ANSWER;
    }
    uint32_t ret;
    const int64_t start = r->debug ? monotonic_ns() : 0;
    if (!round_trip(r, NO_TIMEOUT, &ret)) {
        return VGPU_NO_ANSWER; /* logged once, when the connection broke */
    }
    return call_answer(r, start, ret, reply);
}

/* ---- graph runs the host has taken (ext_graph_run_async) ---------------- */

/* The graph run's result into *result: its return code. */
static uint32_t graph_run_result(struct vgpu_remote *r, int64_t start_ns, uint32_t ret,
                                 struct apir_msg_graph_result *result)
{
    struct apir_decoder dec;
    uint32_t rc = call_answer(r, start_ns, ret, &dec);
    if (rc == APIR_CALL_OK) {
        apir_decode_msg_graph_result(&dec, result);
        rc = vgpu_reply_status(r, &dec);
    }
    return rc;
}

/* A debug line per graph run taken: how long the host took to take it, and
 * how long the guest was busy with its own work between the previous run's
 * end and this submission (the guest gap of bench/timeline.py). */
static void log_run_taken(const struct vgpu_remote *r, int64_t submitted_ns)
{
    const double taken_us = (double)(monotonic_ns() - submitted_ns) / 1e3;
    if (r->last_run_end_ns == 0) {
        LOG_DEBUG("ext_graph_run_async: taken in %.1f us", taken_us);
        return;
    }
    LOG_DEBUG("ext_graph_run_async: taken in %.1f us, submitted %.1f us after the previous run's end", taken_us,
              (double)(submitted_ns - r->last_run_end_ns) / 1e3);
}

uint32_t vgpu_graph_run_async_locked(struct vgpu_remote *r, const struct apir_msg_graph_run *req,
                                     const struct vgpu_run_outputs *outputs, struct apir_msg_graph_result *result)
{
    apir_encode_msg_graph_run(vgpu_request(r, APIR_CALL_EXT_GRAPH_RUN_ASYNC), req);
    if (!request_fits(r)) {
        return VGPU_NO_ANSWER;
    }
    atomic_store_explicit(accept_word(r), 0, memory_order_relaxed);
    const int64_t start = r->debug ? monotonic_ns() : 0;
    if (!submit(r)) {
        return VGPU_NO_ANSWER;
    }
    bool answered = false;
    if (wait_word(r, accept_word(r), reply_word(r), NO_TIMEOUT, spin_budget_ns(), &answered) != 0) {
        if (r->debug) {
            log_run_taken(r, start);
        }
        r->pending = (struct vgpu_pending_run){ .active = true, .start_ns = start, .outputs = *outputs };
        return VGPU_ACCEPTED;
    }
    if (!answered) {
        mark_broken(r);
        return VGPU_NO_ANSWER;
    }
    const uint32_t ret = atomic_load_explicit(reply_word(r), memory_order_acquire) - 1;
    return graph_run_result(r, start, ret, result);
}

/* Waits for the end of the graph run the host took; its outputs are then
 * where they were said to be. A run that failed after it was taken is
 * logged: ggml already heard it was. */
static void complete_pending_run(struct vgpu_remote *r)
{
    struct vgpu_pending_run *p = &r->pending;
    p->active = false;
    r->call = APIR_CALL_EXT_GRAPH_RUN_ASYNC;
    struct apir_msg_graph_result result = { .status = GGML_STATUS_FAILED, .kept = false };
    uint32_t ret;
    if (!await_reply(r, NO_TIMEOUT, run_end_spin_ns(), &ret)) {
        return; /* logged once, when the connection broke */
    }
    if (r->debug) {
        r->last_run_end_ns = monotonic_ns();
    }
    const uint32_t rc = graph_run_result(r, p->start_ns, ret, &result);
    if (rc != APIR_CALL_OK || !result.kept || result.status != GGML_STATUS_SUCCESS) {
        VGPU_CALL_ERROR(r, "a graph run the host had taken failed (status %d): its results are not valid; "
                           "see the host's log", (int)result.status);
        return;
    }
    vgpu_note_run_outputs(r, &p->outputs, result.outputs);
}

void vgpu_note_run_outputs(struct vgpu_remote *r, const struct vgpu_run_outputs *layout, uint32_t n)
{
    r->outputs = *layout;
    r->outputs.count = n < layout->count ? n : layout->count;
}

uint32_t vgpu_reply_status(struct vgpu_remote *r, const struct apir_decoder *reply)
{
    if (reply->fatal) {
        LOG_ERROR("%s: the host's reply is shorter than its layout", apir_call_name(r->call));
        return APIR_CALL_FAILED;
    }
    return APIR_CALL_OK;
}
