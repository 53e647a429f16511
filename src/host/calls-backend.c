/* The backend's calls: a graph computed, and the extension's graph runs
 * (queued writes, a kept graph, its outputs, the acceptance word). */
#define _GNU_SOURCE /* syscall */
#include "handlers.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "call-args.h"
#include "graph-cache.h"
#include "index-check.h"
#include "log.h"
#include "run-limits.h"
#include "tensor-io.h"

/* Tells a guest waiting on ext_graph_run_async that its work is taken:
 * the acceptance word, then a wake-up for a guest asleep on it (a guest in
 * a VM polls it). */
static void signal_accepted(struct host_ctx *ctx)
{
    if (ctx->call.accept_word != NULL) {
        atomic_store_explicit(ctx->call.accept_word, 1, memory_order_release);
        syscall(SYS_futex, ctx->call.accept_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        ctx->call.accept_word = NULL;
    }
}

/* Runs a graph, once the indices the guest wrote are checked, into
 * *status (a ggml_status), and logs how long it took. */
static uint32_t compute(struct host_ctx *ctx, const struct host_graph *graph, int32_t *status,
                        const struct host_writes_seen *seen)
{
    const int64_t checked = ggml_time_us();
    if (!host_index_checks_pass(ctx, graph->index_checks, seen)) {
        return APIR_CALL_FAILED;
    }
    signal_accepted(ctx);
    const int64_t start = ggml_time_us();
    const uint32_t rc = host_run_graph(ctx, graph->cgraph, status);
    CTX_DEBUG(ctx->ctx_id, "backend_graph_compute: %d nodes in %lld us (its indices checked in %lld us)",
              ggml_graph_n_nodes(graph->cgraph), (long long)(ggml_time_us() - start), (long long)(start - checked));
    return rc;
}

/* the graph of `size` bytes of resource res_id, decoded once and kept */
static const struct host_graph *graph_from_guest(struct host_ctx *ctx, uint32_t res_id, uint64_t size,
                                                 uint64_t key, bool use_counts)
{
    if (size == 0) {
        CTX_ERROR(ctx->ctx_id, "backend_graph_compute: zero-size computation graph");
        host_refuse(ctx, APIR_CALL_MALFORMED);
        return NULL;
    }
    const uint8_t *data = host_guest_memory(ctx, res_id, size);
    const struct host_graph *graph = data ? host_graph_cache_get(ctx, data, size, key, use_counts) : NULL;
    if (graph == NULL) {
        CTX_ERROR(ctx->ctx_id, "backend_graph_compute: cannot use the computation graph");
    }
    return graph;
}

uint32_t host_call_backend_graph_compute(struct host_ctx *ctx, const struct wire_msg_graph *req,
                                         struct wire_msg_i32 *out)
{
    const struct host_graph *graph = graph_from_guest(ctx, req->res_id, req->size, 0, false);
    return graph != NULL ? compute(ctx, graph, &out->value, NULL) : APIR_CALL_FAILED;
}

/* The run's writes (queued on the backend's stream), then its graph,
 * decoded from the guest unless kept; *graph is set once known. */
static uint32_t write_and_compute(struct host_ctx *ctx, const struct wire_msg_graph_run *req,
                                  const struct host_graph **graph, struct wire_msg_graph_result *out,
                                  int64_t *written)
{
    struct host_writes_seen *seen = &ctx->io.writes_seen;
    seen->count = 0;
    seen->used = 0;
    if (host_run_writes(ctx, &req->writes, seen) != APIR_CALL_OK) {
        return APIR_CALL_FAILED;
    }
    *written = ggml_time_us();
    if (*graph == NULL && (*graph = graph_from_guest(ctx, req->res_id, req->size, req->key, true)) == NULL) {
        return APIR_CALL_FAILED;
    }
    out->kept = true;
    return compute(ctx, *graph, &out->status, seen);
}

/* A kept graph is looked up before the writes run: a guest told "not
 * kept" sends the same writes again with the whole graph. */
uint32_t host_call_ext_graph_run(struct host_ctx *ctx, const struct wire_msg_graph_run *req,
                                 struct wire_msg_graph_result *out)
{
    const struct host_graph *graph = NULL;
    if (req->size == 0 && (graph = host_graph_cache_find(ctx, req->key)) == NULL) {
        out->kept = false;
        return APIR_CALL_OK;
    }
    const int64_t start = ggml_time_us();
    int64_t written = start;
    const uint32_t rc = write_and_compute(ctx, req, &graph, out, &written);
    if (rc != APIR_CALL_OK) {
        /* the graph did not run (it synchronizes): the queued writes are
         * done before the guest hears of it */
        ggml_backend_synchronize(ctx->device.backend);
        return rc;
    }
    const int64_t computed = ggml_time_us();
    if (out->status == GGML_STATUS_SUCCESS) {
        out->outputs = host_copy_outputs(ctx, graph->cgraph, req->res_id, req->outputs_max);
    }
    CTX_DEBUG(ctx->ctx_id, "ext_graph_run: %u writes in %lld us, graph in %lld us, %u outputs in %lld us",
              ctx->io.writes_seen.count, (long long)(written - start), (long long)(computed - written), out->outputs,
              (long long)(ggml_time_us() - computed));
    return rc;
}

uint32_t host_call_ext_graph_run_async(struct host_ctx *ctx, const struct wire_msg_graph_run *req,
                                       struct wire_msg_graph_result *out)
{
    const size_t at = wire_accept_word_offset(ctx->call.reply_page_size);
    ctx->call.accept_word = at != 0 ? (_Atomic uint32_t *)(void *)(ctx->call.reply_page + at) : NULL;
    const uint32_t rc = host_call_ext_graph_run(ctx, req, out);
    ctx->call.accept_word = NULL; /* not taken: the reply word says how it ended */
    return rc;
}
