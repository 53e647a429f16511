/* What running a guest's graph may cost the host: time, work and memory.
 *
 * Time: a run has a budget (--max-graph-seconds). A backend with an abort
 * callback (ggml-cpu polls it after each node) stops past the deadline; the
 * call answers OVER_LIMIT and the context goes on. A backend without one
 * runs the graph to its end: one that ran past the budget ends its context
 * (every later call is refused), so a guest gets one such run per context.
 *
 * Work: the time budget stops a graph only between nodes, so each node's
 * work is bounded as its op computes it, broadcasting and zero strides
 * included (a few bytes of buffer with strides of zero pose as 2^38
 * elements): matrix products by their multiply-adds, other ops by the
 * elements they read and write. The bounds leave real graphs far below.
 *
 * Memory: a CPU backend's work memory (ggml_graph_plan's work size; the
 * backend keeps its largest) is charged to the context's memory quota
 * when a graph is kept, before it runs. */
#include "run-limits.h"

#include <dlfcn.h>

#include "ggml-cpu.h"
#include "handles.h"
#include "log.h"

/* for ggml_op_is_empty; the header also defines static helpers this file
 * does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ggml-impl.h"
#pragma GCC diagnostic pop

/* ---- time ---------------------------------------------------------------- */

/* the abort callback: polled by the backend between nodes */
static bool past_deadline(void *data)
{
    const struct host_ctx *ctx = data;
    return ctx->call.deadline_us != 0 && ggml_time_us() > ctx->call.deadline_us;
}

void host_run_limits_start(struct host_ctx *ctx)
{
    typedef void (*set_abort_fn)(ggml_backend_t, ggml_abort_callback, void *);
    set_abort_fn set_abort =
        (set_abort_fn)ggml_backend_reg_get_proc_address(ctx->device.reg, "ggml_backend_set_abort_callback");
    if (set_abort != NULL) {
        set_abort(ctx->device.backend, past_deadline, ctx);
    }
    ctx->device.abortable = set_abort != NULL;
    /* only a CPU backend plans its work memory this way */
    ctx->device.graph_plan = ctx->device.n_threads > 0 && ctx->device.library != NULL
                                 ? (host_graph_plan_fn)dlsym(ctx->device.library, "ggml_graph_plan")
                                 : NULL;
}

/* A run that took `took` us, past the budget: stopped (OVER_LIMIT), or run
 * to its end by a backend that cannot stop (the context ends). */
static uint32_t over_budget(struct host_ctx *ctx, int32_t status, int64_t took)
{
    if (status == GGML_STATUS_ABORTED) {
        CTX_ERROR(ctx->ctx_id, "graph: stopped after %.1f s, past its time budget of %llu s; raise it with "
                  APIR_LIMIT_KNOBS(OPT_MAX_GRAPH_SECONDS, ENV_MAX_GRAPH_SECONDS, APIR_CFG_MAX_GRAPH_SECONDS),
                  (double)took / 1e6, (unsigned long long)ctx->limits.graph_seconds);
        host_refuse(ctx, APIR_CALL_OVER_LIMIT);
        return APIR_CALL_FAILED;
    }
    if (!ctx->device.abortable) {
        ctx->ended = "a graph ran past the time budget on a backend that cannot stop one";
        CTX_ERROR(ctx->ctx_id, "graph: ran %.1f s, past its time budget of %llu s, and %s cannot stop a graph: "
                  "the context ends; raise the budget with "
                  APIR_LIMIT_KNOBS(OPT_MAX_GRAPH_SECONDS, ENV_MAX_GRAPH_SECONDS, APIR_CFG_MAX_GRAPH_SECONDS),
                  (double)took / 1e6, (unsigned long long)ctx->limits.graph_seconds,
                  ggml_backend_name(ctx->device.backend));
    }
    /* else its last node ran past the deadline: the results are whole */
    return APIR_CALL_OK;
}

uint32_t host_run_graph(struct host_ctx *ctx, struct ggml_cgraph *graph, int32_t *status)
{
    const uint64_t budget_us = ctx->limits.graph_seconds * 1000000u;
    const int64_t start = ggml_time_us();
    ctx->call.deadline_us = budget_us != 0 ? start + (int64_t)budget_us : 0;
    *status = (int32_t)ggml_backend_graph_compute(ctx->device.backend, graph);
    ctx->call.deadline_us = 0;
    const int64_t took = ggml_time_us() - start;
    return budget_us != 0 && (uint64_t)took > budget_us ? over_budget(ctx, *status, took) : APIR_CALL_OK;
}

/* ---- work ---------------------------------------------------------------- */

/* A node's multiply-adds (matrix products and attention) and the elements
 * it reads and writes (every op), as ggml computes them. */
struct node_work {
    uint64_t macs;
    uint64_t elements;
};

