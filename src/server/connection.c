/* apir-server: one guest connection speaking vtest, hosting one APIR
 * context. Runs in its own process (see main.c), so nothing a guest sends
 * can take down the server or another guest. */
#define _GNU_SOURCE
#include "connection.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apir/apir.h"
#include "clock.h"
#include "config.h"
#include "fdpass.h"
#include "guest-input.h"
#include "log.h"
#include "sandbox.h"
#include "status-query.h"
#include "status.h"
#include "vtest-protocol.h"

/* bounds on what a guest may ask for: before its context exists (whose
 * command size limit then applies), only small messages make sense */
#define MAX_EARLY_PAYLOAD_BYTES (64u << 10)
#define MAX_BLOB_BYTES ((uint64_t)64 << 30)
#define MAX_NAME_BYTES 4096u
/* the longest reply: GET_CAPSET's */
#define MAX_REPLY_DWORDS VCMD_GET_CAPSET_REPLY_DWORDS(sizeof(struct wire_capset))

struct blob {
    uint32_t res_id;
    void *ptr;
    size_t size;
    bool pinned; /* unref'd while host memory wraps it: kept until the end */
};

struct connection {
    int sock;
    const struct server_options *opts;
    uint32_t ctx_id;
    char name[64];
    struct apir_context *ctx;
    bool sandboxed;
    uint32_t protocol_version;
    struct blob *blobs;
    size_t n_blobs;
    uint32_t next_res_id;
    uint32_t *payload;  /* the current command's payload */
    size_t payload_cap;
    bool refused;       /* told it is refused (--max-contexts): no context */
    struct status_slot *status; /* its place in the live status, or NULL */
    struct guest_input input;
};

static volatile int stop_requested; /* set by SIGTERM/SIGINT */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* how long the connection polls for the guest's next command before it sleeps (guest-input.h) */
#define POLL_NEXT_COMMAND_NS 100000

/* Reads exactly n bytes; false at end of stream, on error or when asked to stop. */
static bool conn_read(struct connection *c, void *buf, size_t n)
{
    return !stop_requested && guest_input_read(&c->input, buf, n);
}

static bool reply(struct connection *c, uint32_t cmd, const uint32_t *words, uint32_t n_words)
{
    uint32_t msg[VTEST_HDR_DWORDS + MAX_REPLY_DWORDS];
    msg[VTEST_HDR_LEN] = n_words;
    msg[VTEST_HDR_CMD] = cmd;
    if (n_words > 0) {
        memcpy(msg + VTEST_HDR_DWORDS, words, sizeof(uint32_t) * n_words);
    }
    return write_all(c->sock, msg, sizeof(uint32_t) * (VTEST_HDR_DWORDS + n_words));
}

/* ---- blobs -------------------------------------------------------------- */

static struct blob *find_blob(struct connection *c, uint32_t res_id)
{
    for (size_t i = 0; i < c->n_blobs; i++) {
        if (c->blobs[i].res_id == res_id && !c->blobs[i].pinned) {
            return &c->blobs[i];
        }
    }
    return NULL;
}

/* Unmaps the blob, unless host memory wraps it (the host library pinned
 * it): then it stays mapped until the context is destroyed. */
static void release_blob(struct connection *c, struct blob *b)
{
    if (c->ctx != NULL && !apir_context_remove_resource(c->ctx, b->res_id)) {
        b->pinned = true;
        return;
    }
    munmap(b->ptr, b->size);
    status_blob_removed(c->status, b->size);
    *b = c->blobs[--c->n_blobs];
}

/* whether a blob, pinned or not, has the id */
static bool blob_id_taken(const struct connection *c, uint32_t res_id)
{
    for (size_t i = 0; i < c->n_blobs; i++) {
        if (c->blobs[i].res_id == res_id) {
            return true;
        }
    }
    return false;
}

