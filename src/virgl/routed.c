/* APIR contexts inside the VMM (see routed.h). */
#define _GNU_SOURCE
#include "routed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apir/apir.h"
#include "apir/names.h"
#include "ctx-table.h"
#include "limit-value.h"
#include "log.h"

/* the largest blob a guest may create (a mapping reserves no memory until
 * touched; the host library's own limits bound what it allocates) */
#define MAX_BLOB_BYTES ((uint64_t)64 << 30)

struct routed_blob {
    uint32_t res_id;
    uint32_t ctx_id; /* the context that registered it; 0 once it is gone */
    void *memory;
    size_t size;
    bool pinned; /* unref'd while host memory wraps it: freed with its context */
    struct routed_blob *next;
};

struct routed_context {
    uint32_t ctx_id;
    struct apir_context *apir;
    uint64_t fence[VIRGL_MAX_RINGS]; /* the last fence of each ring */
    uint64_t rings_to_signal;        /* bit per ring whose fence is not yet told */
    struct routed_context *next;
};

/* the VMM's APIR contexts and blobs: one set per process, as virglrenderer's
 * interface passes no handle of its own */
static struct routed_state {
    struct ctx_table context_index;
    struct ctx_table blob_index;
    struct routed_context *contexts;
    struct routed_blob *blobs;
    size_t n_contexts;
    uint32_t global_fence;
    bool global_fence_to_signal;
} routed = { .context_index = CTX_TABLE_INIT, .blob_index = CTX_TABLE_INIT };

bool routed_serves_capset(uint32_t capset_id)
{
    struct wire_capset caps;
    return apir_capset_get(capset_id, &caps);
}

bool routed_has_context(uint32_t ctx_id)
{
    return ctx_table_find(&routed.context_index, ctx_id) != NULL;
}

bool routed_has_blob(uint32_t res_id)
{
    return ctx_table_find(&routed.blob_index, res_id) != NULL;
}

/* APIR_MAX_CONTEXTS, as apir-server reads it */
static uint64_t max_contexts(void)
{
    uint64_t max = DEFAULT_MAX_CONTEXTS;
    if (!limit_from_config(ENV_MAX_CONTEXTS, getenv(ENV_MAX_CONTEXTS), DEFAULT_MAX_CONTEXTS, UINT32_MAX, &max)) {
        max = DEFAULT_MAX_CONTEXTS;
    }
    return max;
}

int routed_context_create(uint32_t ctx_id, uint32_t capset_id, const char *name, uint32_t name_len)
{
    if (routed_has_context(ctx_id)) {
        CTX_ERROR(ctx_id, "the guest created this context twice; the second is refused");
        return -EEXIST;
    }
    if (routed.n_contexts >= max_contexts()) {
        CTX_ERROR(ctx_id, "refused: %zu APIR contexts are live, the most " ENV_MAX_CONTEXTS " allows", routed.n_contexts);
        return -EBUSY;
    }
    char debug_name[64];
    snprintf(debug_name, sizeof debug_name, "%.*s", (int)(name_len < 63 ? name_len : 63), name ? name : "");
    struct routed_context *c = calloc(1, sizeof *c);
    char err[256] = "out of memory";
    if (c != NULL) {
        c->apir = apir_context_create(ctx_id, capset_id, debug_name, err, sizeof err);
    }
    if (c == NULL || c->apir == NULL || !ctx_table_add(&routed.context_index, ctx_id, c)) {
        CTX_ERROR(ctx_id, "cannot create an APIR context: %s", err);
        if (c != NULL && c->apir != NULL) {
            apir_context_destroy(c->apir);
        }
        free(c);
        return -ENOMEM;
    }
    c->ctx_id = ctx_id;
    c->next = routed.contexts;
    routed.contexts = c;
    routed.n_contexts++;
    CTX_INFO(ctx_id, "APIR context '%s' created on capset %u", debug_name, capset_id);
    return 0;
}

static void blob_free(struct routed_blob *b)
{
    munmap(b->memory, b->size);
    free(b);
}

/* Unlinks and frees every blob that is pinned to (or registered with) a
 * gone context: pinned ones end with it; others stay until unref'd, as
 * the VMM may still map them. */
static void release_context_blobs(uint32_t ctx_id)
{
    for (struct routed_blob **link = &routed.blobs; *link != NULL;) {
        struct routed_blob *b = *link;
        if (b->ctx_id == ctx_id && b->pinned) {
            *link = b->next;
            blob_free(b);
            continue;
        }
        if (b->ctx_id == ctx_id) {
            b->ctx_id = 0;
        }
        link = &b->next;
    }
}