/* the most of each a node, and a graph, may do */
#define MAX_NODE_MACS ((uint64_t)1 << 44)     /* a 70B model's largest product at a 4096-token batch: 2^40 */
#define MAX_NODE_ELEMENTS ((uint64_t)1 << 32) /* its largest other node (the logits): 2^30 */
#define MAX_GRAPH_MACS ((uint64_t)1 << 50)
#define MAX_GRAPH_ELEMENTS ((uint64_t)1 << 40)

static uint64_t elements(const struct ggml_tensor *t)
{
    return t != NULL ? (uint64_t)ggml_nelements(t) : 0;
}

/* Each factor is below 2^56 (the op table caps a tensor's elements), so
 * a product of two saturates instead of wrapping. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* what a dot product costs beyond its multiply-adds (a call, a sum),
 * in multiply-adds: short rows are not free */
#define DOT_OVERHEAD 32
/* the CPU's tiled attention computes keys and query rows by 64 */
#define ATTENTION_TILE 64

static uint64_t node_macs(const struct ggml_tensor *t)
{
    switch (t->op) {
    case GGML_OP_MUL_MAT:
    case GGML_OP_MUL_MAT_ID:
        /* a dot product of src[0]'s rows per element of the result */
        return mul_sat((uint64_t)t->src[0]->ne[0] + DOT_OVERHEAD, elements(t));
    case GGML_OP_FLASH_ATTN_EXT: {
        /* per query row and head: each of k's n_kv rows, then v's */
        const struct ggml_tensor *q = t->src[0], *k = t->src[1], *v = t->src[2];
        const uint64_t rows = mul_sat(mul_sat((uint64_t)q->ne[1], (uint64_t)q->ne[2]), (uint64_t)q->ne[3]);
        const uint64_t keys = k->ne[1] > ATTENTION_TILE ? (uint64_t)k->ne[1] : ATTENTION_TILE;
        return mul_sat(mul_sat(rows, keys), (uint64_t)(k->ne[0] + v->ne[0] + DOT_OVERHEAD));
    }
    default:
        return 0;
    }
}

static struct node_work work_of(const struct ggml_tensor *t)
{
    struct node_work w = { node_macs(t), elements(t) };
    for (int s = 0; s < GGML_MAX_SRC; s++) {
        w.elements += elements(t->src[s]); /* each term below 2^56 */
    }
    return w;
}

/* why a node (and the graph up to it) does too much work, or NULL */
static const char *work_refusal(struct node_work node, struct node_work *graph)
{
    graph->macs = node.macs > UINT64_MAX - graph->macs ? UINT64_MAX : graph->macs + node.macs;
    graph->elements += node.elements; /* below 2^62: 2^40 + 6 * 2^56 */
    if (node.macs > MAX_NODE_MACS || node.elements > MAX_NODE_ELEMENTS) {
        return "the node alone";
    }
    return graph->macs > MAX_GRAPH_MACS || graph->elements > MAX_GRAPH_ELEMENTS ? "the graph up to the node" : NULL;
}

bool host_graph_work_accepted(struct host_ctx *ctx, struct ggml_cgraph *graph)
{
    struct node_work total = { 0, 0 };
    for (int i = 0; i < ggml_graph_n_nodes(graph); i++) {
        const struct ggml_tensor *node = ggml_graph_node(graph, i);
        if (ggml_op_is_empty(node->op)) {
            continue; /* a view computes nothing */
        }
        const struct node_work w = work_of(node);
        const char *what = work_refusal(w, &total);
        if (what != NULL) {
            CTX_ERROR(ctx->ctx_id, "graph: node %d '%s' (%s) does %llu multiply-adds over %llu elements: %s is "
                      "over the work a graph may do (2^44 and 2^32 a node, 2^50 and 2^40 a graph); refused as a "
                      "runaway", i, node->name, ggml_op_desc(node), (unsigned long long)w.macs,
                      (unsigned long long)w.elements, what);
            host_refuse(ctx, APIR_CALL_OVER_LIMIT);
            return false;
        }
    }
    return true;
}

/* ---- memory -------------------------------------------------------------- */

bool host_graph_work_memory_admit(struct host_ctx *ctx, const struct ggml_cgraph *graph)
{
    if (ctx->device.graph_plan == NULL) {
        return true;
    }
    const struct ggml_cplan plan = ctx->device.graph_plan(graph, ctx->device.n_threads, ctx->device.threadpool);
    if (plan.work_size <= ctx->charges.work) {
        return true; /* the backend's work memory is already that large */
    }
    if (!host_memory_admit(ctx, plan.work_size - ctx->charges.work, "graph (the backend's work memory)")) {
        return false;
    }
    ctx->charges.work = plan.work_size;
    return true;
}
