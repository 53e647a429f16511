/* Dietzfelbinger's multiply-add-shift over the key's two 32-bit halves:
 * for random 64-bit a0, a1 and b, the top bits of a0 * lo + a1 * hi + b are
 * a universal hash of the 64-bit key (two given keys share a slot with
 * probability about 1 / capacity). */
#define _GNU_SOURCE
#include "seeded-hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct {
    uint64_t mul_lo;
    uint64_t mul_hi;
    uint64_t add;
} seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static bool read_random(void *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        const ssize_t n = getrandom((char *)buf + done, size - done, 0);
        if (n < 0 && errno != EINTR) {
            return false;
        }
        done += n > 0 ? (size_t)n : 0;
    }
    return true;
}

/* splitmix64's step, to spread a weak seed over all bits */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void init_seed(void)
{
    if (read_random(&seed, sizeof seed)) {
        return;
    }
    /* getrandom() refused (an old kernel, a seccomp filter): the time, the
     * pid and where the stack lies are still unknown to a guest */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    seed.mul_lo = mix64((uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^ (uint64_t)(uintptr_t)&now);
    seed.mul_hi = mix64(seed.mul_lo);
    seed.add = mix64(seed.mul_hi ^ (uint64_t)getpid());
}

uint64_t seeded_hash(uint64_t key)
{
    pthread_once(&seed_once, init_seed);
    return seed.mul_lo * (key & 0xffffffffu) + seed.mul_hi * (key >> 32) + seed.add;
}
