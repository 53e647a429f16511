/* Buffer handles: (generation << 32) | (slot + 1). A freed slot gets a new
 * generation, so a stale or forged handle never reaches another buffer.
 * Free slots form a list, so adding, finding and removing are O(1). Each
 * buffer is counted against the context's limits (APIR_LIMITS). */
#include <stdlib.h>

#include "handles.h"
#include "limit-value.h"
#include "log.h"

/* Each slot owns a 1 TiB window of guest-visible addresses: the guest only
 * does arithmetic on them (tensor data = base + offset), never dereferences. */
#define GUEST_BASE_SHIFT 40
#define MAX_SLOTS (1u << 22)

/* ---- limits --------------------------------------------------------------- */

/* the largest value each limit takes (graph counts are 32-bit on the wire) */
#define MAX_BUFFERS_LIMIT MAX_SLOTS
#define MAX_GRAPH_NODES_LIMIT UINT32_MAX
/* deadlines in microseconds stay far from overflowing */
#define MAX_GRAPH_SECONDS_LIMIT ((uint64_t)1 << 31)

bool host_read_limits(struct host_ctx *ctx)
{
    struct host_limits *l = &ctx->limits;
    const char *(*get)(uint32_t, const char *) = ctx->hv.cbs.get_config;
    return limit_from_config(APIR_CFG_MAX_CONTEXT_MEMORY, get(ctx->ctx_id, APIR_CFG_MAX_CONTEXT_MEMORY),
                             DEFAULT_MAX_CONTEXT_MEMORY, UINT64_MAX, &l->context_memory) &&
           limit_from_config(APIR_CFG_MAX_BUFFERS, get(ctx->ctx_id, APIR_CFG_MAX_BUFFERS), DEFAULT_MAX_BUFFERS,
                             MAX_BUFFERS_LIMIT, &l->buffers) &&
           limit_from_config(APIR_CFG_MAX_GRAPH_NODES, get(ctx->ctx_id, APIR_CFG_MAX_GRAPH_NODES),
                             DEFAULT_MAX_GRAPH_NODES, MAX_GRAPH_NODES_LIMIT, &l->graph_nodes) &&
           limit_from_config(APIR_CFG_MAX_GRAPH_SECONDS, get(ctx->ctx_id, APIR_CFG_MAX_GRAPH_SECONDS),
                             DEFAULT_MAX_GRAPH_SECONDS, MAX_GRAPH_SECONDS_LIMIT, &l->graph_seconds);
}

/* the bytes charged to the quota: buffers, kept graphs, work memory */
static uint64_t memory_in_use(const struct host_ctx *ctx)
{
    return ctx->handles.memory_used + ctx->charges.graphs + ctx->charges.work;
}

bool host_memory_admit(struct host_ctx *ctx, uint64_t bytes, const char *call)
{
    const uint64_t limit = ctx->limits.context_memory, used = memory_in_use(ctx);
    if (limit != 0 && (bytes > limit || used > limit - bytes)) {
        CTX_ERROR(ctx->ctx_id, "%s: refused, %llu more bytes would bring the context past its memory quota "
                  "(%llu of %llu bytes in use); raise it with "
                  APIR_LIMIT_KNOBS(OPT_MAX_CONTEXT_MEMORY, ENV_MAX_CONTEXT_MEMORY, APIR_CFG_MAX_CONTEXT_MEMORY),
                  call, (unsigned long long)bytes, (unsigned long long)used, (unsigned long long)limit);
        host_refuse(ctx, APIR_CALL_OVER_LIMIT);
        return false;
    }
    return true;
}

bool host_buffer_admit(struct host_ctx *ctx, uint64_t bytes, const char *call)
{
    const struct host_limits *l = &ctx->limits;
    if (l->buffers != 0 && ctx->handles.n_buffers >= l->buffers) {
        CTX_ERROR(ctx->ctx_id, "%s: refused, the context already holds %u buffers, its limit; raise it with "
                  APIR_LIMIT_KNOBS(OPT_MAX_BUFFERS, ENV_MAX_BUFFERS, APIR_CFG_MAX_BUFFERS), call, ctx->handles.n_buffers);
        host_refuse(ctx, APIR_CALL_OVER_LIMIT);
        return false;
    }
    return host_memory_admit(ctx, bytes, call);
}

