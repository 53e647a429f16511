/* A context's command counts, for its embedder's status. */
#ifndef HV_STATS_H
#define HV_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "hv-internal.h"

/* Counts a command of `type` (call: a FORWARD's flags) that took
 * `ns` to answer, then stores the backend's usage; only while counting. */
void hv_stats_count_command(struct apir_context *ctx, uint32_t type, uint32_t call, size_t command_bytes,
                            size_t reply_bytes, int64_t ns);

#endif
