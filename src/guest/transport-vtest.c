/* The vtest transport: a Unix socket to apir-server, or to any vtest server
 * that hosts APIR contexts. Blobs come back as memfds (SCM_RIGHTS) that
 * both sides map; commands go in SUBMIT_CMD2 messages. */
#define _GNU_SOURCE
#include "transport-vtest.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "apir/names.h"
#include "apir/protocol.h"
#include "fdpass.h"
#include "log.h"
#include "vtest-protocol.h"

struct vtest {
    struct vgpu_transport base;
    int sock;
};

static bool send_command(struct vtest *v, uint32_t cmd, const uint32_t *words, uint32_t n_words)
{
    const uint32_t hdr[VTEST_HDR_DWORDS] = { n_words, cmd };
    struct iovec iov[2] = { { (void *)hdr, sizeof hdr }, { (void *)words, sizeof(uint32_t) * n_words } };
    return send_iov_all(v->sock, iov, n_words ? 2 : 1);
}

/* Reads a reply header for cmd, then its payload into words (up to n). */
static bool read_reply(struct vtest *v, uint32_t cmd, uint32_t *words, uint32_t n, uint32_t *len)
{
    uint32_t hdr[VTEST_HDR_DWORDS];
    if (!read_all(v->sock, hdr, sizeof hdr) || hdr[VTEST_HDR_CMD] != cmd || hdr[VTEST_HDR_LEN] > 1024) {
        return false;
    }
    *len = hdr[VTEST_HDR_LEN];
    for (uint32_t i = 0; i < *len; i++) {
        uint32_t w;
        if (!read_all(v->sock, &w, sizeof w)) {
            return false;
        }
        if (i < n) {
            words[i] = w;
        }
    }
    return true;
}

static bool vt_create_blob(struct vgpu_transport *t, size_t size, struct vgpu_blob *out)
{
    struct vtest *v = (struct vtest *)t;
    const uint64_t size64 = size;
    const uint32_t req[VCMD_RES_CREATE_BLOB_DWORDS] = {
        [VCMD_RES_CREATE_BLOB_TYPE] = VCMD_BLOB_TYPE_HOST3D,
        [VCMD_RES_CREATE_BLOB_FLAGS] = VCMD_BLOB_FLAG_MAPPABLE,
        [VCMD_RES_CREATE_BLOB_SIZE_LO] = (uint32_t)size64,
        [VCMD_RES_CREATE_BLOB_SIZE_HI] = (uint32_t)(size64 >> 32),
        [VCMD_RES_CREATE_BLOB_ID_LO] = 0,
        [VCMD_RES_CREATE_BLOB_ID_HI] = 0,
    };
    uint32_t answer[VCMD_RES_CREATE_BLOB_REPLY_DWORDS] = { 0 }, len = 0;
    if (!send_command(v, VCMD_RESOURCE_CREATE_BLOB, req, VCMD_RES_CREATE_BLOB_DWORDS) ||
        !read_reply(v, VCMD_RESOURCE_CREATE_BLOB, answer, VCMD_RES_CREATE_BLOB_REPLY_DWORDS, &len) ||
        len != VCMD_RES_CREATE_BLOB_REPLY_DWORDS) {
        return false;
    }
    if (answer[VCMD_RES_CREATE_BLOB_REPLY_RES_ID] == 0) {
        LOG_ERROR("the host refused a shared blob of %zu bytes (over its blob memory limit, " OPT_MAX_BLOB_MEMORY
                  "); see the server's log", size);
        return false;
    }
    const int fd = fd_receive(v->sock);
    void *ptr = fd >= 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0) {
        close(fd);
    }
    if (ptr == MAP_FAILED) {
        return false;
    }
    *out = (struct vgpu_blob){ answer[VCMD_RES_CREATE_BLOB_REPLY_RES_ID], ptr, size, 0 };
    return true;
}

