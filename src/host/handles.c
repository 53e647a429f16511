/* Buffer handles: (generation << 32) | (slot + 1). A freed slot gets a new
 * generation, so a stale or forged handle never reaches another buffer. */
#include <stdlib.h>

#include "host.h"

/* Each slot owns a 1 TiB window of guest-visible addresses: the guest only
 * does arithmetic on them (tensor data = base + offset), never dereferences. */
#define GUEST_BASE_SHIFT 40
#define MAX_SLOTS (1u << 22)

static uint64_t make_handle(uint32_t slot, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint64_t)(slot + 1);
}

static bool grow_slots(struct host_ctx *ctx)
{
    const uint32_t cap = ctx->cap_slots ? ctx->cap_slots * 2 : 16;
    if (cap > MAX_SLOTS) {
        return false;
    }
    struct host_buffer_slot *slots = realloc(ctx->slots, sizeof *slots * cap);
    if (slots == NULL) {
        return false;
    }
    for (uint32_t i = ctx->cap_slots; i < cap; i++) {
        slots[i].buffer = NULL;
        slots[i].generation = 1;
    }
    ctx->slots = slots;
    ctx->cap_slots = cap;
    return true;
}

uint64_t host_buffer_add(struct host_ctx *ctx, ggml_backend_buffer_t buffer, bool guest_memory)
{
    uint32_t slot = 0;
    while (slot < ctx->n_slots && ctx->slots[slot].buffer != NULL) {
        slot++;
    }
    if (slot == ctx->n_slots) {
        if (ctx->n_slots == ctx->cap_slots && !grow_slots(ctx)) {
            return 0;
        }
        ctx->n_slots++;
    }
    ctx->slots[slot].buffer = buffer;
    ctx->slots[slot].guest_memory = guest_memory;
    return make_handle(slot, ctx->slots[slot].generation);
}

static struct host_buffer_slot *find_slot(struct host_ctx *ctx, uint64_t handle)
{
    const uint64_t index = handle & 0xffffffffu;
    if (index == 0 || index > ctx->n_slots) {
        return NULL;
    }
    struct host_buffer_slot *s = &ctx->slots[index - 1];
    if (s->buffer == NULL || s->generation != (uint32_t)(handle >> 32)) {
        return NULL;
    }
    return s;
}

ggml_backend_buffer_t host_buffer_get(struct host_ctx *ctx, uint64_t handle)
{
    struct host_buffer_slot *s = find_slot(ctx, handle);
    return s ? s->buffer : NULL;
}

ggml_backend_buffer_t host_buffer_remove(struct host_ctx *ctx, uint64_t handle)
{
    struct host_buffer_slot *s = find_slot(ctx, handle);
    if (s == NULL) {
        return NULL;
    }
    ggml_backend_buffer_t buffer = s->buffer;
    s->buffer = NULL;
    s->generation++;
    return buffer;
}

uint64_t host_buffer_guest_base(uint64_t handle)
{
    return (handle & 0xffffffffu) << GUEST_BASE_SHIFT;
}

bool host_buffer_wraps_guest_memory(const struct host_ctx *ctx, ggml_backend_buffer_t buffer)
{
    for (uint32_t i = 0; i < ctx->n_slots; i++) { /* asked once per distinct graph */
        if (ctx->slots[i].buffer == buffer) {
            return ctx->slots[i].guest_memory;
        }
    }
    return false;
}

uint32_t host_buffer_count(const struct host_ctx *ctx)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < ctx->n_slots; i++) {
        n += ctx->slots[i].buffer != NULL;
    }
    return n;
}

void host_buffers_free_all(struct host_ctx *ctx)
{
    for (uint32_t i = 0; i < ctx->n_slots; i++) {
        if (ctx->slots[i].buffer != NULL) {
            ggml_backend_buffer_free(ctx->slots[i].buffer);
        }
    }
    free(ctx->slots);
    ctx->slots = NULL;
    ctx->n_slots = ctx->cap_slots = 0;
}

/* ---- shared memory resources --------------------------------------------- */

void *host_shmem(struct host_ctx *ctx, uint32_t res_id, uint64_t need)
{
    void *ptr = ctx->cbs.get_shmem_ptr(ctx->ctx_id, res_id);
    if (ptr == NULL) {
        LOG_ERROR("shared-memory resource %u is unknown to the hypervisor", res_id);
        return NULL;
    }
    if (ctx->shmem_size_known) {
        const size_t size = ctx->cbs.get_shmem_size(ctx->ctx_id, res_id);
        if (need > size) {
            LOG_ERROR("shared-memory resource %u holds %zu bytes, the call needs %llu", res_id, size,
                       (unsigned long long)need);
            return NULL;
        }
    }
    return ptr;
}
