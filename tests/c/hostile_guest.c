/* A hostile guest against a real apir-server (VTEST_SOCKET_NAME): it forges
 * vtest messages, APIR commands and forwarded calls, class by class. Each
 * must be refused, or contained with an error reply, and the server must
 * go on serving: after each class the same connection (or, where the
 * server rightly closed it, a new one) still answers. The graphs that ggml
 * itself would crash on are test_host_calls' part (its hostile graphs);
 * tests/hostile_guest.sh runs both beside a good guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire-graph.h"
#include "check.h"
#include "ggml.h"
#include "calls.h"
#include "connection.h"
#include "lock.h"
#include "queued-writes.h"
#include "remote.h"
#include "transport-vtest.h"
#include "fdpass.h"
#include "submit-ring.h"
#include "vtest-protocol.h"

static const char *socket_path;
static const struct wire_msg_none NONE = { 0 };

/* a new guest: vtest connection, APIR context, host library loaded */
static struct vgpu_remote *connect_guest(void)
{
    struct vgpu_transport *t = vgpu_transport_vtest_open(socket_path, false);
    return t ? vgpu_remote_open(t) : NULL;
}

/* the connection still answers a call, with the right answer */
static bool answers(struct vgpu_remote *r)
{
    struct wire_msg_i32 count = { .value = -1 };
    return r != NULL && vgpu_device_get_count(r, &NONE, &count) && count.value >= 1;
}

/* a new guest is served from start to a first call */
static bool server_serves(void)
{
    struct vgpu_remote *r = connect_guest();
    const bool ok = answers(r);
    if (r != NULL) {
        vgpu_remote_close(r);
    }
    return ok;
}

/* ---- vtest messages -------------------------------------------------------- */

