/* Our libvirglrenderer.so.1 driven as QEMU drives it, with what a hostile
 * guest can make QEMU pass: capsets, contexts, blobs, commands and fences.
 * (test_host_calls in TEST_VIRGL mode runs every APIR call through it.)
 * Run with VIRGL_ROUTE_VENUS_TO_APIR set and no real virglrenderer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static void test_commands(void)
{
    uint32_t words[64] = { 0 };
    CHECK(virgl_renderer_submit_cmd(words, 12345, 4) == -EINVAL, "commands for an unknown context are refused");
    CHECK(virgl_renderer_submit_cmd(words, 7, -1) == -EINVAL, "a negative length is refused");
    CHECK(virgl_renderer_submit_cmd(words, 7, 1) != 0, "a command shorter than its header is refused");
    srand(1);
    int answered = 0;
    for (int i = 0; i < 2000; i++) {
        const int n = rand() % 64;
        for (int w = 0; w < n; w++) {
            words[w] = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
        }
        if (i % 2) {
            words[0] = APIR_VENUS_COMMAND_OFFSET + (uint32_t)(rand() % 4); /* a known command type */
        }
        answered += virgl_renderer_submit_cmd(words, 7, n) == 0;
    }
    CHECK(answered < 2000, "random commands are refused (%d of 2000 taken), and nothing breaks", answered);
}

static void test_fences(void)
{
    CHECK(virgl_renderer_context_create_fence(7, 1, 64, 5) == -EINVAL, "ring 64 does not exist");
    CHECK(virgl_renderer_context_create_fence(12345, 1, 0, 5) == -EINVAL, "an unknown context has no fences");
    CHECK(virgl_renderer_context_create_fence(7, 1, 3, 8) == 0 && virgl_renderer_context_create_fence(7, 1, 3, 9) == 0,
          "two fences on ring 3");
    virgl_renderer_poll();
    CHECK(context_fences_told == 1 && last_ctx == 7 && last_ring == 3 && last_context_fence == 9,
          "the poll tells of the last (%d told, fence %llu)", context_fences_told,
          (unsigned long long)last_context_fence);
    virgl_renderer_poll();
    CHECK(context_fences_told == 1, "and only once");
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
    test_capsets();
    CHECK(virgl_renderer_init(&callbacks, 0, &callbacks) == 0, "the renderer starts");
    test_contexts();
    test_blobs();
    test_commands();
    test_fences();
    test_reset();
    virgl_renderer_cleanup(&callbacks);
    return FINISH();
}
