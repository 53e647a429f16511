/* libapir: a context's counters (apir_context_count_into), in memory its
 * embedder provides and may share with a process that reports them. */
#include "counters.h"
#include "stats.h"

_Static_assert(APIR_LATENCY_BUCKETS == LATENCY_BUCKETS, "apir.h describes counters.h's buckets");

/* what only the backend library knows: the buffers it holds, the tensor data it moved */
static void store_usage(struct apir_context *ctx)
{
    struct apir_backend_usage usage;
    if (ctx->backend.usage == NULL || !ctx->backend.usage(ctx->ctx_id, &usage)) {
        return;
    }
    counter_set(&ctx->stats->buffers, usage.buffers);
    counter_set(&ctx->stats->buffer_bytes, usage.buffer_bytes);
    counter_set(&ctx->stats->tensor_bytes_in, usage.tensor_bytes_in);
    counter_set(&ctx->stats->tensor_bytes_out, usage.tensor_bytes_out);
}

void apir_context_count_into(struct apir_context *ctx, struct apir_context_stats *stats)
{
    ctx->stats = stats;
    if (stats != NULL) {
        store_usage(ctx);
    }
}

void hv_stats_count_command(struct apir_context *ctx, uint32_t type, uint32_t call, size_t command_bytes,
                            size_t reply_bytes, int64_t ns)
{
    struct apir_context_stats *s = ctx->stats;
    const int index = type == APIR_CMD_FORWARD ? wire_call_index(call) : -1;
    counter_add(index >= 0 ? &s->calls[index] : &s->other_commands, 1);
    counter_add(&s->command_bytes, command_bytes);
    counter_add(&s->reply_bytes, reply_bytes);
    counter_add(&s->latency[latency_bucket(ns > 0 ? (uint64_t)ns : 0)], 1);
    if (type == APIR_CMD_FORWARD) {
        store_usage(ctx);
    }
}