/* ---- the handle table ----------------------------------------------------- */

static uint64_t make_handle(uint32_t slot, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint64_t)(slot + 1);
}

static bool grow_slots(struct host_ctx *ctx)
{
    const uint32_t cap = ctx->handles.cap_slots ? ctx->handles.cap_slots * 2 : 16;
    if (cap > MAX_SLOTS) {
        return false;
    }
    struct host_buffer_slot *slots = realloc(ctx->handles.slots, sizeof *slots * cap);
    if (slots == NULL) {
        return false;
    }
    for (uint32_t i = ctx->handles.cap_slots; i < cap; i++) {
        slots[i] = (struct host_buffer_slot){ .buffer = NULL, .generation = 1 };
    }
    ctx->handles.slots = slots;
    ctx->handles.cap_slots = cap;
    return true;
}

/* a slot to use: the first of the free list, or a new one */
static bool take_slot(struct host_ctx *ctx, uint32_t *slot)
{
    if (ctx->handles.free_slots != 0) {
        *slot = ctx->handles.free_slots - 1;
        ctx->handles.free_slots = ctx->handles.slots[*slot].next_free;
        return true;
    }
    if (ctx->handles.n_slots == ctx->handles.cap_slots && !grow_slots(ctx)) {
        return false;
    }
    *slot = ctx->handles.n_slots++;
    return true;
}

uint64_t host_buffer_add(struct host_ctx *ctx, ggml_backend_buffer_t buffer, bool guest_memory)
{
    uint32_t slot;
    if (!take_slot(ctx, &slot)) {
        return 0;
    }
    ctx->handles.slots[slot].buffer = buffer;
    ctx->handles.slots[slot].guest_memory = guest_memory;
    ctx->handles.slots[slot].charged = guest_memory ? 0 : ggml_backend_buffer_get_size(buffer);
    ctx->handles.n_buffers++;
    ctx->handles.memory_used += ctx->handles.slots[slot].charged;
    return make_handle(slot, ctx->handles.slots[slot].generation);
}

static struct host_buffer_slot *find_slot(struct host_ctx *ctx, uint64_t handle)
{
    const uint64_t index = handle & 0xffffffffu;
    if (index == 0 || index > ctx->handles.n_slots) {
        return NULL;
    }
    struct host_buffer_slot *s = &ctx->handles.slots[index - 1];
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
    ctx->handles.n_buffers--;
    ctx->handles.memory_used -= s->charged;
    s->buffer = NULL;
    s->charged = 0;
    s->generation++;
    s->next_free = ctx->handles.free_slots;
    ctx->handles.free_slots = (uint32_t)(s - ctx->handles.slots) + 1;
    return buffer;
}

uint64_t host_buffer_guest_base(uint64_t handle)
{
    return (handle & 0xffffffffu) << GUEST_BASE_SHIFT;
}

bool host_buffer_wraps_guest_memory(const struct host_ctx *ctx, ggml_backend_buffer_t buffer)
{
    for (uint32_t i = 0; i < ctx->handles.n_slots; i++) { /* asked once per distinct graph */
        if (ctx->handles.slots[i].buffer == buffer) {
            return ctx->handles.slots[i].guest_memory;
        }
    }
    return false;
}

uint32_t host_buffer_count(const struct host_ctx *ctx)
{
    return ctx->handles.n_buffers;
}

void host_buffers_free_all(struct host_ctx *ctx)
{
    for (uint32_t i = 0; i < ctx->handles.n_slots; i++) {
        if (ctx->handles.slots[i].buffer != NULL) {
            ggml_backend_buffer_free(ctx->handles.slots[i].buffer);
        }
    }
    free(ctx->handles.slots);
    ctx->handles.slots = NULL;
    ctx->handles.n_slots = ctx->handles.cap_slots = ctx->handles.free_slots = ctx->handles.n_buffers = 0;
    ctx->handles.memory_used = 0;
}
