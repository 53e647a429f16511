/* APIR contexts as proxies to apir-server's per-guest processes (see proxy.h).
 *
 * Each context is a vtest connection to its process: the commands go as
 * SUBMIT_CMD messages, written without waiting (what the socket cannot take
 * now waits here, and is sent at the next call); blobs are made by the
 * process (RESOURCE_CREATE_BLOB with the guest's resource id) and mapped
 * here from the memfd it sends, so the guest, the VMM and the process share
 * the same pages. The process writes each reply into the guest's reply
 * resource itself: nothing comes back on the socket but blobs. */
#define _GNU_SOURCE
#include "proxy.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "apir/names.h"
#include "apir/protocol.h"
#include "ctx-table.h"
#include "fdpass.h"
#include "log.h"
#include "server-link.h"
#include "socket-watch.h"
#include "submit-ring.h"
#include "vtest-protocol.h"

/* the largest blob a guest may create (the process's limits bound the total) */
#define MAX_BLOB_BYTES ((uint64_t)64 << 30)
/* the reply resources a context's commands named last: where a lost
 * context is said (a guest has one per device and thread) */
#define REPLY_RESOURCES_KEPT 16
/* commands the process has not read yet that wait here rather than stop
 * the VMM; a guest that sends more waits for its process */
#define MAX_UNSENT_BYTES ((size_t)16 << 20)
/* the most words of a reply that the setup of a context reads */
#define MAX_SETUP_REPLY_DWORDS 16u

struct proxy_blob {
    uint32_t res_id;
    uint32_t ctx_id; /* the context that made it */
    void *memory;
    size_t size;
    struct proxy_blob *next;
};

struct proxy_context {
    uint32_t ctx_id;
    int sock;
    struct submit_ring *ring; /* its messages go here (the socket brings the answers) */
    uint64_t watch_key; /* unique to this context: its socket's watch */
    bool lost;          /* its process ended */
    uint32_t replies[REPLY_RESOURCES_KEPT]; /* 0: none */
    unsigned next_reply;
    uint8_t *unsent; /* bytes of commands the socket did not take yet */
    size_t n_unsent, cap_unsent;
    uint64_t fence[VIRGL_MAX_RINGS]; /* the last fence of each ring */
    uint64_t rings_to_signal;        /* bit per ring whose fence is not yet told */
    struct proxy_context *next;
};

/* The VMM's APIR contexts and blobs: one set per process, as virglrenderer's
 * interface passes no handle of its own. The VMM's thread changes them
 * under the lock; the watch thread reads them under it (mark_lost). */
static struct proxy_state {
    pthread_mutex_t lock;
    struct ctx_table context_index;
    struct ctx_table blob_index;
    struct proxy_context *contexts;
    struct proxy_blob *blobs;
    uint64_t contexts_made; /* for watch keys */
    uint32_t global_fence;
    bool global_fence_to_signal;
} proxy = { .lock = PTHREAD_MUTEX_INITIALIZER, .context_index = CTX_TABLE_INIT, .blob_index = CTX_TABLE_INIT };

bool proxy_serves_capset(uint32_t capset_id)
{
    struct wire_capset caps;
    return wire_capset_fill(capset_id, getenv(ENV_ROUTE_VENUS) != NULL, &caps);
}

bool proxy_has_context(uint32_t ctx_id)
{
    return ctx_table_find(&proxy.context_index, ctx_id) != NULL;
}

bool proxy_has_blob(uint32_t res_id)
{
    return ctx_table_find(&proxy.blob_index, res_id) != NULL;
}

/* ---- a lost context --------------------------------------------------------- */

/* Says "lost" in the reply resource's notification word if a reply is
 * pending there (the guest zeroes it before each command); with the lock held. */