static void vt_destroy_blob(struct vgpu_transport *t, struct vgpu_blob *blob)
{
    struct vtest *v = (struct vtest *)t;
    munmap(blob->ptr, blob->size);
    const uint32_t req[VCMD_RES_UNREF_DWORDS] = { [VCMD_RES_UNREF_RES_ID] = blob->res_id };
    send_command(v, VCMD_RESOURCE_UNREF, req, VCMD_RES_UNREF_DWORDS);
    blob->ptr = NULL;
}

static bool vt_submit(struct vgpu_transport *t, const void *cmd, size_t size)
{
    struct vtest *v = (struct vtest *)t;
    /* the header, then a payload of one batch whose command follows it */
    enum { BATCH = VTEST_HDR_DWORDS + VCMD_SUBMIT_CMD2_BATCHES };
    uint32_t head[BATCH + VCMD_SUBMIT_CMD2_BATCH_DWORDS];
    const uint32_t cmd_dwords = (uint32_t)(size / 4);
    const uint32_t cmd_offset = VCMD_SUBMIT_CMD2_BATCHES + VCMD_SUBMIT_CMD2_BATCH_DWORDS;
    memset(head, 0, sizeof head);
    head[VTEST_HDR_LEN] = cmd_offset + cmd_dwords;
    head[VTEST_HDR_CMD] = VCMD_SUBMIT_CMD2;
    head[VTEST_HDR_DWORDS + VCMD_SUBMIT_CMD2_NUM_BATCHES] = 1;
    head[BATCH + VCMD_SUBMIT_CMD2_BATCH_CMD_OFFSET] = cmd_offset;
    head[BATCH + VCMD_SUBMIT_CMD2_BATCH_CMD_SIZE] = cmd_dwords;
    struct iovec iov[2] = { { head, sizeof head }, { (void *)cmd, size } };
    return send_iov_all(v->sock, iov, 2);
}