/* A resource id for a blob: the one the client chose, or the next one not in use. */
static uint32_t blob_res_id(struct connection *c, const uint32_t *p, uint32_t len)
{
    if (len >= VCMD_RES_CREATE_BLOB_CHOSEN_DWORDS) {
        return p[VCMD_RES_CREATE_BLOB_CHOSEN_ID];
    }
    do {
        ++c->next_res_id;
    } while (c->next_res_id == 0 || blob_id_taken(c, c->next_res_id));
    return c->next_res_id;
}

/* Tells the guest its blob was refused (resource id 0, no fd): the connection goes on. */
static bool refuse_blob(struct connection *c)
{
    const uint32_t answer[VCMD_RES_CREATE_BLOB_REPLY_DWORDS] = { [VCMD_RES_CREATE_BLOB_REPLY_RES_ID] = 0 };
    return reply(c, VCMD_RESOURCE_CREATE_BLOB, answer, VCMD_RES_CREATE_BLOB_REPLY_DWORDS);
}

/* A memfd of the asked size, mapped here and sent to the guest; the context counts it against
 * its blob memory (apir.limits.blob_memory) and refuses an id in use. */
static bool create_blob(struct connection *c, uint32_t *p, uint32_t len)
{
    const uint64_t size =
        (uint64_t)p[VCMD_RES_CREATE_BLOB_SIZE_LO] | (uint64_t)p[VCMD_RES_CREATE_BLOB_SIZE_HI] << 32;
    if (c->ctx == NULL || size == 0 || size > MAX_BLOB_BYTES) {
        LOG_ERROR("%s: refused a blob of %llu bytes (no context yet, or outside 1 B .. 64 GiB)",
                  c->name, (unsigned long long)size);
        return c->ctx != NULL && refuse_blob(c);
    }
    struct blob *grown = realloc(c->blobs, sizeof *grown * (c->n_blobs + 1));
    if (grown == NULL) {
        return false;
    }
    c->blobs = grown;
    int fd = memfd_create("apir-blob", MFD_CLOEXEC);
    void *ptr = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)size) == 0) {
        ptr = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    const uint32_t res_id = blob_res_id(c, p, len);
    if (ptr == MAP_FAILED) {
        LOG_ERROR("%s: cannot create a shared blob of %llu bytes: %s", c->name, (unsigned long long)size,
                  strerror(errno));
    }
    bool ok = ptr != MAP_FAILED && apir_context_add_resource(c->ctx, res_id, ptr, (size_t)size);
    if (ok) {
        c->blobs[c->n_blobs++] = (struct blob){ .res_id = res_id, .ptr = ptr, .size = (size_t)size, .pinned = false };
        status_blob_added(c->status, size);
        const uint32_t answer[VCMD_RES_CREATE_BLOB_REPLY_DWORDS] = {
            [VCMD_RES_CREATE_BLOB_REPLY_RES_ID] = res_id,
        };
        ok = reply(c, VCMD_RESOURCE_CREATE_BLOB, answer, VCMD_RES_CREATE_BLOB_REPLY_DWORDS) &&
             fd_send(c->sock, fd);
    } else {
        if (ptr != MAP_FAILED) {
            munmap(ptr, (size_t)size);
        }
        ok = refuse_blob(c);
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static bool unref_blob(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)len;
    struct blob *b = find_blob(c, p[VCMD_RES_UNREF_RES_ID]);
    if (b != NULL) {
        release_blob(c, b);
    }
    return true;
}

/* ---- capsets and the context -------------------------------------------- */

/* the capset query of a guest over --max-contexts: why it is refused */
static bool tell_refused(struct connection *c)
{
    const uint32_t words[VCMD_GET_CAPSET_REPLY_REFUSED_DWORDS] = {
        [VCMD_GET_CAPSET_REPLY_VALID] = 0,
        [VCMD_GET_CAPSET_REPLY_REFUSED] = VTEST_REFUSED_TOO_MANY_CONTEXTS,
        [VCMD_GET_CAPSET_REPLY_REFUSED_CONTEXTS] = (uint32_t)c->opts->max_contexts,
    };
    reply(c, VCMD_GET_CAPSET, words, VCMD_GET_CAPSET_REPLY_REFUSED_DWORDS);
    return false; /* nothing more to serve */
}

static bool get_capset(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)len;
    struct wire_capset caps;
    uint32_t words[MAX_REPLY_DWORDS];
    if (c->refused) {
        return tell_refused(c);
    }
    if (p[VCMD_GET_CAPSET_VERSION] != 0 || !apir_capset_get(p[VCMD_GET_CAPSET_ID], &caps)) {
        words[VCMD_GET_CAPSET_REPLY_VALID] = 0;
        return reply(c, VCMD_GET_CAPSET, words, VCMD_GET_CAPSET_REPLY_CAPSET);
    }
    words[VCMD_GET_CAPSET_REPLY_VALID] = 1;
    memcpy(words + VCMD_GET_CAPSET_REPLY_CAPSET, &caps, sizeof caps);
    return reply(c, VCMD_GET_CAPSET, words, MAX_REPLY_DWORDS);
}

