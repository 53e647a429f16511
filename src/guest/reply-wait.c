/* The spin-then-sleep wait for a word the host sets (reply-wait.h). */
#define _GNU_SOURCE
#include "reply-wait.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "apir/protocol.h"
#include "clock.h"
#include "log.h"

/* how long to poll the notification word before sleeping: a cheap call is
 * answered within it; a long one must not keep a core from the host's work,
 * unless the machine has cores to spare: then the wait goes on polling
 * (yielding the core to anything runnable) for up to SPIN_LONG_NS, as
 * ggml-cuda's own synchronization spins, and a graph run's answer is seen
 * at once instead of after a futex wake-up */
#define SPIN_NS 50000
#define SPIN_LONG_NS 5000000
#define SPARE_CORES_FOR_LONG_SPIN 8
#define POLLS_PER_CLOCK_READ 64
#define SLEEP_MIN_NS 20000L
#define SLEEP_MAX_NS 1000000L

int64_t vgpu_spin_budget_ns(void)
{
    static _Atomic int64_t budget;
    if (atomic_load_explicit(&budget, memory_order_relaxed) == 0) {
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        atomic_store_explicit(&budget, cores >= SPARE_CORES_FOR_LONG_SPIN ? SPIN_LONG_NS : SPIN_NS,
                              memory_order_relaxed);
    }
    return atomic_load_explicit(&budget, memory_order_relaxed);
}

/* The polling before sleeping for the end of a graph run the host has
 * taken, which is milliseconds away: a machine without cores to spare
 * sleeps at once, since polling there takes a core from the host's own
 * compute (with a CPU host, on the same few cores). Measured on 2 cores
 * with a CPU host, generating 64 tokens of the small model in Q4_0:
 * sleeping at once took 219.3 ms where polling took 224.4 ms, and 227.7
 * where it took 231.9 ms in a second pair of runs. */
int64_t vgpu_run_end_spin_ns(void)
{
    return vgpu_spin_budget_ns() == SPIN_LONG_NS ? SPIN_LONG_NS : 0;
}

/* The value of `word`, or 0; when that is 0 and `also` (may be NULL) is
 * set, *also_set. */
static uint32_t first_set(_Atomic uint32_t *word, _Atomic uint32_t *also, bool *also_set)
{
    const uint32_t v = atomic_load_explicit(word, memory_order_acquire);
    if (v == 0 && also != NULL && atomic_load_explicit(also, memory_order_acquire) != 0) {
        *also_set = true;
    }
    return v;
}

/* Polls for up to budget_ns: `word`'s value, or 0 (with *also_set when
 * `also` was set first, or nothing was). */
static uint32_t spin_on(_Atomic uint32_t *word, _Atomic uint32_t *also, int64_t budget_ns, bool *also_set)
{
    const int64_t start = monotonic_ns(), budget = budget_ns;
    int64_t spun = 0;
    do {
        for (int i = 0; i < POLLS_PER_CLOCK_READ; i++) {
            const uint32_t v = first_set(word, also, also_set);
            if (v != 0 || *also_set) {
                return v;
            }
        }
        spun = monotonic_ns() - start;
        if (spun > SPIN_NS) {
            sched_yield();
        }
    } while (spun < budget);
    return 0;
}

/* What a wait that saw v (and *also_set) returns: v, unless either word
 * says the host context is gone; then the transport is marked lost and the
 * wait returns as for a host found gone (0, *also_set false). */
static uint32_t unless_lost(struct vgpu_transport *t, uint32_t v, _Atomic uint32_t *also, bool *also_set)
{
    const bool lost = v == APIR_REPLY_HOST_LOST ||
                      (*also_set && atomic_load_explicit(also, memory_order_acquire) == APIR_REPLY_HOST_LOST);
    if (!lost) {
        return v;
    }
    atomic_store_explicit(&t->host_said_lost, true, memory_order_relaxed);
    *also_set = false;
    return 0;
}

uint32_t vgpu_wait_word(struct vgpu_transport *t, _Atomic uint32_t *word, _Atomic uint32_t *also, int64_t timeout_ms,
                        int64_t spin_ns, bool *also_set)
{
    *also_set = false;
    const uint32_t spun = spin_on(word, also, spin_ns, also_set);
    if (spun != 0 || *also_set) {
        return unless_lost(t, spun, also, also_set);
    }
    const int64_t start = monotonic_ns();
    long sleep_ns = SLEEP_MIN_NS;
    for (;;) {
        struct timespec slice = { 0, sleep_ns };
        syscall(SYS_futex, word, FUTEX_WAIT, 0, &slice, NULL, 0);
        const uint32_t v = first_set(word, also, also_set);
        if (v != 0 || *also_set) {
            return unless_lost(t, v, also, also_set);
        }
        if (!vgpu_transport_alive(t)) {
            return 0;
        }
        if (timeout_ms > 0 && monotonic_ns() - start > timeout_ms * 1000000) {
            LOG_ERROR("no answer from the host within %lld ms", (long long)timeout_ms);
            return 0;
        }
        sleep_ns = sleep_ns * 2 > SLEEP_MAX_NS ? SLEEP_MAX_NS : sleep_ns * 2;
    }
}
