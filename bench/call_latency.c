/* Round-trip time of the cheapest forwarded call (device_get_count): the
 * whole remoting path without any GGML work. Over vtest to the apir-server
 * named by VTEST_SOCKET_NAME. Prints p50/p90/p99 in microseconds.
 * usage: call_latency [CALLS] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "calls.h"
#include "connection.h"
#include "transport-vtest.h"

static int compare_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const int calls = argc > 1 ? atoi(argv[1]) : 20000;
    const char *socket_path = getenv("VTEST_SOCKET_NAME");
    if (socket_path == NULL || calls <= 0) {
        fprintf(stderr, "usage: VTEST_SOCKET_NAME=SOCKET call_latency [CALLS]\n");
        return 2;
    }
    struct vgpu_transport *t = vgpu_transport_vtest_open(socket_path, false);
    struct vgpu_remote *r = t ? vgpu_remote_open(t) : NULL;
    uint64_t *times = malloc(sizeof *times * (size_t)calls);
    if (r == NULL || times == NULL) {
        fprintf(stderr, "call_latency: cannot connect to %s\n", socket_path);
        return 1;
    }
    for (int i = 0; i < calls; i++) {
        const struct wire_msg_none none = { 0 };
        struct wire_msg_i32 count = { .value = 0 };
        const uint64_t start = now_ns();
        const bool ok = vgpu_device_get_count(r, &none, &count) && count.value == 1;
        times[i] = now_ns() - start;
        if (!ok) {
            fprintf(stderr, "call_latency: call %d failed\n", i);
            return 1;
        }
    }
    qsort(times, (size_t)calls, sizeof *times, compare_u64);
    printf("device_get_count over vtest, %d calls: p50 %.1f us, p90 %.1f us, p99 %.1f us\n", calls,
           (double)times[calls / 2] / 1000.0, (double)times[calls * 9 / 10] / 1000.0,
           (double)times[calls * 99 / 100] / 1000.0);
    vgpu_remote_close(r);
    free(times);
    return 0;
}
