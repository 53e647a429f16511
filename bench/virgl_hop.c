/* The cost of one call through the virglrenderer interface, as QEMU makes
 * it: the cheapest APIR command (a HANDSHAKE) submitted on a routed Venus
 * context, a context fence and a poll after it, then a spin on the reply
 * word until it is set. Run it on two builds of libvirglrenderer.so.1 (the
 * in-process one before issue 22, the proxy to apir-server after) to see
 * what the hop to the context's process adds.
 *
 * usage: virgl_hop LIBVIRGLRENDERER [CALLS]   (VIRGL_ROUTE_VENUS_TO_APIR set)
 * prints: p10, p50, p90, p99 of the calls, in microseconds */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apir/protocol.h"
#include "real.h"

#define REPLY_RES 7
#define CTX_ID 1
#define WARM_UP_CALLS 1000

static void on_fence(void *cookie, uint32_t fence)
{
    (void)cookie, (void)fence;
}

static void on_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    (void)cookie, (void)ctx_id, (void)ring_idx, (void)fence_id;
}

static struct virgl_renderer_callbacks callbacks = {
    .version = 3, .write_fence = on_fence, .write_context_fence = on_context_fence,
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void *function(void *library, const char *name)
{
    void *f = dlsym(library, name);
    if (f == NULL) {
        fprintf(stderr, "virgl_hop: the library has no %s\n", name);
        exit(1);
    }
    return f;
}

#define VIRGL_FIELD(ret, name, params, args) ret(*name) params;
static struct {
    VIRGL_FUNCTIONS(VIRGL_FIELD)
} v;
#undef VIRGL_FIELD

static void load(const char *path)
{
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "virgl_hop: cannot load %s: %s\n", path, dlerror());
        exit(1);
    }
#define VIRGL_LOAD(ret, name, params, args) *(void **)&v.name = function(library, #name);
    VIRGL_FUNCTIONS(VIRGL_LOAD)
#undef VIRGL_LOAD
}

/* One call: submit, fence, poll, spin on the word; its nanoseconds. */
static int64_t one_call(_Atomic uint32_t *word, uint64_t fence)
{
    uint32_t handshake[5] = { APIR_CMD_HANDSHAKE + APIR_VENUS_COMMAND_OFFSET, 0, REPLY_RES, APIR_PROTOCOL_MAJOR,
                              APIR_PROTOCOL_MINOR };
    atomic_store_explicit(word, 0, memory_order_relaxed);
    const int64_t start = now_ns();
    if (v.virgl_renderer_submit_cmd(handshake, CTX_ID, 5) != 0) {
        fprintf(stderr, "virgl_hop: the submit failed\n");
        exit(1);
    }
    v.virgl_renderer_context_create_fence(CTX_ID, 1, 0, fence);
    v.virgl_renderer_poll();
    while (atomic_load_explicit(word, memory_order_acquire) == 0) {
    }
    return now_ns() - start;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: virgl_hop LIBVIRGLRENDERER [CALLS]\n");
        return 2;
    }
    const long calls = argc > 2 ? atol(argv[2]) : 20000;
    load(argv[1]);
    static const char name[] = "virgl-hop";
    const struct virgl_renderer_resource_create_blob_args blob = {
        .res_handle = REPLY_RES, .ctx_id = CTX_ID, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
        .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, .size = 4096,
    };
    void *map = NULL;
    uint64_t size = 0;
    if (calls <= 0 || v.virgl_renderer_init(&callbacks, 0, &callbacks) != 0 ||
        v.virgl_renderer_context_create_with_flags(CTX_ID, APIR_CAPSET_ID_VENUS, sizeof name - 1, name) != 0 ||
        v.virgl_renderer_resource_create_blob(&blob) != 0 || v.virgl_renderer_resource_map(REPLY_RES, &map, &size) != 0) {
        fprintf(stderr, "virgl_hop: no routed Venus context (VIRGL_ROUTE_VENUS_TO_APIR set?)\n");
        return 1;
    }
    int64_t *ns = calloc((size_t)calls, sizeof *ns);
    uint64_t fence = 0;
    for (int i = 0; i < WARM_UP_CALLS; i++) {
        one_call(map, ++fence);
    }
    for (long i = 0; i < calls; i++) {
        ns[i] = one_call(map, ++fence);
    }
    qsort(ns, (size_t)calls, sizeof *ns, by_value);
    printf("calls %ld  p10 %.2f us  p50 %.2f us  p90 %.2f us  p99 %.2f us\n", calls, ns[calls / 10] / 1e3,
           ns[calls / 2] / 1e3, ns[calls * 9 / 10] / 1e3, ns[calls * 99 / 100] / 1e3);
    v.virgl_renderer_context_destroy(CTX_ID);
    v.virgl_renderer_cleanup(&callbacks);
    free(ns);
    return 0;
}