static int raw_connect(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const struct timeval timeout = { .tv_sec = 10 };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* Sends the words on a fresh connection; true when the server then closes
 * it (end of stream, or a reset when it left bytes unread) rather than
 * acting on them or hanging. */
static bool closed_after(const uint32_t *words, size_t n)
{
    const int fd = raw_connect();
    if (fd < 0) {
        return false;
    }
    const bool sent = send(fd, words, n * sizeof *words, MSG_NOSIGNAL) == (ssize_t)(n * sizeof *words);
    shutdown(fd, SHUT_WR); /* a server waiting for more sees the end */
    char byte;
    ssize_t got;
    while ((got = recv(fd, &byte, 1, 0)) > 0) {
    }
    const bool reset = got < 0 && errno == ECONNRESET;
    close(fd);
    return sent && (got == 0 || reset);
}

static void test_vtest_messages(void)
{
    const uint32_t unknown[] = { 0, 999 };
    CHECK(closed_after(unknown, 2) && server_serves(), "an unknown vtest command closes that connection only");
    const uint32_t huge[] = { 0xffffffffu, VCMD_SUBMIT_CMD };
    CHECK(closed_after(huge, 2) && server_serves(), "a 16 GiB message is refused without reading it");
    const uint32_t early[] = { 3, VCMD_SUBMIT_CMD, APIR_CMD_FORWARD, 0, 1 };
    CHECK(closed_after(early, 5) && server_serves(), "a command before any context is refused");
    const uint32_t short_capset[] = { 0, VCMD_GET_CAPSET };
    CHECK(closed_after(short_capset, 2) && server_serves(), "a capset query without its fields is refused");
    const uint32_t blob[] = { 5, VCMD_RESOURCE_CREATE_BLOB, 0, 0, 0, 0xffffffffu, 0xffffffffu };
    CHECK(closed_after(blob, 7) && server_serves(), "a blob of 2^64 - 1 bytes (and no context) is refused");
    const uint32_t batches[] = { 3, VCMD_SUBMIT_CMD2, 1, 1000, 1000 };
    CHECK(closed_after(batches, 5) && server_serves(), "a SUBMIT_CMD2 batch outside its message is refused");
    const uint32_t early_ring[] = { 0, VCMD_APIR_SUBMIT_RING };
    CHECK(closed_after(early_ring, 2) && server_serves(), "a submission ring before any context is refused");
}

/* ---- the submission ring ------------------------------------------------------ */

/* A context's ring, mapped, on a fresh connection (*fd); NULL when none came. */
static struct submit_ring *ring_of_new_context(int *fd)
{
    *fd = raw_connect();
    const uint32_t start[] = { 0, VCMD_CREATE_RENDERER, 1, VCMD_CONTEXT_INIT, APIR_CAPSET_ID_APIR,
                               0, VCMD_APIR_SUBMIT_RING };
    uint32_t reply[VTEST_HDR_DWORDS + VCMD_APIR_SUBMIT_RING_REPLY_DWORDS];
    const int ring_fd = *fd >= 0 && send(*fd, start, sizeof start, MSG_NOSIGNAL) == (ssize_t)sizeof start &&
                                recv(*fd, reply, sizeof reply, MSG_WAITALL) == (ssize_t)sizeof reply &&
                                reply[VTEST_HDR_CMD] == VCMD_APIR_SUBMIT_RING
                            ? fd_receive(*fd)
                            : -1;
    void *ring = ring_fd >= 0 ? mmap(NULL, sizeof(struct submit_ring), PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0)
                              : MAP_FAILED;
    if (ring_fd >= 0) {
        close(ring_fd);
    }
    return ring != MAP_FAILED ? ring : NULL;
}

/* the server ends the connection: end of stream, or a reset */
static bool hung_up(int fd)
{
    char byte;
    ssize_t got;
    while ((got = recv(fd, &byte, 1, 0)) > 0) {
    }
    return got == 0 || (got < 0 && errno == ECONNRESET);
}

static void test_submission_ring(void)
{
    int fd;
    struct submit_ring *ring = ring_of_new_context(&fd);
    CHECK(ring != NULL, "a context's process makes a submission ring");
    if (ring == NULL) {
        return;
    }
    atomic_store(&ring->tail, atomic_load(&ring->head) + 3 * SUBMIT_RING_BYTES); /* past what the ring holds */
    const uint8_t bell = 0;
    CHECK(send(fd, &bell, 1, MSG_NOSIGNAL) == 1 && hung_up(fd) && server_serves(),
          "a tail past the ring's size ends that connection only");
    munmap(ring, sizeof *ring);
    close(fd);
}

/* ---- APIR commands ---------------------------------------------------------- */

static bool submitted(struct vgpu_remote *r, const uint32_t *words, size_t n)
{
    return vgpu_transport_submit(r->transport, words, n * sizeof *words);
}

static void test_apir_commands(struct vgpu_remote *r)
{
    const uint32_t short_header[] = { APIR_CMD_FORWARD };
    const uint32_t unknown_type[] = { 77, 0, r->reply.res_id + 1000 };
    const uint32_t unknown_reply[] = { APIR_CMD_FORWARD, APIR_CALL_DEVICE_GET_COUNT, 0xdeadbeefu };
    const uint32_t unknown_call[] = { APIR_CMD_FORWARD, 0xffffffffu, 0xdeadbeefu };
    const uint32_t load_again[] = { APIR_CMD_LOAD_LIBRARY, 0, 0xdeadbeefu };
    const uint32_t handshake[] = { APIR_CMD_HANDSHAKE, 0, 0xdeadbeefu, 0xffffffffu, 0xffffffffu };
    const struct {
        const uint32_t *words;
        size_t n;
        const char *what;
    } commands[] = {
        { short_header, 1, "a command shorter than its header" },
        { unknown_type, 3, "an unknown command type" },
        { unknown_reply, 3, "a call whose reply resource does not exist" },
        { unknown_call, 3, "an unknown call number" },
        { load_again, 3, "loading the library again" },
        { handshake, 5, "a handshake with protocol 65535.65535" },
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        submitted(r, commands[i].words, commands[i].n);
        CHECK(answers(r), "%s: contained, the context answers after it", commands[i].what);
    }
}

/* ---- forwarded calls ---------------------------------------------------------- */

/* the call with `size` bytes of arguments taken from `args`: its return code */
static uint32_t call_with(struct vgpu_remote *r, uint32_t call, const void *args, size_t size)
{
    struct wire_decoder reply;
    vgpu_lock(r);
    struct wire_encoder *enc = vgpu_request(r, call);
    wire_encode_bytes(enc, args, size);
    const uint32_t rc = vgpu_exchange(r, &reply);
    vgpu_unlock(r);
    return rc;
}

struct call_case {
    uint32_t number;
    const char *name;
    bool takes_arguments;
};

#define CALL_CASE(NAME, number, name, request, reply) { number, #name, strcmp(#request, "none") != 0 },
static const struct call_case calls[] = { APIR_CALLS(CALL_CASE) };
#undef CALL_CASE

static void test_forwarded_calls(struct vgpu_remote *r)
{
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if (!calls[i].takes_arguments) {
            continue;
        }
        const uint32_t rc = call_with(r, calls[i].number, NULL, 0);
        CHECK(rc == APIR_CALL_MALFORMED && answers(r), "%s without its arguments: malformed (%u)", calls[i].name, rc);
    }
    /* arguments of random bytes, each call 64 times: refused or done, never
     * more than the call's own effect (any buffer it made is the guest's) */
    srand(9);
    uint8_t junk[512];
    bool contained = true;
    for (int round = 0; round < 64 && contained; round++) {
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            for (size_t b = 0; b < sizeof junk; b++) {
                junk[b] = (uint8_t)rand();
            }
            call_with(r, calls[i].number, junk, (size_t)rand() % sizeof junk);
        }
        contained = answers(r);
    }
    CHECK(contained, "every call with random arguments, 64 rounds: the context still answers");
}

