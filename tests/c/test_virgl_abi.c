/* Our libvirglrenderer.so.1 driven as QEMU drives it, with what a hostile
 * guest can make QEMU pass: capsets, contexts, blobs, commands and fences;
 * its contexts served by the private apir-server it starts, whose
 * processes this test also kills. (test_host_calls in TEST_VIRGL mode runs
 * every APIR call through it.) Run with VIRGL_ROUTE_VENUS_TO_APIR set, no
 * real virglrenderer, and VIRGL_APIR_BACKEND_LIBRARY unset (nothing here
 * needs the host library). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "apir/protocol.h"
#include "check.h"
#include "real.h"

#define VIRGL_DECLARE(ret, name, params, args) ret name params;
VIRGL_FUNCTIONS(VIRGL_DECLARE)
#undef VIRGL_DECLARE

static int fences_told, context_fences_told;
static uint32_t last_fence, last_ctx, last_ring;
static uint64_t last_context_fence;

static void on_fence(void *cookie, uint32_t fence)
{
    (void)cookie;
    fences_told++;
    last_fence = fence;
}

static void on_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    (void)cookie;
    context_fences_told++;
    last_ctx = ctx_id;
    last_ring = ring_idx;
    last_context_fence = fence_id;
}

static struct virgl_renderer_callbacks callbacks = {
    .version = 3, .write_fence = on_fence, .write_context_fence = on_context_fence,
};

static int create_context(uint32_t ctx_id, uint32_t capset_id)
{
    return virgl_renderer_context_create_with_flags(ctx_id, capset_id, 4, "test");
}

static struct virgl_renderer_resource_create_blob_args blob(uint32_t res_id, uint32_t ctx_id, uint64_t size)
{
    return (struct virgl_renderer_resource_create_blob_args){
        .res_handle = res_id, .ctx_id = ctx_id, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
        .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, .size = size,
    };
}

static void test_capsets(void)
{
    uint32_t version = 99, size = 99;
    virgl_renderer_get_cap_set(APIR_CAPSET_ID_VENUS, &version, &size);
    CHECK(version == 0 && size == sizeof(struct wire_capset), "routed Venus capset: version %u size %u", version,
          size);
    struct wire_capset caps;
    memset(&caps, 0xff, sizeof caps);
    virgl_renderer_fill_caps(APIR_CAPSET_ID_VENUS, 0, &caps);
    CHECK(wire_capset_valid(&caps), "the routed Venus capset is APIR's");
    virgl_renderer_get_cap_set(1, &version, &size);
    CHECK(version == 0 && size == 0, "virgl's capset is not offered without a real virglrenderer");
}

static void test_contexts(void)
{
    CHECK(create_context(7, APIR_CAPSET_ID_VENUS) == 0, "a context on the Venus capset");
    CHECK(create_context(7, APIR_CAPSET_ID_VENUS) == -EEXIST, "the same id twice is refused");
    CHECK(create_context(8, 2) == -EINVAL, "a virgl context is refused without a real virglrenderer");
    CHECK(create_context(9, APIR_CAPSET_ID_APIR) == 0, "a context on the APIR capset");
    CHECK(create_context(10, APIR_CAPSET_ID_APIR) == -EBUSY, "a third context is over APIR_MAX_CONTEXTS=2");
    virgl_renderer_context_destroy(9);
    virgl_renderer_context_destroy(12345); /* unknown: nothing happens */
}

static void test_blobs(void)
{
    struct virgl_renderer_resource_create_blob_args args = blob(20, 7, 65536);
    args.blob_id = 3;
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "a blob id is refused");
    args = blob(20, 7, 65536);
    args.blob_mem = 1;
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "guest memory blobs are refused");
    args = blob(20, 7, 0);
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "an empty blob is refused");
    args = blob(20, 7, (uint64_t)1 << 40);
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "a 1 TiB blob is refused");
    args = blob(20, 99, 65536);
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "a blob of an unknown context is refused");
    args = blob(20, 7, 65536);
    CHECK(virgl_renderer_resource_create_blob(&args) == 0, "a 64 KiB blob");
    CHECK(virgl_renderer_resource_create_blob(&args) == -EINVAL, "its id twice is refused");

    void *map = NULL;
    uint64_t size = 0;
    CHECK(virgl_renderer_resource_map(20, &map, &size) == 0 && map != NULL && size >= 65536, "it maps");
    memset(map, 0xab, (size_t)size); /* all of it is ours to write */
    uint32_t map_info = 0;
    CHECK(virgl_renderer_resource_get_map_info(20, &map_info) == 0 && map_info == VIRGL_RENDERER_MAP_CACHE_CACHED,
          "it is cached memory");
    struct virgl_renderer_resource_info info;
    CHECK(virgl_renderer_resource_get_info(20, &info) == 0 && info.handle == 20 && info.fd == -1,
          "its info: no dma-buf");
    struct iovec iov = { map, 16 };
    CHECK(virgl_renderer_resource_attach_iov(20, &iov, 1) == -EINVAL, "guest pages cannot back it");
    CHECK(virgl_renderer_transfer_write_iov(20, 7, 0, 0, 0, NULL, 0, &iov, 1) == -EINVAL, "no transfers");
    CHECK(virgl_renderer_resource_map(21, &map, &size) == -EINVAL, "an unknown resource does not map");
    CHECK(virgl_renderer_resource_unmap(20) == 0, "it unmaps");
    virgl_renderer_resource_unref(20);
    CHECK(virgl_renderer_resource_map(20, &map, &size) == -EINVAL, "once unref'd it is gone");
}

