/* What running a guest's graph may cost the host: its time budget, the work
 * of its nodes, the backend's work memory. */
#ifndef HOST_RUN_LIMITS_H
#define HOST_RUN_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"

/* Once the backend runs: the deadline's abort callback where the backend
 * takes one, and a CPU backend's planner. */
void host_run_limits_start(struct host_ctx *ctx);
/* Whether each node's work, and the graph's, are within the bounds; when
 * not, logged and APIR_CALL_OVER_LIMIT noted. */
bool host_graph_work_accepted(struct host_ctx *ctx, struct ggml_cgraph *graph);
/* Charges the work memory the backend will need to run graph to the
 * context's memory quota; false (logged, noted) when over it. */
bool host_graph_work_memory_admit(struct host_ctx *ctx, const struct ggml_cgraph *graph);
/* Computes graph within the time budget into *status (a ggml_status):
 * APIR_CALL_FAILED with OVER_LIMIT noted when the backend stopped it at the
 * deadline; a backend that cannot stop one ends the context past it. */
uint32_t host_run_graph(struct host_ctx *ctx, struct ggml_cgraph *graph, int32_t *status);

#endif
