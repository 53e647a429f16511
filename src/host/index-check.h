/* The indices a graph reads (rows, experts, ids), checked before it runs. */
#ifndef HOST_INDEX_CHECK_H
#define HOST_INDEX_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "ggml.h"

struct host_index_checks;
/* Traces the indices each GET_ROWS, SET_ROWS, MUL_MAT_ID and ADD_ID node
 * reads: those the guest wrote are to be checked before every run (*out),
 * those the graph computes must be proven in range now. false (logged)
 * when some can be neither. */
bool host_index_checks_plan(struct host_ctx *ctx, struct ggml_cgraph *graph, struct host_index_checks **out);
/* Whether every index the guest wrote lies in its range; logged when not.
 * seen: the writes of this call, whose copies stand for device memory they
 * wrote whole, or NULL. */
bool host_index_checks_pass(struct host_ctx *ctx, const struct host_index_checks *checks,
                            const struct host_writes_seen *seen);
/* the host memory the checks hold */
uint64_t host_index_checks_memory(const struct host_index_checks *checks);
void host_index_checks_free(struct host_index_checks *checks);

#endif
