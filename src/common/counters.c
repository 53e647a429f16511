#include "counters.h"

/* the shortest duration bucket b counts */
static uint64_t bucket_floor_ns(unsigned b)
{
    return b < 8 ? b : (uint64_t)(4 + b % 4) << (b / 4 - 1);
}

uint64_t latency_percentile_ns(const uint64_t *buckets, double p)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < LATENCY_BUCKETS; b++) {
        total += buckets[b];
    }
    /* the nearest rank: the smallest count that covers p of them */
    uint64_t rank = (uint64_t)(p * (double)total);
    rank += (double)rank < p * (double)total || rank == 0;
    uint64_t seen = 0;
    for (unsigned b = 0; b < LATENCY_BUCKETS; b++) {
        seen += buckets[b];
        if (buckets[b] > 0 && seen >= rank) {
            return b + 1 < LATENCY_BUCKETS ? bucket_floor_ns(b + 1) : bucket_floor_ns(b);
        }
    }
    return 0;
}
