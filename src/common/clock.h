#ifndef VIRTGPU_CLOCK_H
#define VIRTGPU_CLOCK_H

#include <stdint.h>
#include <time.h>

/* nanoseconds of CLOCK_MONOTONIC */
static inline int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