static bool context_init(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)len;
    const uint32_t capset_id = p[VCMD_CONTEXT_INIT_CAPSET_ID];
    if (c->ctx != NULL || c->refused) {
        LOG_ERROR("%s: the context is already initialized, or refused", c->name);
        return false;
    }
    char err[256];
    c->ctx = apir_context_create(c->ctx_id, capset_id, c->name, err, sizeof err);
    if (c->ctx == NULL) {
        LOG_ERROR("%s: cannot create an APIR context: %s", c->name, err);
        return false;
    }
    server_apply_config(c->opts, c->ctx);
    status_context_started(c->status, c->ctx_id, c->name, c->sock);
    apir_context_count_into(c->ctx, status_context_counters(c->status));
    return true;
}

/* How long a guest that left may wait for its process to end by itself */
#define LEFT_GRACE_SECONDS 5
#define EXIT_GUEST_LEFT 3
/* A command that runs past a graph's time budget by as much again (at least
 * COMMAND_GRACE_SECONDS) ends the process: a backend that cannot stop a
 * graph (ggml-cuda), or one node longer than the budget, ran it there. */
#define COMMAND_GRACE_SECONDS 10
#define EXIT_OVER_BUDGET 4

/* The watch on the guest and its commands, a thread of the process: it ends the process when
 * the guest has gone and the process has not, LEFT_GRACE_SECONDS later (a call that runs long,
 * a graph compute, does not read the socket, and the host's work for a guest that left is not
 * to be done), or when a command runs too long (above). The command loop stops it when it ends
 * by itself. */
static struct {
    int sock;
    int stop; /* an eventfd: the command loop has ended */
    char name[64];
    int64_t command_limit_us;    /* 0: none */
    _Atomic int64_t command_at;  /* when the command running began (monotonic, us), 0: none runs */
} watched;

/* ---- command submission ------------------------------------------------- */

/* Once the guest's LOADLIBRARY command has started the context's GGML
 * library and device, the process only serves calls: it enters the
 * sandbox (unless --no-sandbox). False when it cannot. */
static bool sandbox_once_started(struct connection *c)
{
    if (!c->opts->sandbox || c->sandboxed || !apir_context_library_loaded(c->ctx)) {
        return true;
    }
    c->sandboxed = sandbox_enter(c->name);
    return c->sandboxed;
}

static bool submit(struct connection *c, uint32_t *cmd, size_t n_dwords)
{
    if (c->ctx == NULL) {
        LOG_ERROR("%s: a command before the context was initialized", c->name);
        return false;
    }
    atomic_store(&watched.command_at, monotonic_ns() / 1000);
    apir_context_submit(c->ctx, cmd, n_dwords * 4);
    atomic_store(&watched.command_at, 0);
    return sandbox_once_started(c);
}

static bool submit_cmd(struct connection *c, uint32_t *p, uint32_t len)
{
    return submit(c, p, len);
}

