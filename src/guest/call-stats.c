/* How many calls of each kind a connection made and how long they took
 * (submit to reply), kept with GGML_VIRTGPU_DEBUG set and logged when the
 * application exits. */
#include "call-stats.h"

#include "log.h"

void vgpu_stats_record(struct vgpu_call_stats *s, uint32_t call, int64_t ns)
{
    const int i = apir_call_index(call);
    if (i >= 0) {
        s->count[i]++;
        s->ns[i] += (uint64_t)ns;
    }
}

void vgpu_stats_log(const struct vgpu_call_stats *s, const char *who)
{
#define LOG_ONE(NAME, number, name, request, reply)                                                      \
    if (s->count[APIR_CALL_INDEX_##NAME] > 0) {                                                       \
        const uint64_t n = s->count[APIR_CALL_INDEX_##NAME], total = s->ns[APIR_CALL_INDEX_##NAME];      \
        LOG_DEBUG("%s: %-26s %8llu calls, %10.3f ms, %8.1f us each", who, #name, (unsigned long long)n, \
                  (double)total / 1e6, (double)total / 1e3 / (double)n);                              \
    }
    APIR_CALLS(LOG_ONE)
#undef LOG_ONE
}
