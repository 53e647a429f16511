/* Per-call counts and round-trip times of one connection (call-stats.c). */
#ifndef VGPU_CALL_STATS_H
#define VGPU_CALL_STATS_H

#include <stdint.h>

#include "apir/protocol.h"
#include "counters.h"

struct vgpu_call_stats {
    uint64_t count[APIR_CALL_INDEX_COUNT];
    uint64_t ns[APIR_CALL_INDEX_COUNT];
    uint64_t latency[APIR_CALL_INDEX_COUNT][LATENCY_BUCKETS]; /* the round trips by time */
};

void vgpu_stats_record(struct vgpu_call_stats *s, uint32_t call, int64_t ns);
/* a debug line of totals, then one per call kind made, prefixed with who */
void vgpu_stats_log(const struct vgpu_call_stats *s, const char *who);

#endif
