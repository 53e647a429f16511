/* apir-server: one guest connection speaking vtest, hosting one APIR
 * context. Runs in its own process (see main.c), so nothing a guest sends
 * can take down the server or another guest. */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apir/apir.h"
#include "clock.h"
#include "fdpass.h"
#include "vtest-protocol.h"

/* bounds on what a guest may ask for */
#define MAX_PAYLOAD_BYTES (64u << 20)
#define MAX_BLOB_BYTES ((uint64_t)64 << 30)
#define MAX_NAME_BYTES 4096u

struct blob {
    uint32_t res_id;
    void *ptr;
    size_t size;
};

struct connection {
    int sock;
    const struct server_options *opts;
    uint32_t ctx_id;
    char name[64];
    struct apir_context *ctx;
    uint32_t protocol_version;
    struct blob *blobs;
    size_t n_blobs;
    uint32_t next_res_id;
    uint32_t *payload;  /* the current command's payload */
    size_t payload_cap;
};

static volatile int stop_requested; /* set by SIGTERM/SIGINT */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* After a reply the guest's next command usually follows within
 * microseconds: poll for it that long before sleeping in read(), whose
 * wake-up costs tens of microseconds on an idle core. */
#define POLL_NEXT_COMMAND_NS 100000

static void poll_for_input(struct connection *c)
{
    const int64_t start = monotonic_ns();
    char byte;
    while (recv(c->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN &&
           monotonic_ns() - start < POLL_NEXT_COMMAND_NS) {
    }
}

/* Reads exactly n bytes; false at end of stream, on error or when asked to stop. */
static bool conn_read(struct connection *c, void *buf, size_t n)
{
    return !stop_requested && read_all_unless(c->sock, buf, n, &stop_requested);
}

static bool reply(struct connection *c, uint32_t cmd, const uint32_t *words, uint32_t n_words)
{
    uint32_t msg[2 + 8];
    msg[VTEST_HDR_LEN] = n_words;
    msg[VTEST_HDR_CMD] = cmd;
    if (n_words > 0) {
        memcpy(msg + 2, words, sizeof(uint32_t) * n_words);
    }
    return write_all(c->sock, msg, sizeof(uint32_t) * (2 + n_words));
}

/* ---- blobs -------------------------------------------------------------- */

static struct blob *find_blob(struct connection *c, uint32_t res_id)
{
    for (size_t i = 0; i < c->n_blobs; i++) {
        if (c->blobs[i].res_id == res_id) {
            return &c->blobs[i];
        }
    }
    return NULL;
}

static void release_blob(struct connection *c, struct blob *b)
{
    if (c->ctx != NULL) {
        apir_context_remove_resource(c->ctx, b->res_id);
    }
    munmap(b->ptr, b->size);
    *b = c->blobs[--c->n_blobs];
}

/* A memfd of the asked size, mapped here and sent to the guest. */
static bool create_blob(struct connection *c, const uint32_t *p)
{
    const uint64_t size = (uint64_t)p[2] | (uint64_t)p[3] << 32;
    if (c->ctx == NULL || size == 0 || size > MAX_BLOB_BYTES) {
        LOG_ERROR("%s: refused a blob of %llu bytes (no context yet, or outside 1 B .. 64 GiB)",
                   c->name, (unsigned long long)size);
        return false;
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
    const uint32_t res_id = ++c->next_res_id;
    bool ok = ptr != MAP_FAILED && apir_context_add_resource(c->ctx, res_id, ptr, (size_t)size);
    if (ok) {
        c->blobs[c->n_blobs++] = (struct blob){ res_id, ptr, (size_t)size };
        ok = reply(c, VCMD_RESOURCE_CREATE_BLOB, &res_id, 1) && fd_send(c->sock, fd);
    } else {
        LOG_ERROR("%s: cannot create a shared blob of %llu bytes: %s", c->name,
                   (unsigned long long)size, strerror(errno));
        if (ptr != MAP_FAILED) {
            munmap(ptr, (size_t)size);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void unref_blob(struct connection *c, uint32_t res_id)
{
    struct blob *b = find_blob(c, res_id);
    if (b != NULL) {
        release_blob(c, b);
    }
}

/* ---- capsets and the context -------------------------------------------- */

static bool get_capset(struct connection *c, uint32_t capset_id, uint32_t version)
{
    struct apir_capset caps;
    const uint32_t n = sizeof caps / 4;
    uint32_t words[1 + sizeof caps / 4];
    if (version != 0 || !apir_capset_get(capset_id, &caps)) {
        words[0] = 0;
        return reply(c, VCMD_GET_CAPSET, words, 1);
    }
    words[0] = 1;
    memcpy(words + 1, &caps, sizeof caps);
    return reply(c, VCMD_GET_CAPSET, words, 1 + n);
}

static bool context_init(struct connection *c, uint32_t capset_id)
{
    if (c->ctx != NULL) {
        LOG_ERROR("%s: the context is already initialized", c->name);
        return false;
    }
    char err[256];
    c->ctx = apir_context_create(c->ctx_id, capset_id, c->name, err, sizeof err);
    if (c->ctx == NULL) {
        LOG_ERROR("%s: cannot create an APIR context: %s", c->name, err);
        return false;
    }
    server_apply_config(c->opts, c->ctx);
    return true;
}

/* ---- command submission ------------------------------------------------- */

static bool submit(struct connection *c, uint32_t *cmd, size_t n_dwords)
{
    if (c->ctx == NULL) {
        LOG_ERROR("%s: a command before the context was initialized", c->name);
        return false;
    }
    apir_context_submit(c->ctx, cmd, n_dwords * 4);
    return true;
}

static bool submit_cmd2(struct connection *c, uint32_t *p, uint32_t len)
{
    const uint32_t count = len > 0 ? p[0] : 0;
    if (count == 0 || count > (len - 1) / VCMD_SUBMIT_CMD2_BATCH_DWORDS) {
        LOG_ERROR("%s: SUBMIT_CMD2 with %u batches in %u dwords", c->name, count, len);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t *batch = p + 1 + i * VCMD_SUBMIT_CMD2_BATCH_DWORDS;
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

/* ---- the command loop ----------------------------------------------------- */

static bool read_payload(struct connection *c, size_t bytes)
{
    if (bytes > MAX_PAYLOAD_BYTES) {
        LOG_ERROR("%s: a %zu-byte message is over the %u-byte limit", c->name, bytes, MAX_PAYLOAD_BYTES);
        return false;
    }
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

/* Handles one command; false ends the connection. */
static bool handle(struct connection *c, uint32_t cmd, uint32_t len)
{
    const size_t bytes = cmd == VCMD_CREATE_RENDERER ? len : (size_t)len * 4;
    if (!read_payload(c, bytes)) {
        return false;
    }
    uint32_t *p = c->payload;
    const uint32_t zero[2] = { 0, 0 };
    switch (cmd) {
    case VCMD_CREATE_RENDERER:
        snprintf(c->name, sizeof c->name, "%.*s (%u)", (int)(len < 40 ? len : 40), (const char *)p, c->ctx_id);
        return len <= MAX_NAME_BYTES;
    case VCMD_PING_PROTOCOL_VERSION:
        return reply(c, VCMD_PING_PROTOCOL_VERSION, NULL, 0);
    case VCMD_PROTOCOL_VERSION:
        c->protocol_version = len >= 1 && p[0] < VTEST_PROTOCOL_VERSION ? p[0] : VTEST_PROTOCOL_VERSION;
        return reply(c, VCMD_PROTOCOL_VERSION, &c->protocol_version, 1);
    case VCMD_RESOURCE_BUSY_WAIT:
        return reply(c, VCMD_RESOURCE_BUSY_WAIT, zero, 1);
    case VCMD_GET_PARAM:
        return reply(c, VCMD_GET_PARAM, zero, 2); /* no timelines: sync objects are not used by APIR */
    case VCMD_GET_CAPSET:
        return len >= 2 && get_capset(c, p[0], p[1]);
    case VCMD_CONTEXT_INIT:
        return len >= 1 && context_init(c, p[0]);
    case VCMD_RESOURCE_CREATE_BLOB:
        return len >= VCMD_RES_CREATE_BLOB_DWORDS && create_blob(c, p);
    case VCMD_RESOURCE_UNREF:
        if (len >= 1) {
            unref_blob(c, p[0]);
        }
        return len >= 1;
    case VCMD_SUBMIT_CMD:
        return submit(c, p, len);
    case VCMD_SUBMIT_CMD2:
        return submit_cmd2(c, p, len);
    default:
        LOG_ERROR("%s: unsupported vtest command %u; closing the connection", c->name, cmd);
        return false;
    }
}

static void close_connection(struct connection *c)
{
    while (c->n_blobs > 0) {
        release_blob(c, &c->blobs[c->n_blobs - 1]);
    }
    apir_context_destroy(c->ctx); /* the host library frees the guest's buffers */
    free(c->blobs);
    free(c->payload);
    close(c->sock);
}

int serve_connection(int sock, uint32_t ctx_id, const struct server_options *opts)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct connection c;
    memset(&c, 0, sizeof c);
    c.sock = sock;
    c.opts = opts;
    c.ctx_id = ctx_id;
    snprintf(c.name, sizeof c.name, "client %u", ctx_id);
    LOG_INFO("%s connected", c.name);
    uint32_t hdr[VTEST_HDR_DWORDS];
    do {
        poll_for_input(&c);
    } while (conn_read(&c, hdr, sizeof hdr) && handle(&c, hdr[VTEST_HDR_CMD], hdr[VTEST_HDR_LEN]));
    LOG_INFO("%s %s", c.name, stop_requested ? "closed: the server stops" : "disconnected");
    close_connection(&c);
    return 0;
}
