/* Unit tests of the latency histogram (counters.h): every duration lands in
 * a bucket that does not come before the previous duration's, each bucket
 * at most 25% wide, and percentiles of known samples. */
#include <stdint.h>

#include "check.h"
#include "counters.h"

/* the upper end a percentile gives for a single sample of ns */
static uint64_t upper_end(uint64_t ns)
{
    uint64_t buckets[LATENCY_BUCKETS] = { 0 };
    buckets[latency_bucket(ns)] = 1;
    return latency_percentile_ns(buckets, 0.5);
}

static void test_buckets(void)
{
    int out_of_order = 0, too_wide = 0, below = 0;
    unsigned previous = 0;
    for (uint64_t ns = 0; ns < 3000000; ns += 1 + ns / 1000) {
        const unsigned b = latency_bucket(ns);
        out_of_order += b < previous;
        previous = b;
        const uint64_t end = upper_end(ns);
        below += end <= ns;
        too_wide += ns >= 8 && (double)end > 1.25 * (double)ns + 1;
    }
    CHECK(out_of_order == 0, "%d durations in a bucket before a shorter one's", out_of_order);
    CHECK(below == 0, "%d durations at or past their bucket's upper end", below);
    CHECK(too_wide == 0, "%d durations in a bucket more than 25%% wider", too_wide);
    CHECK(latency_bucket(UINT64_MAX) == LATENCY_BUCKETS - 1, "the longest times go to the last bucket");
}

static void test_percentiles(void)
{
    uint64_t buckets[LATENCY_BUCKETS] = { 0 };
    CHECK(latency_percentile_ns(buckets, 0.5) == 0, "no samples: 0");
    /* 90 samples of 1 us, 9 of 100 us, 1 of 10 ms */
    buckets[latency_bucket(1000)] += 90;
    buckets[latency_bucket(100000)] += 9;
    buckets[latency_bucket(10000000)] += 1;
    CHECK(latency_percentile_ns(buckets, 0.5) == upper_end(1000), "p50 is the 1 us bucket");
    CHECK(latency_percentile_ns(buckets, 0.9) == upper_end(1000), "p90 is the 90th sample, 1 us");
    CHECK(latency_percentile_ns(buckets, 0.91) == upper_end(100000), "p91 is 100 us");
    CHECK(latency_percentile_ns(buckets, 0.99) == upper_end(100000), "p99 is the 99th sample, 100 us");
    CHECK(latency_percentile_ns(buckets, 1.0) == upper_end(10000000), "p100 is the longest, 10 ms");
}

int main(void)
{
    test_buckets();
    test_percentiles();
    return FINISH();
}