/* ---- tensors outside their buffers ------------------------------------------------ */

static uint64_t alloc_buffer(struct vgpu_remote *r, uint64_t size)
{
    struct wire_msg_u64 buft = { .value = 0 };
    vgpu_device_get_buffer_type(r, &NONE, &buft);
    const struct wire_msg_alloc req = { .buft = buft.value, .size = size };
    struct wire_msg_u64 buffer = { .value = 0 };
    return vgpu_buffer_type_alloc_buffer(r, &req, &buffer) ? buffer.value : 0;
}

/* 256 floats at `offset` of the buffer, with the given row stride */
static struct wire_tensor floats(uint64_t buffer, uint64_t offset, uint32_t rows, uint32_t row_stride)
{
    struct wire_tensor w;
    memset(&w, 0, sizeof w);
    w.id = 1;
    w.type = GGML_TYPE_F32;
    w.buffer = buffer;
    w.data = offset;
    w.ne[0] = 256;
    w.ne[1] = rows;
    w.ne[2] = w.ne[3] = 1;
    w.nb[0] = 4;
    w.nb[1] = row_stride;
    w.nb[2] = w.nb[3] = row_stride * rows;
    return w;
}

static uint32_t tensor_call(struct vgpu_remote *r, bool set, const struct wire_tensor *t, uint64_t size)
{
    const struct wire_msg_tensor_io req = { .buffer = t->buffer, .tensor = *t, .res_id = r->data.res_id,
                                            .offset = 0, .size = size };
    struct wire_msg_none none;
    vgpu_lock(r);
    const uint32_t rc = set ? vgpu_buffer_set_tensor_locked(r, &req, &none) : vgpu_buffer_get_tensor_locked(r, &req, &none);
    vgpu_unlock(r);
    return rc;
}