static bool submit_cmd2(struct connection *c, uint32_t *p, uint32_t len)
{
    const uint32_t count = p[VCMD_SUBMIT_CMD2_NUM_BATCHES];
    if (count == 0 || count > (len - VCMD_SUBMIT_CMD2_BATCHES) / VCMD_SUBMIT_CMD2_BATCH_DWORDS) {
        LOG_ERROR("%s: SUBMIT_CMD2 with %u batches in %u dwords", c->name, count, len);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t *batch = p + VCMD_SUBMIT_CMD2_BATCHES + i * VCMD_SUBMIT_CMD2_BATCH_DWORDS;
        const uint32_t offset = batch[VCMD_SUBMIT_CMD2_BATCH_CMD_OFFSET];
        const uint32_t size = batch[VCMD_SUBMIT_CMD2_BATCH_CMD_SIZE];
        if (offset > len || size > len - offset) {
            LOG_ERROR("%s: SUBMIT_CMD2 batch %u lies outside the message", c->name, i);
            return false;
        }
        if (!submit(c, p + offset, size)) {
            return false;
        }
    }
    return true;
}

/* ---- session ------------------------------------------------------------- */

/* the payload is the client's name, in bytes */
static bool create_renderer(struct connection *c, uint32_t *p, uint32_t len)
{
    snprintf(c->name, sizeof c->name, "%.*s (%u)", (int)(len < 40 ? len : 40), (const char *)p, c->ctx_id);
    return len <= MAX_NAME_BYTES;
}

static bool ping_protocol_version(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)p, (void)len;
    return reply(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
}

/* the lower of the client's version and ours */
static bool protocol_version(struct connection *c, uint32_t *p, uint32_t len)
{
    const uint32_t theirs = len > VCMD_PROTOCOL_VERSION_VERSION ? p[VCMD_PROTOCOL_VERSION_VERSION]
                                                                 : VTEST_PROTOCOL_VERSION;
    c->protocol_version = theirs < VTEST_PROTOCOL_VERSION ? theirs : VTEST_PROTOCOL_VERSION;
    const uint32_t answer[VCMD_PROTOCOL_VERSION_DWORDS] = {
        [VCMD_PROTOCOL_VERSION_VERSION] = c->protocol_version,
    };
    return reply(c, VCMD_PROTOCOL_VERSION, answer, VCMD_PROTOCOL_VERSION_DWORDS);
}

/* APIR replies through shared memory: a resource is never busy */
static bool busy_wait(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)p, (void)len;
    const uint32_t answer[VCMD_BUSY_WAIT_REPLY_DWORDS] = { [VCMD_BUSY_WAIT_REPLY_BUSY] = 0 };
    return reply(c, VCMD_RESOURCE_BUSY_WAIT, answer, VCMD_BUSY_WAIT_REPLY_DWORDS);
}

/* every parameter is unknown: no timelines, sync objects are not used by APIR */
static bool get_param(struct connection *c, uint32_t *p, uint32_t len)
{
    (void)p, (void)len;
    const uint32_t answer[VCMD_GET_PARAM_REPLY_DWORDS] = { [VCMD_GET_PARAM_REPLY_VALID] = 0 };
    return reply(c, VCMD_GET_PARAM, answer, VCMD_GET_PARAM_REPLY_DWORDS);
}

/* ---- the command loop ----------------------------------------------------- */

/* Acts on one command whose payload (len dwords, or bytes) is at p; false
 * ends the connection. */
typedef bool (*command_handler)(struct connection *c, uint32_t *p, uint32_t len);

struct command {
    command_handler handle;
    bool length_in_bytes; /* the header's length counts bytes, not dwords */
    uint32_t min_dwords;  /* the payload's fields the handler reads */
};