void routed_context_destroy(uint32_t ctx_id)
{
    struct routed_context *c = ctx_table_remove(&routed.context_index, ctx_id);
    if (c == NULL) {
        return;
    }
    for (struct routed_context **link = &routed.contexts; *link != NULL; link = &(*link)->next) {
        if (*link == c) {
            *link = c->next;
            break;
        }
    }
    routed.n_contexts--;
    apir_context_destroy(c->apir);
    release_context_blobs(ctx_id);
    free(c);
    CTX_INFO(ctx_id, "APIR context destroyed");
}

int routed_submit(uint32_t ctx_id, void *commands, size_t size)
{
    struct routed_context *c = ctx_table_find(&routed.context_index, ctx_id);
    if (c == NULL) {
        return -EINVAL;
    }
    const uint64_t max = apir_context_max_command_bytes(c->apir);
    if (max != 0 && size > max) {
        return apir_context_refuse_command(c->apir, commands, size, size) ? 0 : -EINVAL;
    }
    return apir_context_submit(c->apir, commands, size) ? 0 : -EINVAL;
}

int routed_context_fence(uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    struct routed_context *c = ctx_table_find(&routed.context_index, ctx_id);
    if (c == NULL || ring_idx >= VIRGL_MAX_RINGS) {
        return -EINVAL;
    }
    c->fence[ring_idx] = fence_id;
    c->rings_to_signal |= (uint64_t)1 << ring_idx;
    return 0;
}

void routed_global_fence(uint32_t fence_id)
{
    routed.global_fence = fence_id;
    routed.global_fence_to_signal = true;
}

void routed_signal_fences(const struct virgl_renderer_callbacks *cbs, void *cookie)
{
    if (cbs == NULL) {
        return;
    }
    if (routed.global_fence_to_signal) {
        routed.global_fence_to_signal = false;
        cbs->write_fence(cookie, routed.global_fence);
    }
    if (cbs->version < 3 || cbs->write_context_fence == NULL) {
        return;
    }
    for (struct routed_context *c = routed.contexts; c != NULL; c = c->next) {
        while (c->rings_to_signal != 0) {
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
    if (routed_has_blob(args->res_handle)) {
        CTX_ERROR(args->ctx_id, "refused blob %u: the id is in use", args->res_handle);
        return false;
    }
    return true;
}

int routed_blob_create(const struct virgl_renderer_resource_create_blob_args *args)
{
    struct routed_context *c = ctx_table_find(&routed.context_index, args->ctx_id);
    if (c == NULL || !blob_args_valid(args)) {
        return -EINVAL;
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ((size_t)args->size + page - 1) & ~(page - 1);
    struct routed_blob *b = calloc(1, sizeof *b);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b == NULL || memory == MAP_FAILED) {
        CTX_ERROR(args->ctx_id, "cannot allocate blob %u of %zu bytes: out of memory", args->res_handle, size);
        free(b);
        if (memory != MAP_FAILED) {
            munmap(memory, size);
        }
        return -ENOMEM;
    }
    *b = (struct routed_blob){ args->res_handle, args->ctx_id, memory, size, false, routed.blobs };
    if (!ctx_table_add(&routed.blob_index, b->res_id, b) ||
        !apir_context_add_resource(c->apir, b->res_id, memory, (size_t)args->size)) {
        ctx_table_remove(&routed.blob_index, b->res_id);
        blob_free(b);
        CTX_ERROR(args->ctx_id, "cannot register blob %u: out of memory", args->res_handle);
        return -ENOMEM;
    }
    routed.blobs = b;
    return 0;
}

void routed_blob_unref(uint32_t res_id)
{
    struct routed_blob *b = ctx_table_remove(&routed.blob_index, res_id);
    if (b == NULL) {
        return;
    }
    struct routed_context *c = b->ctx_id != 0 ? ctx_table_find(&routed.context_index, b->ctx_id) : NULL;
    if (c != NULL && !apir_context_remove_resource(c->apir, res_id)) {
        b->pinned = true; /* host memory wraps it: it goes with its context */
        return;
    }
    for (struct routed_blob **link = &routed.blobs; *link != NULL; link = &(*link)->next) {
        if (*link == b) {
            *link = b->next;
            break;
        }
    }
    blob_free(b);
}

void *routed_blob_memory(uint32_t res_id, uint64_t *size)
{
    struct routed_blob *b = ctx_table_find(&routed.blob_index, res_id);
    if (b == NULL) {
        return NULL;
    }
    *size = b->size;
    return b->memory;
}

void routed_reset(void)
{
    while (routed.contexts != NULL) {
        routed_context_destroy(routed.contexts->ctx_id);
    }
    while (routed.blobs != NULL) {
        routed_blob_unref(routed.blobs->res_id);
    }
    routed.global_fence_to_signal = false;
}