static void test_tensor_extents(struct vgpu_remote *r)
{
    const uint64_t buffer = alloc_buffer(r, 1 << 20);
    CHECK(buffer != 0, "a 1 MiB buffer");
    const struct wire_tensor far_stride = floats(buffer, 0, 2, 0xfffffff0u);
    CHECK(tensor_call(r, true, &far_stride, 1024) == APIR_CALL_OUT_OF_RANGE,
          "a write through a row stride of 0xfffffff0 (4 GiB away) is out of range");
    const struct wire_tensor past_end = floats(buffer, (1 << 20) - 512, 1, 1024);
    CHECK(tensor_call(r, false, &past_end, 1024) == APIR_CALL_OUT_OF_RANGE,
          "reading a tensor that runs past its buffer's end is out of range");
    const struct wire_tensor wrapping = floats(buffer, UINT64_MAX - 100, 1, 1024);
    CHECK(tensor_call(r, false, &wrapping, 1024) == APIR_CALL_OUT_OF_RANGE, "an offset that wraps around is out of range");
    const struct wire_tensor forged = floats(buffer ^ 0x10000000000ull, 0, 1, 1024);
    CHECK(tensor_call(r, true, &forged, 1024) == APIR_CALL_UNKNOWN_HANDLE, "a forged buffer handle is unknown");
    const struct wire_msg_u64 req = { .value = buffer };
    struct wire_msg_none none;
    CHECK(vgpu_buffer_free_buffer(r, &req, &none), "the buffer freed");
    vgpu_lock(r);
    const uint32_t rc = vgpu_buffer_free_buffer_locked(r, &req, &none);
    vgpu_unlock(r);
    CHECK(rc == APIR_CALL_UNKNOWN_HANDLE, "freeing it again: unknown handle");
    const struct wire_tensor stale = floats(buffer, 0, 1, 1024);
    CHECK(tensor_call(r, false, &stale, 1024) == APIR_CALL_UNKNOWN_HANDLE, "a freed buffer's handle is unknown");
}

/* ---- graphs whose ids collide in a fixed hash --------------------------------------- */

/* The decoder maps ids to tensors through a hash: ids that differ only in
 * their high bits collided in a fixed one, and 2^17 tensors took 18 s.
 * Here as many as the data blob holds, each a leaf, then one node: the
 * graph is decoded in linear time (ctest's timeout catches a hang). */
static void test_colliding_ids(struct vgpu_remote *r)
{
    const uint64_t buffer = alloc_buffer(r, 1 << 20);
    vgpu_lock(r);
    const size_t cap = vgpu_data_capacity(r);
    const uint32_t n = (uint32_t)((cap - 64) / (sizeof(struct wire_tensor) + 8)) - 1;
    struct wire_graph_writer g;
    wire_graph_begin(&g, r->data.ptr, cap, 1);
    wire_graph_put_node(&g, (uint64_t)n << 32);
    for (uint32_t i = 1; i <= n; i++) {
        struct wire_tensor t = floats(buffer, 0, 1, 1024);
        t.id = (uint64_t)i << 32;
        if (i == n) { /* the node: the first two leaves added */
            t.op = GGML_OP_ADD;
            t.src[0] = (uint64_t)1 << 32;
            t.src[1] = (uint64_t)2 << 32;
            t.data = 4096;
        }
        wire_graph_put_tensor(&g, &t);
    }
    const struct wire_msg_graph req = { .res_id = r->data.res_id, .size = wire_graph_end(&g) };
    struct wire_msg_i32 status = { .value = -1 };
    const uint32_t rc = vgpu_backend_graph_compute_locked(r, &req, &status);
    vgpu_unlock(r);
    CHECK(rc == APIR_CALL_OK && status.value == GGML_STATUS_SUCCESS, "%u tensors with ids 1<<32, 2<<32, ...: decoded, run",
          n);
    CHECK(answers(r), "the context answers after it");
}

int main(void)
{
    socket_path = getenv("VTEST_SOCKET_NAME");
    if (socket_path == NULL) {
        fprintf(stderr, "hostile_guest: set VTEST_SOCKET_NAME to an apir-server socket\n");
        return 2;
    }
    test_vtest_messages();
    test_submission_ring();
    struct vgpu_remote *r = connect_guest();
    CHECK(answers(r), "a guest connects");
    if (r != NULL) {
        CHECK(r->error_codes, "the host says why it refuses");
        test_apir_commands(r);
        test_forwarded_calls(r);
        test_tensor_extents(r);
        test_colliding_ids(r);
        vgpu_remote_close(r);
    }
    CHECK(server_serves(), "after all of it the server serves a new guest");
    return FINISH();
}