/* indexed by vtest command id; a command without a handler is refused */
static const struct command commands[] = {
    [VCMD_CREATE_RENDERER] = { .handle = create_renderer, .length_in_bytes = true },
    [VCMD_PING_PROTOCOL_VERSION] = { .handle = ping_protocol_version },
    [VCMD_PROTOCOL_VERSION] = { .handle = protocol_version },
    [VCMD_RESOURCE_BUSY_WAIT] = { .handle = busy_wait },
    [VCMD_GET_PARAM] = { .handle = get_param },
    [VCMD_GET_CAPSET] = { .handle = get_capset, .min_dwords = VCMD_GET_CAPSET_DWORDS },
    [VCMD_CONTEXT_INIT] = { .handle = context_init, .min_dwords = VCMD_CONTEXT_INIT_DWORDS },
    [VCMD_RESOURCE_CREATE_BLOB] = { .handle = create_blob, .min_dwords = VCMD_RES_CREATE_BLOB_DWORDS },
    [VCMD_RESOURCE_UNREF] = { .handle = unref_blob, .min_dwords = VCMD_RES_UNREF_DWORDS },
    [VCMD_SUBMIT_CMD] = { .handle = submit_cmd },
    [VCMD_SUBMIT_CMD2] = { .handle = submit_cmd2, .min_dwords = VCMD_SUBMIT_CMD2_BATCHES },
};

/* SUBMIT_CMD2's words before its one command */
#define SUBMIT_FRAMING_BYTES (4 * (VCMD_SUBMIT_CMD2_BATCHES + VCMD_SUBMIT_CMD2_BATCH_DWORDS))

/* the largest message the connection reads whole */
static size_t payload_limit(const struct connection *c)
{
    if (c->ctx == NULL) {
        return MAX_EARLY_PAYLOAD_BYTES;
    }
    const uint64_t command = apir_context_max_command_bytes(c->ctx);
    return command == 0 || command > SIZE_MAX - SUBMIT_FRAMING_BYTES ? SIZE_MAX
                                                                     : (size_t)command + SUBMIT_FRAMING_BYTES;
}

/* reads and forgets n bytes */
static bool drain(struct connection *c, size_t n)
{
    char chunk[4096];
    while (n > 0) {
        const size_t k = n < sizeof chunk ? n : sizeof chunk;
        if (!conn_read(c, chunk, k)) {
            return false;
        }
        n -= k;
    }
    return true;
}

/* A submission over the command size limit, not kept: its one APIR command
 * is answered "over a limit" from its first words, the rest is drained, and
 * the connection goes on. Any other message that large ends it. */
static bool refuse_large_message(struct connection *c, uint32_t cmd, size_t bytes)
{
    if (c->ctx == NULL || (cmd != VCMD_SUBMIT_CMD && cmd != VCMD_SUBMIT_CMD2)) {
        LOG_ERROR("%s: a %zu-byte message (vtest command %u) is over the %zu-byte limit; closing the connection",
                  c->name, bytes, cmd, payload_limit(c));
        return false;
    }
    uint32_t head[64];
    const size_t kept = bytes < sizeof head ? bytes : sizeof head;
    if (!conn_read(c, head, kept) || !drain(c, bytes - kept)) {
        return false;
    }
    size_t offset = 0, size = bytes; /* of the APIR command, in bytes */
    if (cmd == VCMD_SUBMIT_CMD2) {
        const uint32_t *batch = head + VCMD_SUBMIT_CMD2_BATCHES;
        offset = 4 * (size_t)batch[VCMD_SUBMIT_CMD2_BATCH_CMD_OFFSET];
        size = 4 * (size_t)batch[VCMD_SUBMIT_CMD2_BATCH_CMD_SIZE];
    }
    if (offset >= kept || !apir_context_refuse_command(c->ctx, (uint8_t *)head + offset, kept - offset, size)) {
        LOG_ERROR("%s: a %zu-byte submission over the limit could not be answered", c->name, bytes);
    }
    return true;
}

static bool read_payload(struct connection *c, size_t bytes)
{
    if (bytes > c->payload_cap) {
        free(c->payload);
        c->payload = malloc(bytes);
        c->payload_cap = c->payload ? bytes : 0;
        if (c->payload == NULL) {
            return false;
        }
    }
    return conn_read(c, c->payload, bytes);
}

