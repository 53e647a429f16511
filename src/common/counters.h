/* Counters read by another thread or process while they are updated (in
 * shared memory), and a histogram of durations in quarter-octave buckets. */
#ifndef VIRTGPU_COUNTERS_H
#define VIRTGPU_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Each counter has one writer: a relaxed load and store (no locked
 * instruction) add to it, and a reader never sees a torn value. */
static inline void counter_add(uint64_t *c, uint64_t n)
{
    _Atomic uint64_t *a = (_Atomic uint64_t *)c;
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void counter_set(uint64_t *c, uint64_t value)
{
    atomic_store_explicit((_Atomic uint64_t *)c, value, memory_order_relaxed);
}

static inline uint64_t counter_get(const uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* Durations in nanoseconds: 0..7 ns one bucket each, then four buckets per
 * power of two (each at most 25% wide); the last one also counts all longer
 * ones (from 32 minutes). */
#define LATENCY_BUCKETS 160

static inline unsigned latency_bucket(uint64_t ns)
{
    if (ns < 8) {
        return (unsigned)ns;
    }
    const unsigned octave = 63u - (unsigned)__builtin_clzll(ns); /* >= 3 */
    const unsigned bucket = 4 * (octave - 1) + (unsigned)((ns >> (octave - 2)) & 3);
    return bucket < LATENCY_BUCKETS ? bucket : LATENCY_BUCKETS - 1;
}

/* The duration under which a fraction `p` (0..1) of those counted in
 * buckets[LATENCY_BUCKETS] lie: the upper end of the bucket that reaches
 * it; 0 when none are counted. */
uint64_t latency_percentile_ns(const uint64_t *buckets, double p);

#endif