static void say_lost(uint32_t reply_res)
{
    struct proxy_blob *b = ctx_table_find(&proxy.blob_index, reply_res);
    if (b == NULL || b->size < APIR_REPLY_NOTIFY_OFFSET + sizeof(uint32_t)) {
        return;
    }
    uint32_t pending = 0;
    __atomic_compare_exchange_n((uint32_t *)((char *)b->memory + APIR_REPLY_NOTIFY_OFFSET), &pending,
                                APIR_REPLY_HOST_LOST, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* with the lock held */
static void mark_lost(struct proxy_context *c, const char *why)
{
    if (c->lost) {
        return;
    }
    c->lost = true;
    CTX_ERROR(c->ctx_id, "its apir-server process %s (see the server's log); the guest is told its context is lost",
              why);
    for (unsigned i = 0; i < REPLY_RESOURCES_KEPT; i++) {
        say_lost(c->replies[i]);
    }
}

/* A send to the context's process failed: it is gone. */
static void lost_on_send(struct proxy_context *c)
{
    pthread_mutex_lock(&proxy.lock);
    mark_lost(c, "took no more commands");
    pthread_mutex_unlock(&proxy.lock);
}

/* the watch thread: a context's process hung up */
static void on_hangup(uint64_t watch_key)
{
    pthread_mutex_lock(&proxy.lock);
    struct proxy_context *c = ctx_table_find(&proxy.context_index, (uint32_t)watch_key);
    if (c != NULL && c->watch_key == watch_key) {
        mark_lost(c, "ended");
    }
    pthread_mutex_unlock(&proxy.lock);
}

/* Remembers the reply resource a command names, among the last few distinct ones. */
static void remember_reply(struct proxy_context *c, uint32_t reply_res)
{
    for (unsigned i = 0; i < REPLY_RESOURCES_KEPT; i++) {
        if (c->replies[i] == reply_res) {
            return;
        }
    }
    c->replies[c->next_reply] = reply_res;
    c->next_reply = (c->next_reply + 1) % REPLY_RESOURCES_KEPT;
}

/* ---- sending -------------------------------------------------------------- */

/* how long the library waits for a context's process (room in its ring, a blob's answer)
 * before it takes it for gone: past the graph time budget's watch, which ends a stuck one */
#define PROCESS_ANSWER_MS 60000

static bool keep_unsent(struct proxy_context *c, const void *bytes, size_t n)
{
    if (c->n_unsent + n > c->cap_unsent) {
        const size_t cap = c->n_unsent + n > 2 * c->cap_unsent ? c->n_unsent + n : 2 * c->cap_unsent;
        uint8_t *grown = realloc(c->unsent, cap);
        if (grown == NULL) {
            return false;
        }
        c->unsent = grown;
        c->cap_unsent = cap;
    }
    memcpy(c->unsent + c->n_unsent, bytes, n);
    c->n_unsent += n;
    return true;
}

/* Writes what the ring has room for; wakes the process if it sleeps. */
static size_t ring_put(struct proxy_context *c, const void *bytes, size_t n)
{
    bool ring_doorbell = false;
    const size_t written = submit_ring_write(c->ring, bytes, n, &ring_doorbell);
    const uint8_t bell = 0;
    if (ring_doorbell && send(c->sock, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
        CTX_DEBUG(c->ctx_id, "the doorbell of its process failed: %s", strerror(errno));
    }
    return written;
}

/* Whether the socket shows something (a reply, or the process's end) within ms. */
static bool socket_ready(int sock, int ms)
{
    struct pollfd p = { .fd = sock, .events = POLLIN | POLLRDHUP };
    return poll(&p, 1, ms) > 0;
}

/* Puts what waits into the ring: all of it when `wait` (false when the
 * process is gone, or took nothing for PROCESS_ANSWER_MS), else what fits now. */
static bool send_unsent(struct proxy_context *c, bool wait)
{
    size_t sent = 0;
    for (int waited_ms = 0; sent < c->n_unsent;) {
        const size_t k = ring_put(c, c->unsent + sent, c->n_unsent - sent);
        sent += k;
        if (sent == c->n_unsent || !wait) {
            break;
        }
        if (k == 0 && (socket_ready(c->sock, 1) || ++waited_ms > PROCESS_ANSWER_MS)) {
            return false; /* the process hung up (it sends nothing unasked), or is stuck */
        }
    }
    if (sent > 0) {
        memmove(c->unsent, c->unsent + sent, c->n_unsent - sent);
        c->n_unsent -= sent;
    }
    return true;
}

/* Writes bytes in order after what waits: into the ring as far as it takes them, the rest kept. */
static bool put(struct proxy_context *c, const void *bytes, size_t n)
{
    const size_t written = c->n_unsent == 0 ? ring_put(c, bytes, n) : 0;
    return written == n || keep_unsent(c, (const uint8_t *)bytes + written, n - written);
}

/* Sends a message (its vtest header, then the payload) in order after what
 * waits, without waiting unless MAX_UNSENT_BYTES wait already; false when
 * the process is gone (or out of memory). */
static bool send_message(struct proxy_context *c, uint32_t cmd, const void *payload, uint32_t len, size_t bytes)
{
    const uint32_t header[VTEST_HDR_DWORDS] = { [VTEST_HDR_LEN] = len, [VTEST_HDR_CMD] = cmd };
    if (!send_unsent(c, false) || !put(c, header, sizeof header) || !put(c, payload, bytes)) {
        return false;
    }
    return c->n_unsent <= MAX_UNSENT_BYTES || send_unsent(c, true);
}

/* Reads a reply of command cmd: its words (at most max_words), their count
 * in *len; false when none comes within PROCESS_ANSWER_MS. */
static bool read_reply(int sock, uint32_t cmd, uint32_t *words, uint32_t max_words, uint32_t *len)
{
    uint32_t header[VTEST_HDR_DWORDS];
    if (!socket_ready(sock, PROCESS_ANSWER_MS) || !read_all(sock, header, sizeof header) || header[VTEST_HDR_CMD] != cmd || header[VTEST_HDR_LEN] > max_words) {
        return false;
    }
    *len = header[VTEST_HDR_LEN];
    return read_all(sock, words, sizeof(uint32_t) * *len);
}

/* ---- contexts --------------------------------------------------------------- */

/* Names the context to its process, asks for the capset (which says whether
 * the server takes one more context) and starts the context: 0, or a
 * negative errno with why in err. */
static int set_up(int sock, uint32_t capset_id, const char *name, uint32_t name_len, char *err, size_t err_size)
{
    const uint32_t name_header[VTEST_HDR_DWORDS] = { [VTEST_HDR_LEN] = name_len, [VTEST_HDR_CMD] = VCMD_CREATE_RENDERER };
    const uint32_t capset_query[VTEST_HDR_DWORDS + VCMD_GET_CAPSET_DWORDS] = {
        [VTEST_HDR_LEN] = VCMD_GET_CAPSET_DWORDS, [VTEST_HDR_CMD] = VCMD_GET_CAPSET,
        [VTEST_HDR_DWORDS + VCMD_GET_CAPSET_ID] = capset_id,
    };
    struct iovec iov[3] = { { (void *)name_header, sizeof name_header }, { (void *)name, name_len },
                            { (void *)capset_query, sizeof capset_query } };
    uint32_t answer[MAX_SETUP_REPLY_DWORDS] = { 0 }, len = 0;
    if (!send_iov_all(sock, iov, 3) || !read_reply(sock, VCMD_GET_CAPSET, answer, MAX_SETUP_REPLY_DWORDS, &len) ||
        len == 0) {
        snprintf(err, err_size, "its apir-server process did not answer (see the server's log)");
        return -EIO;
    }
    if (answer[VCMD_GET_CAPSET_REPLY_VALID] == 0 && len > VCMD_GET_CAPSET_REPLY_REFUSED_CONTEXTS &&
        answer[VCMD_GET_CAPSET_REPLY_REFUSED] == VTEST_REFUSED_TOO_MANY_CONTEXTS) {
        snprintf(err, err_size, "apir-server serves %u contexts at once, its limit (" OPT_MAX_CONTEXTS ", env "
                 ENV_MAX_CONTEXTS ")", answer[VCMD_GET_CAPSET_REPLY_REFUSED_CONTEXTS]);
        return -EBUSY;
    }
    if (answer[VCMD_GET_CAPSET_REPLY_VALID] == 0) {
        snprintf(err, err_size, "the apir-server does not serve capset %u (a Venus context is served as APIR only "
                 "with " ENV_ROUTE_VENUS " set in the server's environment too)", capset_id);
        return -EINVAL;
    }
    const uint32_t init[VTEST_HDR_DWORDS + VCMD_CONTEXT_INIT_DWORDS] = {
        [VTEST_HDR_LEN] = VCMD_CONTEXT_INIT_DWORDS, [VTEST_HDR_CMD] = VCMD_CONTEXT_INIT,
        [VTEST_HDR_DWORDS + VCMD_CONTEXT_INIT_CAPSET_ID] = capset_id,
    };
    if (!write_all(sock, init, sizeof init)) {
        snprintf(err, err_size, "its apir-server process ended (see the server's log)");
        return -EIO;
    }
    return 0;
}

/* Asks the context's process for its submission ring and maps it: 0, or -EIO with why in err. */
static int map_ring(struct proxy_context *c, char *err, size_t err_size)
{
    const uint32_t request[VTEST_HDR_DWORDS] = { [VTEST_HDR_LEN] = 0, [VTEST_HDR_CMD] = VCMD_APIR_SUBMIT_RING };
    uint32_t answer[VCMD_APIR_SUBMIT_RING_REPLY_DWORDS] = { 0 }, len = 0;
    const int fd = write_all(c->sock, request, sizeof request) &&
                           read_reply(c->sock, VCMD_APIR_SUBMIT_RING, answer, VCMD_APIR_SUBMIT_RING_REPLY_DWORDS, &len) &&
                           len == VCMD_APIR_SUBMIT_RING_REPLY_DWORDS &&
                           answer[VCMD_APIR_SUBMIT_RING_REPLY_BYTES] == SUBMIT_RING_BYTES
                       ? fd_receive(c->sock)
                       : -1;
    void *ring = fd >= 0 ? mmap(NULL, sizeof *c->ring, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0) {
        close(fd);
    }
    if (ring == MAP_FAILED) {
        snprintf(err, err_size, "its apir-server process gave no submission ring (see the server's log)");
        return -EIO;
    }
    c->ring = ring;
    return 0;
}

/* A context linked to a new process of the server: 0, or a negative errno (logged). */
static int link_context(struct proxy_context *c, uint32_t capset_id, const char *name, uint32_t name_len)
{
    char err[320];
    c->sock = server_link_connect(err, sizeof err);
    int rc = c->sock < 0 ? -ENODEV : set_up(c->sock, capset_id, name, name_len, err, sizeof err);
    if (rc == 0) {
        rc = map_ring(c, err, sizeof err);
    }
    if (rc != 0) {
        CTX_ERROR(c->ctx_id, "cannot create an APIR context: %s", err);
    }
    return rc;
}

int proxy_context_create(uint32_t ctx_id, uint32_t capset_id, const char *name, uint32_t name_len)
{
    if (proxy_has_context(ctx_id)) {
        CTX_ERROR(ctx_id, "the guest created this context twice; the second is refused");
        return -EEXIST;
    }
    struct proxy_context *c = calloc(1, sizeof *c);
    if (c == NULL) {
        CTX_ERROR(ctx_id, "cannot create an APIR context: %s", "out of memory");
        return -ENOMEM;
    }
    *c = (struct proxy_context){ .ctx_id = ctx_id, .sock = -1 };
    const uint32_t shown = name != NULL ? (name_len < 40 ? name_len : 40) : 0;
    int rc = link_context(c, capset_id, name, shown);
    pthread_mutex_lock(&proxy.lock);
    c->watch_key = (++proxy.contexts_made << 32) | ctx_id;
    if (rc == 0 && !ctx_table_add(&proxy.context_index, ctx_id, c)) {
        CTX_ERROR(ctx_id, "cannot create an APIR context: %s", "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0) {
        c->next = proxy.contexts;
        proxy.contexts = c;
    }
    pthread_mutex_unlock(&proxy.lock);
    if (rc != 0) {
        if (c->sock >= 0) {
            close(c->sock);
        }
        if (c->ring != NULL) {
            munmap(c->ring, sizeof *c->ring);
        }
        free(c);
        return rc;
    }
    socket_watch_add(c->sock, c->watch_key, on_hangup);
    CTX_INFO(ctx_id, "APIR context '%.*s' created on capset %u, served by an apir-server process", (int)shown,
             name != NULL ? name : "", capset_id);
    return 0;
}

/* Unmaps the blob and frees it (already out of the index and the list). */
static void blob_free(struct proxy_blob *b)
{
    munmap(b->memory, b->size);
    free(b);
}

void proxy_context_destroy(uint32_t ctx_id)
{
    struct proxy_context *c = ctx_table_find(&proxy.context_index, ctx_id);
    if (c == NULL) {
        return;
    }
    socket_watch_remove(c->sock, c->watch_key);
    pthread_mutex_lock(&proxy.lock);
    ctx_table_remove(&proxy.context_index, ctx_id);
    for (struct proxy_context **link = &proxy.contexts; *link != NULL; link = &(*link)->next) {
        if (*link == c) {
            *link = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&proxy.lock);
    close(c->sock); /* its process ends, and frees what the context held */
    munmap(c->ring, sizeof *c->ring);
    free(c->unsent);
    free(c);
    CTX_INFO(ctx_id, "APIR context destroyed");
}

int proxy_submit(uint32_t ctx_id, const void *commands, size_t size)
{
    struct proxy_context *c = ctx_table_find(&proxy.context_index, ctx_id);
    if (c == NULL || size < APIR_COMMAND_HEADER_SIZE || size > UINT32_MAX) {
        return -EINVAL;
    }
    uint32_t reply_res;
    memcpy(&reply_res, (const uint8_t *)commands + 2 * sizeof(uint32_t), sizeof reply_res);
    pthread_mutex_lock(&proxy.lock);
    remember_reply(c, reply_res);
    if (c->lost) {
        say_lost(reply_res);
    }
    const bool lost = c->lost;
    pthread_mutex_unlock(&proxy.lock);
    if (!lost && !send_message(c, VCMD_SUBMIT_CMD, commands, (uint32_t)(size / 4), size / 4 * 4)) {
        lost_on_send(c);
    }
    return 0;
}

/* ---- fences ----------------------------------------------------------------- */

int proxy_context_fence(uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    struct proxy_context *c = ctx_table_find(&proxy.context_index, ctx_id);
    if (c == NULL || ring_idx >= VIRGL_MAX_RINGS) {
        return -EINVAL;
    }
    c->fence[ring_idx] = fence_id;
    c->rings_to_signal |= (uint64_t)1 << ring_idx;
    return 0;
}

void proxy_global_fence(uint32_t fence_id)
{
    proxy.global_fence = fence_id;
    proxy.global_fence_to_signal = true;
}

/* Whether every command submitted so far is with the context's process
 * (or the process is gone, and the guest told so). */
static bool commands_taken(struct proxy_context *c)
{
    if (c->n_unsent > 0 && !c->lost && !send_unsent(c, false)) {
        lost_on_send(c);
    }
    return c->n_unsent == 0 || c->lost;
}

void proxy_signal_fences(const struct virgl_renderer_callbacks *cbs, void *cookie)
{
    if (cbs == NULL) {
        return;
    }
    if (proxy.global_fence_to_signal) {
        proxy.global_fence_to_signal = false;
        cbs->write_fence(cookie, proxy.global_fence);
    }
    if (cbs->version < 3 || cbs->write_context_fence == NULL) {
        return;
    }
    for (struct proxy_context *c = proxy.contexts; c != NULL; c = c->next) {
        while (c->rings_to_signal != 0 && commands_taken(c)) {
            const unsigned ring = (unsigned)__builtin_ctzll(c->rings_to_signal);
            c->rings_to_signal &= c->rings_to_signal - 1;
            cbs->write_context_fence(cookie, c->ctx_id, ring, c->fence[ring]);
        }
    }
}

/* ---- blobs ---------------------------------------------------------------- */

static bool blob_args_valid(const struct virgl_renderer_resource_create_blob_args *args)
{
    if (args->blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D || args->blob_id != 0) {
        CTX_ERROR(args->ctx_id, "refused blob %u: an APIR context makes only host blobs (HOST3D) with "
                  "blob id 0 (got memory type %u, blob id %llu)", args->res_handle, args->blob_mem,
                  (unsigned long long)args->blob_id);
        return false;
    }
    if (args->size == 0 || args->size > MAX_BLOB_BYTES) {
        CTX_ERROR(args->ctx_id, "refused blob %u of %llu bytes (outside 1 B .. 64 GiB)", args->res_handle,
                  (unsigned long long)args->size);
        return false;
    }
    if (proxy_has_blob(args->res_handle)) {
        CTX_ERROR(args->ctx_id, "refused blob %u: the id is in use", args->res_handle);
        return false;
    }
    return true;
}

/* Asks the context's process for a blob of `size` bytes under res_id;
 * its memfd, or -1 (logged). */
static int request_blob(struct proxy_context *c, uint32_t res_id, size_t size)
{
    const uint32_t request[VCMD_RES_CREATE_BLOB_CHOSEN_DWORDS] = {
        [VCMD_RES_CREATE_BLOB_TYPE] = VCMD_BLOB_TYPE_HOST3D,
        [VCMD_RES_CREATE_BLOB_FLAGS] = VCMD_BLOB_FLAG_MAPPABLE,
        [VCMD_RES_CREATE_BLOB_SIZE_LO] = (uint32_t)size,
        [VCMD_RES_CREATE_BLOB_SIZE_HI] = (uint32_t)((uint64_t)size >> 32),
        [VCMD_RES_CREATE_BLOB_CHOSEN_ID] = res_id,
    };
    uint32_t answer[VCMD_RES_CREATE_BLOB_REPLY_DWORDS] = { 0 }, len = 0;
    if (c->lost ||
        !send_message(c, VCMD_RESOURCE_CREATE_BLOB, request, VCMD_RES_CREATE_BLOB_CHOSEN_DWORDS, sizeof request) ||
        !send_unsent(c, true) ||
        !read_reply(c->sock, VCMD_RESOURCE_CREATE_BLOB, answer, VCMD_RES_CREATE_BLOB_REPLY_DWORDS, &len) ||
        len != VCMD_RES_CREATE_BLOB_REPLY_DWORDS) {
        CTX_ERROR(c->ctx_id, "cannot create blob %u: its apir-server process is gone (see the server's log)", res_id);
        return -1;
    }
    if (answer[VCMD_RES_CREATE_BLOB_REPLY_RES_ID] != res_id) {
        CTX_ERROR(c->ctx_id, "blob %u of %zu bytes refused by its apir-server process (over its blob memory limit, "
                  OPT_MAX_BLOB_MEMORY "; see the server's log)", res_id, size);
        return -1;
    }
    const int fd = fd_receive(c->sock);
    if (fd < 0) {
        CTX_ERROR(c->ctx_id, "cannot create blob %u: its apir-server process sent no memory", res_id);
    }
    return fd;
}

int proxy_blob_create(const struct virgl_renderer_resource_create_blob_args *args)
{
    struct proxy_context *c = ctx_table_find(&proxy.context_index, args->ctx_id);
    if (c == NULL || !blob_args_valid(args)) {
        return -EINVAL;
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ((size_t)args->size + page - 1) & ~(page - 1);
    const int fd = request_blob(c, args->res_handle, size);
    if (fd < 0) {
        return -ENOMEM;
    }
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    struct proxy_blob *b = memory != MAP_FAILED ? calloc(1, sizeof *b) : NULL;
    pthread_mutex_lock(&proxy.lock);
    const bool added = b != NULL && ctx_table_add(&proxy.blob_index, args->res_handle, b);
    if (added) {
        *b = (struct proxy_blob){ args->res_handle, args->ctx_id, memory, size, proxy.blobs };
        proxy.blobs = b;
    }
    pthread_mutex_unlock(&proxy.lock);
    if (!added) {
        CTX_ERROR(args->ctx_id, "cannot map blob %u of %zu bytes: out of memory", args->res_handle, size);
        if (memory != MAP_FAILED) {
            munmap(memory, size);
        }
        free(b);
        return -ENOMEM;
    }
    return 0;
}

void proxy_blob_unref(uint32_t res_id)
{
    pthread_mutex_lock(&proxy.lock);
    struct proxy_blob *b = ctx_table_remove(&proxy.blob_index, res_id);
    for (struct proxy_blob **link = &proxy.blobs; b != NULL && *link != NULL; link = &(*link)->next) {
        if (*link == b) {
            *link = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&proxy.lock);
    if (b == NULL) {
        return;
    }
    /* the process keeps its own mapping while host memory wraps it */
    struct proxy_context *c = ctx_table_find(&proxy.context_index, b->ctx_id);
    const uint32_t unref[VCMD_RES_UNREF_DWORDS] = { [VCMD_RES_UNREF_RES_ID] = res_id };
    if (c != NULL && !c->lost && !send_message(c, VCMD_RESOURCE_UNREF, unref, VCMD_RES_UNREF_DWORDS, sizeof unref)) {
        lost_on_send(c);
    }
    blob_free(b);
}

void *proxy_blob_memory(uint32_t res_id, uint64_t *size)
{
    struct proxy_blob *b = ctx_table_find(&proxy.blob_index, res_id);
    if (b == NULL) {
        return NULL;
    }
    *size = b->size;
    return b->memory;
}

void proxy_reset(void)
{
    while (proxy.contexts != NULL) {
        proxy_context_destroy(proxy.contexts->ctx_id);
    }
    while (proxy.blobs != NULL) {
        proxy_blob_unref(proxy.blobs->res_id);
    }
    proxy.global_fence_to_signal = false;
}

void proxy_cleanup(void)
{
    proxy_reset();
    socket_watch_stop();
    server_link_close();
}
