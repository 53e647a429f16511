/* How many calls of each kind a connection made and how long they took
 * (submit to reply), kept with GGML_VIRTGPU_DEBUG set and logged when the
 * application exits. */
#include "call-stats.h"

#include "log.h"

void vgpu_stats_record(struct vgpu_call_stats *s, uint32_t call, int64_t ns)
{
    const int i = wire_call_index(call);
    if (i >= 0) {
        const uint64_t elapsed = ns > 0 ? (uint64_t)ns : 0;
        s->count[i]++;
        s->ns[i] += elapsed;
        s->latency[i][latency_bucket(elapsed)]++;
    }
}

static void log_call(const struct vgpu_call_stats *s, const char *who, int i, const char *name)
{
    const uint64_t n = s->count[i], total = s->ns[i];
    LOG_DEBUG("%s: %-26s %8llu calls, %10.3f ms, %8.1f us each, p50 %.1f us, p99 %.1f us", who, name,
              (unsigned long long)n, (double)total / 1e6, (double)total / 1e3 / (double)n,
              (double)latency_percentile_ns(s->latency[i], 0.50) / 1e3,
              (double)latency_percentile_ns(s->latency[i], 0.99) / 1e3);
}

void vgpu_stats_log(const struct vgpu_call_stats *s, const char *who)
{
    uint64_t calls = 0, ns = 0;
    for (int i = 0; i < APIR_CALL_INDEX_COUNT; i++) {
        calls += s->count[i];
        ns += s->ns[i];
    }
    LOG_DEBUG("%s: %llu calls to the host, %.3f ms in all; by call (p50, p99: within 25%%):", who,
              (unsigned long long)calls, (double)ns / 1e6);
#define LOG_ONE(NAME, number, name, request, reply)   \
    if (s->count[APIR_CALL_INDEX_##NAME] > 0) {       \
        log_call(s, who, APIR_CALL_INDEX_##NAME, #name); \
    }
    APIR_CALLS(LOG_ONE)
#undef LOG_ONE
}