/* A status query: answered as a connection's first command only (never
 * from a guest's sandbox), and it ends the connection. */
static bool answer_status(struct connection *c, uint32_t len)
{
    if (c->ctx != NULL || len != 0) {
        LOG_ERROR("%s: a status query after a context was made, or with a payload; closing the connection",
                  c->name);
        return false;
    }
    LOG_INFO("%s is a status query", c->name);
    status_answer(c->sock);
    return false;
}

/* A submission ring for the client's messages (submit-ring.h): made once,
 * after the context, and sent; its messages are read from then on. */
static bool make_submit_ring(struct connection *c, uint32_t len)
{
    if (c->ctx == NULL || len != 0 || c->input.ring != NULL) {
        LOG_ERROR("%s: a submission ring asked for before the context, twice, or with a payload; closing the "
                  "connection", c->name);
        return false;
    }
    const int fd = memfd_create("apir-submit-ring", MFD_CLOEXEC);
    struct submit_ring *ring = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, sizeof *ring) == 0) {
        ring = mmap(NULL, sizeof *ring, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    const uint32_t answer[VCMD_APIR_SUBMIT_RING_REPLY_DWORDS] = {
        [VCMD_APIR_SUBMIT_RING_REPLY_BYTES] = (uint32_t)SUBMIT_RING_BYTES,
    };
    const bool ok = ring != MAP_FAILED && reply(c, VCMD_APIR_SUBMIT_RING, answer, VCMD_APIR_SUBMIT_RING_REPLY_DWORDS) &&
                    fd_send(c->sock, fd);
    if (ring == MAP_FAILED) {
        LOG_ERROR("%s: cannot make a submission ring: %s; closing the connection", c->name, strerror(errno));
    } else if (ok) {
        guest_input_use_ring(&c->input, ring);
    } else {
        munmap(ring, sizeof *ring);
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Handles one command; false ends the connection. */
static bool handle(struct connection *c, uint32_t cmd, uint32_t len)
{
    if (cmd == VCMD_APIR_STATUS) {
        return answer_status(c, len);
    }
    if (cmd == VCMD_APIR_SUBMIT_RING) {
        return make_submit_ring(c, len);
    }
    const struct command *command = cmd < sizeof commands / sizeof commands[0] ? &commands[cmd] : NULL;
    if (command == NULL || command->handle == NULL) {
        LOG_ERROR("%s: unsupported vtest command %u; closing the connection", c->name, cmd);
        return false;
    }
    if (len < command->min_dwords) {
        LOG_ERROR("%s: vtest command %u with %u dwords, fewer than its %u; closing the connection", c->name,
                  cmd, len, command->min_dwords);
        return false;
    }
    const size_t bytes = command->length_in_bytes ? len : (size_t)len * 4;
    if (bytes > payload_limit(c)) {
        return refuse_large_message(c, cmd, bytes);
    }
    return read_payload(c, bytes) && command->handle(c, c->payload, len);
}

static void close_connection(struct connection *c)
{
    status_context_ended(c->status);
    apir_context_destroy(c->ctx); /* the host library frees the guest's buffers */
    c->ctx = NULL;                /* before the blobs they may wrap are unmapped */
    while (c->n_blobs > 0) {
        release_blob(c, &c->blobs[c->n_blobs - 1]);
    }
    free(c->blobs);
    free(c->payload);
    guest_input_free(&c->input);
    close(c->sock);
}

/* how long a refused guest may take to hear why */
#define REFUSAL_SECONDS 5

/* ppoll() through interruptions: the number of ready descriptors, 0 at the timeout */
static int wait_events(struct pollfd *fds, nfds_t n, const struct timespec *timeout)
{
    int ready;
    while ((ready = ppoll(fds, n, timeout, NULL)) < 0 && errno == EINTR) {
    }
    return ready;
}

/* ends the process if the command running has run too long */
static void check_command_time(int64_t now)
{
    const int64_t at = atomic_load(&watched.command_at);
    if (watched.command_limit_us != 0 && at != 0 && now - at > watched.command_limit_us) {
        LOG_ERROR("%s: a command has run %lld s, past the time budget of a graph (" OPT_MAX_GRAPH_SECONDS
                  ") by as much again; ending its context", watched.name, (long long)((now - at) / 1000000));
        _exit(EXIT_OVER_BUDGET);
    }
}

static void *watch_guest(void *arg)
{
    (void)arg;
    struct pollfd fds[2] = { { .fd = watched.sock, .events = POLLRDHUP }, { .fd = watched.stop, .events = POLLIN } };
    const struct timespec tick = { .tv_sec = 1 };
    int64_t left_at = 0; /* when the guest hung up, 0: it has not */
    for (;;) {
        if (wait_events(fds, 2, &tick) < 0 || fds[1].revents != 0 || (fds[0].revents & POLLNVAL) != 0) {
            return NULL;
        }
        const int64_t now = monotonic_ns() / 1000;
        if (fds[0].revents != 0) {
            left_at = now;
            fds[0].fd = -1; /* a hung-up socket stays ready: poll it no more */
        }
        if (left_at != 0 && now - left_at >= LEFT_GRACE_SECONDS * 1000000) {
            LOG_ERROR("%s left %d s ago while a call still runs; ending its context", watched.name,
                      LEFT_GRACE_SECONDS);
            _exit(EXIT_GUEST_LEFT);
        }
        check_command_time(now);
    }
}

/* the longest a command may run: twice a graph's budget, at least the grace more; 0: no bound */
static int64_t command_limit_us(const struct server_options *opts)
{
    const uint64_t budget = server_graph_seconds(opts);
    if (budget == 0 || budget > INT32_MAX) {
        return 0;
    }
    return ((int64_t)budget + (budget > COMMAND_GRACE_SECONDS ? (int64_t)budget : COMMAND_GRACE_SECONDS)) * 1000000;
}

int serve_connection(int sock, uint32_t ctx_id, const struct server_options *opts, bool refused,
                     struct status_slot *status)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (refused) {
        sigaction(SIGALRM, &sa, NULL);
        alarm(REFUSAL_SECONDS);
    }

    struct connection c;
    memset(&c, 0, sizeof c);
    c.sock = sock;
    c.opts = opts;
    c.ctx_id = ctx_id;
    c.refused = refused;
    c.status = status;
    snprintf(c.name, sizeof c.name, "client %u", ctx_id);
    LOG_INFO("%s connected", c.name);
    watched.sock = sock;
    watched.stop = eventfd(0, EFD_CLOEXEC);
    snprintf(watched.name, sizeof watched.name, "%s", c.name);
    watched.command_limit_us = command_limit_us(opts);
    pthread_t watchdog;
    const bool watching = watched.stop >= 0 && pthread_create(&watchdog, NULL, watch_guest, NULL) == 0;
    if (!watching) {
        LOG_WARN("%s: no watch on its connection; a call it leaves running will run to its end", c.name);
    }
    uint32_t hdr[VTEST_HDR_DWORDS];
    if (!guest_input_init(&c.input, sock, &stop_requested)) {
        LOG_ERROR("%s: out of memory; closing the connection", c.name);
    }
    do {
        guest_input_poll(&c.input, POLL_NEXT_COMMAND_NS);
    } while (c.input.buffer != NULL && conn_read(&c, hdr, sizeof hdr) &&
             handle(&c, hdr[VTEST_HDR_CMD], hdr[VTEST_HDR_LEN]));
    LOG_INFO("%s %s", c.name, stop_requested ? "closed: the server stops" : "disconnected");
    if (watching) { /* the loop saw the end itself */
        const uint64_t one = 1;
        if (write(watched.stop, &one, sizeof one) == (ssize_t)sizeof one) {
            pthread_join(watchdog, NULL);
        }
    }
    if (watched.stop >= 0) {
        close(watched.stop);
    }
    close_connection(&c);
    return 0;
}