/* the reply resource of the tests' handshakes, mapped; the random
 * commands' replies go to another */
#define REPLY_RES 40
#define NOISE_REPLY_RES 41
static _Atomic uint32_t *reply_word;

/* As QEMU submits a guest's command: with a fence after it, then a poll. */
static int submit_as_qemu(uint32_t ctx_id, uint32_t *words, int n)
{
    static uint64_t fence;
    const int rc = virgl_renderer_submit_cmd(words, (int)ctx_id, n);
    virgl_renderer_context_create_fence(ctx_id, 1, 1, ++fence);
    virgl_renderer_poll();
    return rc;
}

/* Submits a HANDSHAKE of context ctx_id (on the Venus capset) that names
 * REPLY_RES, its notification word zeroed first as a guest does. */
static int submit_handshake(uint32_t ctx_id)
{
    uint32_t handshake[5] = { APIR_CMD_HANDSHAKE + APIR_VENUS_COMMAND_OFFSET, 0, REPLY_RES, APIR_PROTOCOL_MAJOR,
                              APIR_PROTOCOL_MINOR };
    atomic_store(reply_word, 0);
    return submit_as_qemu(ctx_id, handshake, 5);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The reply word once it is set, or 0 after timeout_ms; polling the
 * renderer meanwhile, as QEMU's timer does while fences are pending. */
static uint32_t wait_reply(int64_t timeout_ms)
{
    const int64_t start = now_ms();
    uint32_t v;
    while ((v = atomic_load(reply_word)) == 0 && now_ms() - start < timeout_ms) {
        usleep(100);
        virgl_renderer_poll();
    }
    virgl_renderer_poll();
    return v;
}

static void map_reply_resource(uint32_t ctx_id)
{
    struct virgl_renderer_resource_create_blob_args args = blob(REPLY_RES, ctx_id, 4096);
    void *map = NULL;
    uint64_t size = 0;
    CHECK(virgl_renderer_resource_create_blob(&args) == 0 && virgl_renderer_resource_map(REPLY_RES, &map, &size) == 0,
          "a reply resource");
    reply_word = map;
}

static void test_commands(void)
{
    map_reply_resource(7);
    struct virgl_renderer_resource_create_blob_args noise = blob(NOISE_REPLY_RES, 7, 4096);
    CHECK(virgl_renderer_resource_create_blob(&noise) == 0, "a reply resource for random commands");
    uint32_t words[64] = { 0 };
    CHECK(virgl_renderer_submit_cmd(words, 12345, 4) == -EINVAL, "commands for an unknown context are refused");
    CHECK(virgl_renderer_submit_cmd(words, 7, -1) == -EINVAL, "a negative length is refused");
    CHECK(virgl_renderer_submit_cmd(words, 7, 1) == -EINVAL, "a command shorter than its header is refused");
    CHECK(submit_handshake(7) == 0 && wait_reply(5000) == 1 + APIR_HANDSHAKE_MAGIC,
          "a handshake is answered, in the blob's memory, by the context's apir-server process");
    srand(1);
    for (int i = 0; i < 2000; i++) {
        const int n = 3 + rand() % 61;
        for (int w = 0; w < n; w++) {
            words[w] = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
        }
        if (i % 2) {
            words[0] = APIR_VENUS_COMMAND_OFFSET + (uint32_t)(rand() % 4); /* a known command type */
        }
        if (i % 4 == 1) {
            words[2] = NOISE_REPLY_RES; /* answered, or refused, into a reply resource */
        }
        submit_as_qemu(7, words, n);
    }
    const uint32_t answer = submit_handshake(7) == 0 ? wait_reply(10000) : 0;
    CHECK(answer == 1 + APIR_HANDSHAKE_MAGIC, "after 2000 random commands the context's process still answers (%#x)",
          answer);
    virgl_renderer_resource_unref(NOISE_REPLY_RES);
}

/* The pids of pid's children (at most max), from /proc; their count. */
static int children_of(pid_t pid, pid_t *out, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    int n = 0, child;
    while (f != NULL && n < max && fscanf(f, "%d", &child) == 1) {
        out[n++] = child;
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

/* Kills every context process of the private apir-server (this test's child). */
static int kill_context_processes(void)
{
    pid_t servers[4], workers[16];
    int killed = 0;
    const int n_servers = children_of(getpid(), servers, 4);
    for (int s = 0; s < n_servers; s++) {
        const int n = children_of(servers[s], workers, 16);
        for (int w = 0; w < n; w++) {
            killed += kill(workers[w], SIGKILL) == 0;
        }
    }
    return killed;
}

/* A context whose process ends: the guest is told in its reply word, at
 * once, and for every later command; its fences still pass. */
static void test_lost_context(void)
{
    CHECK(submit_handshake(7) == 0 && wait_reply(5000) == 1 + APIR_HANDSHAKE_MAGIC, "a handshake before");
    atomic_store(reply_word, 0); /* a guest's next command pending */
    CHECK(kill_context_processes() >= 1, "the context's process killed");
    const int64_t killed_at = now_ms();
    const uint32_t said = wait_reply(5000);
    const int64_t took = now_ms() - killed_at;
    CHECK(said == APIR_REPLY_HOST_LOST && took < 1000, "the pending reply says the context is lost (%#x, %lld ms)",
          said, (long long)took);
    CHECK(submit_handshake(7) == 0 && atomic_load(reply_word) == APIR_REPLY_HOST_LOST,
          "a later command is told at once");
    const int before = context_fences_told;
    CHECK(virgl_renderer_context_create_fence(7, 1, 0, 77) == 0, "a fence after");
    virgl_renderer_poll();
    CHECK(context_fences_told == before + 1 && last_context_fence == 77, "passes");
    virgl_renderer_resource_unref(REPLY_RES);
    virgl_renderer_context_destroy(7);
    CHECK(create_context(7, APIR_CAPSET_ID_VENUS) == 0, "a new context takes the id");
    map_reply_resource(7);
    CHECK(submit_handshake(7) == 0 && wait_reply(5000) == 1 + APIR_HANDSHAKE_MAGIC, "and is served");
    virgl_renderer_resource_unref(REPLY_RES);
}

/* APIR_MAX_BLOB_MEMORY=1M: a blob past it is refused, the context goes on. */
static void test_blob_memory(void)
{
    struct virgl_renderer_resource_create_blob_args args = blob(50, 7, 768 << 10);
    CHECK(virgl_renderer_resource_create_blob(&args) == 0, "768 KiB of blobs");
    args = blob(51, 7, 512 << 10);
    CHECK(virgl_renderer_resource_create_blob(&args) == -ENOMEM, "512 KiB more is over APIR_MAX_BLOB_MEMORY=1M");
    virgl_renderer_resource_unref(50);
    CHECK(virgl_renderer_resource_create_blob(&args) == 0, "once the first is unref'd it fits");
    virgl_renderer_resource_unref(51);
}

static void test_fences(void)
{
    const int before = context_fences_told;
    CHECK(virgl_renderer_context_create_fence(7, 1, 64, 5) == -EINVAL, "ring 64 does not exist");
    CHECK(virgl_renderer_context_create_fence(12345, 1, 0, 5) == -EINVAL, "an unknown context has no fences");
    CHECK(virgl_renderer_context_create_fence(7, 1, 3, 8) == 0 && virgl_renderer_context_create_fence(7, 1, 3, 9) == 0,
          "two fences on ring 3");
    virgl_renderer_poll();
    CHECK(context_fences_told == before + 1 && last_ctx == 7 && last_ring == 3 && last_context_fence == 9,
          "the poll tells of the last (%d told, fence %llu)", context_fences_told,
          (unsigned long long)last_context_fence);
    virgl_renderer_poll();
    CHECK(context_fences_told == before + 1, "and only once");
    CHECK(virgl_renderer_create_fence(41, 0) == 0, "a fence of no context");
    virgl_renderer_poll();
    CHECK(fences_told == 1 && last_fence == 41, "is told at the poll");
}

static void test_reset(void)
{
    struct virgl_renderer_resource_create_blob_args args = blob(30, 7, 4096);
    CHECK(virgl_renderer_resource_create_blob(&args) == 0, "a blob before the reset");
    virgl_renderer_reset();
    void *map;
    uint64_t size;
    CHECK(virgl_renderer_resource_map(30, &map, &size) == -EINVAL, "the reset freed it");
    CHECK(create_context(7, APIR_CAPSET_ID_VENUS) == 0, "and ended the context: its id is free again");
    virgl_renderer_context_destroy(7);
}

int main(void)
{
    setenv("APIR_MAX_CONTEXTS", "2", 1);
    setenv("APIR_MAX_BLOB_MEMORY", "1M", 1);
    test_capsets();
    CHECK(virgl_renderer_init(&callbacks, 0, &callbacks) == 0, "the renderer starts");
    test_contexts();
    test_blobs();
    test_blob_memory();
    test_commands();
    test_fences();
    test_lost_context();
    test_reset();
    virgl_renderer_cleanup(&callbacks);
    return FINISH();
}
