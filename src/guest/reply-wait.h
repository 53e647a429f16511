/* The wait for a word of the reply blob that the host sets: the
 * notification word of a reply, or the acceptance word of a graph run it
 * took. The wait polls first, then sleeps on the word. */
#ifndef VGPU_REPLY_WAIT_H
#define VGPU_REPLY_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport.h"

/* the timeout_ms of a wait that lasts as long as the host is alive */
#define VGPU_NO_TIMEOUT 0

/* how long to poll for the answer to a call before sleeping */
int64_t vgpu_spin_budget_ns(void);
/* how long to poll for the end of a graph run the host has taken before
 * sleeping */
int64_t vgpu_run_end_spin_ns(void);

/* Waits until the host sets `word` and returns its value, or returns 0 on
 * timeout (timeout_ms 0: none), when the host is gone (t is no longer
 * alive), or (*also_set) when `also`, if not NULL, is set first. It polls
 * for up to spin_ns first, then sleeps on the word: a host on the same
 * machine (vtest) wakes the futex at once; a VM's host cannot, so the
 * sleep between checks grows from 20 us to 1 ms. */
uint32_t vgpu_wait_word(struct vgpu_transport *t, _Atomic uint32_t *word, _Atomic uint32_t *also, int64_t timeout_ms,
                        int64_t spin_ns, bool *also_set);

#endif
