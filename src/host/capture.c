/* Capture of real guest traffic, the seed of the fuzz corpus
 * (tests/fuzz/README.md). With GGML_VIRTGPU_CAPTURE_DIR set, a context
 * writes into that directory:
 *  - session-<pid>-<ctx>.bin: its first forwarded calls (about 8 MiB) as the
 *    APIR commands that carried them, with the shared memory each call read
 *    (the input format of the fuzz targets apir_command and host_calls);
 *  - graph-<pid>-<ctx>-<n>.bin: the first 64 graphs it decoded, their buffer handles
 *    renumbered 1..n, with those buffers' sizes (the input format of the
 *    fuzz target graph_compute).
 * Without the variable nothing is written and nothing else changes. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire-graph.h"
#include "capture.h"
#include "handles.h"
#include "log.h"

/* a call's shared memory is kept up to this many bytes per resource */
#define CAPTURE_MAX_SHMEM (256u << 10)
#define CAPTURE_MAX_RESOURCES 4
/* the reply resource the captured commands name */
#define CAPTURE_REPLY_RES 1u
/* a graph is kept when it names at most this many buffers */
#define CAPTURE_MAX_BUFFERS 16
/* seeds are short: a session's first calls, a context's first graphs */
#define CAPTURE_MAX_SESSION_BYTES (8u << 20)
#define CAPTURE_MAX_GRAPHS 64

struct capture_shmem {
    uint32_t res_id;
    const uint8_t *ptr;
    uint64_t need;
};

struct host_capture {
    char *dir;
    FILE *session;
    uint32_t n_graphs;
    /* the call being captured */
    uint32_t call;
    const uint8_t *request;
    size_t request_size;
    struct capture_shmem shmem[CAPTURE_MAX_RESOURCES];
    int n_shmem;
};

static void put_u32(FILE *f, uint32_t v)
{
    fwrite(&v, sizeof v, 1, f);
}

/* one record: the command (header, then args), then the resources */
static void write_command(FILE *f, uint32_t type, uint32_t flags, const void *args, size_t args_size)
{
    put_u32(f, (uint32_t)(APIR_COMMAND_HEADER_SIZE + args_size));
    put_u32(f, type);
    put_u32(f, flags);
    put_u32(f, CAPTURE_REPLY_RES);
    if (args_size > 0) {
        fwrite(args, 1, args_size, f);
    }
}