static bool vt_alive(struct vgpu_transport *t)
{
    struct vtest *v = (struct vtest *)t;
    struct pollfd p = { v->sock, POLLIN, 0 };
    if (poll(&p, 1, 0) <= 0) {
        return true;
    }
    /* readable with nothing to read, or an error: the server is gone */
    char byte;
    return !(p.revents & (POLLHUP | POLLERR)) && recv(v->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void vt_destroy(struct vgpu_transport *t)
{
    struct vtest *v = (struct vtest *)t;
    close(v->sock);
    free(v);
}

static const struct vgpu_transport_ops vtest_ops = {
    .create_blob = vt_create_blob,
    .destroy_blob = vt_destroy_blob,
    .submit = vt_submit,
    .alive = vt_alive,
    .destroy = vt_destroy,
};

static int connect_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        LOG_ERROR("vtest socket path '%s' is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    const int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof addr) == 0) {
        return sock;
    }
    LOG_ERROR("cannot connect to the vtest socket %s: %s (is apir-server running there? "
              ENV_VTEST_SOCKET " names the socket)", path, strerror(errno));
    if (sock >= 0) {
        close(sock);
    }
    return -1;
}

/* Renderer creation and protocol version: blob resources need version 3. */
static bool negotiate_protocol(struct vtest *v)
{
    static const char name[] = "ggml-virtgpu";
    const uint32_t hdr[VTEST_HDR_DWORDS] = { sizeof name, VCMD_CREATE_RENDERER };
    uint32_t version[VCMD_PROTOCOL_VERSION_DWORDS] = { [VCMD_PROTOCOL_VERSION_VERSION] = VTEST_PROTOCOL_VERSION };
    uint32_t len = 0;
    struct iovec iov[2] = { { (void *)hdr, sizeof hdr }, { (void *)name, sizeof name } };
    if (!send_iov_all(v->sock, iov, 2) ||
        !send_command(v, VCMD_PROTOCOL_VERSION, version, VCMD_PROTOCOL_VERSION_DWORDS) ||
        !read_reply(v, VCMD_PROTOCOL_VERSION, version, VCMD_PROTOCOL_VERSION_DWORDS, &len)) {
        LOG_ERROR("the vtest server did not answer the protocol negotiation");
        return false;
    }
    if (version[VCMD_PROTOCOL_VERSION_VERSION] < VTEST_PROTOCOL_VERSION) {
        LOG_ERROR("the vtest server speaks protocol %u; blob resources need %u",
                  version[VCMD_PROTOCOL_VERSION_VERSION], VTEST_PROTOCOL_VERSION);
        return false;
    }
    return true;
}

static bool host_offers_capset(struct vtest *v, uint32_t capset_id)
{
    const uint32_t query[VCMD_GET_CAPSET_DWORDS] = {
        [VCMD_GET_CAPSET_ID] = capset_id,
        [VCMD_GET_CAPSET_VERSION] = 0,
    };
    uint32_t answer[VCMD_GET_CAPSET_REPLY_DWORDS(sizeof(struct wire_capset))] = { 0 };
    uint32_t len = 0;
    if (!send_command(v, VCMD_GET_CAPSET, query, VCMD_GET_CAPSET_DWORDS) ||
        !read_reply(v, VCMD_GET_CAPSET, answer, sizeof answer / sizeof answer[0], &len)) {
        LOG_ERROR("the vtest server did not answer the capset query");
        return false;
    }
    if (answer[VCMD_GET_CAPSET_REPLY_VALID] != 0 &&
        wire_capset_valid((const struct wire_capset *)&answer[VCMD_GET_CAPSET_REPLY_CAPSET])) {
        return true;
    }
    if (len >= VCMD_GET_CAPSET_REPLY_REFUSED_DWORDS &&
        answer[VCMD_GET_CAPSET_REPLY_REFUSED] == VTEST_REFUSED_TOO_MANY_CONTEXTS) {
        LOG_ERROR("apir-server refused: %u contexts already running (--max-contexts); try again later, or raise "
                  "the server's limit", answer[VCMD_GET_CAPSET_REPLY_REFUSED_CONTEXTS]);
    } else if (answer[VCMD_GET_CAPSET_REPLY_VALID] != 0) {
        LOG_ERROR("the vtest server's capset %u is not APIR's (a Venus server that does not route Venus to "
                  "APIR?): start apir-server, or set " ENV_ROUTE_VENUS " on the host", capset_id);
    } else if (capset_id == APIR_CAPSET_ID_VENUS) {
        LOG_ERROR("the host does not serve APIR on the Venus capset: set " ENV_ROUTE_VENUS " on the "
                  "host, or " ENV_USE_APIR_CAPSET " in the guest if the host has the APIR capset");
    } else {
        LOG_ERROR("the host does not offer the APIR capset (%u); set up the host with apir-server or an "
                  "APIR-enabled virglrenderer", capset_id);
    }
    return false;
}

/* Protocol negotiation, capset check and context init. */
static bool start_session(struct vtest *v, uint32_t capset_id)
{
    if (!negotiate_protocol(v) || !host_offers_capset(v, capset_id)) {
        return false;
    }
    const uint32_t init[VCMD_CONTEXT_INIT_DWORDS] = { [VCMD_CONTEXT_INIT_CAPSET_ID] = capset_id };
    return send_command(v, VCMD_CONTEXT_INIT, init, VCMD_CONTEXT_INIT_DWORDS);
}

struct vgpu_transport *vgpu_transport_vtest_open(const char *socket_path, bool venus_capset)
{
    const int sock = connect_socket(socket_path);
    if (sock < 0) {
        return NULL;
    }
    struct vtest *v = calloc(1, sizeof *v);
    if (v == NULL) {
        close(sock);
        return NULL;
    }
    v->sock = sock;
    v->base.ops = &vtest_ops;
    v->base.name = "vtest";
    v->base.lost = "apir-server's process for this guest ended; see the server's log";
    v->base.venus_capset = venus_capset;
    v->base.blobs_are_ordinary_memory = true;
    if (!start_session(v, venus_capset ? APIR_CAPSET_ID_VENUS : APIR_CAPSET_ID_APIR)) {
        vt_destroy(&v->base);
        return NULL;
    }
    return &v->base;
}