void host_capture_start(struct host_ctx *ctx)
{
    const char *dir = getenv(ENV_CAPTURE_DIR);
    if (dir == NULL || (ctx->capture = calloc(1, sizeof *ctx->capture)) == NULL) {
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/session-%d-%u.bin", dir, (int)getpid(), ctx->ctx_id);
    ctx->capture->dir = strdup(dir);
    ctx->capture->session = fopen(path, "wb");
    if (ctx->capture->dir == NULL || ctx->capture->session == NULL) {
        LOG_ERROR("cannot capture into %s (from " ENV_CAPTURE_DIR "): check that the directory exists", path);
        host_capture_stop(ctx);
        return;
    }
    /* the commands that came before the first call */
    const uint32_t version[2] = { APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR };
    write_command(ctx->capture->session, APIR_CMD_HANDSHAKE, 0, version, sizeof version);
    put_u32(ctx->capture->session, 0);
    write_command(ctx->capture->session, APIR_CMD_LOAD_LIBRARY, 0, NULL, 0);
    put_u32(ctx->capture->session, 0);
    LOG_INFO("context %u: capturing its calls into %s", ctx->ctx_id, path);
}

void host_capture_stop(struct host_ctx *ctx)
{
    if (ctx->capture != NULL) {
        if (ctx->capture->session != NULL) {
            fclose(ctx->capture->session);
        }
        free(ctx->capture->dir);
        free(ctx->capture);
        ctx->capture = NULL;
    }
}

void host_capture_call(struct host_ctx *ctx, uint32_t call, const void *request, size_t size)
{
    struct host_capture *c = ctx->capture;
    if (c != NULL) {
        c->call = call;
        c->request = request;
        c->request_size = size;
        c->n_shmem = 0;
    }
}

void host_capture_shmem(struct host_ctx *ctx, uint32_t res_id, const void *ptr, uint64_t need)
{
    struct host_capture *c = ctx->capture;
    if (c == NULL || ptr == NULL) {
        return;
    }
    for (int i = 0; i < c->n_shmem; i++) {
        if (c->shmem[i].res_id == res_id) {
            c->shmem[i].need = need > c->shmem[i].need ? need : c->shmem[i].need;
            return;
        }
    }
    if (c->n_shmem < CAPTURE_MAX_RESOURCES) {
        c->shmem[c->n_shmem++] = (struct capture_shmem){ res_id, ptr, need };
    }
}

void host_capture_call_end(struct host_ctx *ctx)
{
    struct host_capture *c = ctx->capture;
    if (c == NULL || ftell(c->session) > (long)CAPTURE_MAX_SESSION_BYTES) {
        return;
    }
    write_command(c->session, APIR_CMD_FORWARD, c->call, c->request, c->request_size);
    put_u32(c->session, (uint32_t)c->n_shmem);
    for (int i = 0; i < c->n_shmem; i++) {
        const uint32_t size = c->shmem[i].need < CAPTURE_MAX_SHMEM ? (uint32_t)c->shmem[i].need : CAPTURE_MAX_SHMEM;
        put_u32(c->session, c->shmem[i].res_id);
        put_u32(c->session, size);
        fwrite(c->shmem[i].ptr, 1, size, c->session);
    }
    fflush(c->session);
}

/* Renumbers the buffer handles of the graph's tensors 1..n (in a fresh
 * context the host hands out (1 << 32) | i for the i-th buffer) and
 * stores the sizes of the buffers they were; false past
 * CAPTURE_MAX_BUFFERS or for an unknown handle. */
static bool renumber_buffers(struct host_ctx *ctx, uint8_t *graph, size_t size, uint64_t *sizes, uint32_t *n)
{
    struct wire_graph_reader g;
    uint64_t handles[CAPTURE_MAX_BUFFERS];
    if (!wire_graph_read(&g, graph, size, UINT32_MAX)) {
        return false;
    }
    uint8_t *tensors = graph + (g.tensors - graph);
    for (uint32_t i = 0; i < g.n_tensors; i++) {
        uint8_t *field = tensors + sizeof(struct wire_tensor) * i + offsetof(struct wire_tensor, buffer);
        uint64_t handle;
        memcpy(&handle, field, sizeof handle);
        uint32_t k = 0;
        while (k < *n && handles[k] != handle) {
            k++;
        }
        ggml_backend_buffer_t buffer = host_buffer_get(ctx, handle);
        if (k == *n && (k == CAPTURE_MAX_BUFFERS || buffer == NULL)) {
            return false;
        }
        if (k == *n) {
            handles[k] = handle;
            sizes[k] = ggml_backend_buffer_get_size(buffer);
            (*n)++;
        }
        const uint64_t renumbered = ((uint64_t)1 << 32) | (k + 1);
        memcpy(field, &renumbered, sizeof renumbered);
    }
    return true;
}

void host_capture_graph(struct host_ctx *ctx, const uint8_t *data, uint64_t size)
{
    struct host_capture *c = ctx->capture;
    uint8_t *graph = c != NULL && c->n_graphs < CAPTURE_MAX_GRAPHS ? malloc((size_t)size) : NULL;
    if (graph == NULL) {
        return;
    }
    memcpy(graph, data, (size_t)size);
    uint64_t sizes[CAPTURE_MAX_BUFFERS];
    uint32_t n = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/graph-%d-%u-%u.bin", c->dir, (int)getpid(), ctx->ctx_id, c->n_graphs++);
    FILE *f = renumber_buffers(ctx, graph, (size_t)size, sizes, &n) ? fopen(path, "wb") : NULL;
    if (f != NULL) {
        put_u32(f, n);
        fwrite(sizes, sizeof sizes[0], n, f);
        put_u32(f, (uint32_t)size);
        fwrite(graph, 1, (size_t)size, f);
        fclose(f);
    }
    free(graph);
}
