/* The submission ring (see submit-ring.h). */
#include "submit-ring.h"

#include <string.h>

/* Copies n bytes between the ring's data at position `at` (wrapping) and flat memory. */
static void copy_in(struct submit_ring *ring, uint64_t at, const uint8_t *from, size_t n)
{
    const size_t offset = (size_t)(at % SUBMIT_RING_BYTES);
    const size_t first = n < SUBMIT_RING_BYTES - offset ? n : SUBMIT_RING_BYTES - offset;
    memcpy(ring->data + offset, from, first);
    memcpy(ring->data, from + first, n - first);
}

static void copy_out(const struct submit_ring *ring, uint64_t at, uint8_t *to, size_t n)
{
    const size_t offset = (size_t)(at % SUBMIT_RING_BYTES);
    const size_t first = n < SUBMIT_RING_BYTES - offset ? n : SUBMIT_RING_BYTES - offset;
    memcpy(to, ring->data + offset, first);
    memcpy(to + first, ring->data, n - first);
}

size_t submit_ring_write(struct submit_ring *ring, const void *bytes, size_t n, bool *ring_doorbell)
{
    const uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    const uint64_t used = tail - atomic_load_explicit(&ring->head, memory_order_acquire);
    const size_t room = used < SUBMIT_RING_BYTES ? SUBMIT_RING_BYTES - (size_t)used : 0;
    const size_t k = n < room ? n : room;
    copy_in(ring, tail, bytes, k);
    atomic_store_explicit(&ring->tail, tail + k, memory_order_release);
    /* against the process's mark before it sleeps: one of the two sees the other */
    atomic_thread_fence(memory_order_seq_cst);
    *ring_doorbell = k > 0 && atomic_load_explicit(&ring->sleeping, memory_order_relaxed) != 0;
    return k;
}

ptrdiff_t submit_ring_read(struct submit_ring *ring, uint64_t *head, void *buf, size_t max)
{
    const uint64_t written = atomic_load_explicit(&ring->tail, memory_order_acquire) - *head;
    if (written > SUBMIT_RING_BYTES) {
        return -1;
    }
    const size_t k = (size_t)written < max ? (size_t)written : max;
    copy_out(ring, *head, buf, k);
    *head += k;
    atomic_store_explicit(&ring->head, *head, memory_order_release);
    return (ptrdiff_t)k;
}

bool submit_ring_sleep_unless_written(struct submit_ring *ring, uint64_t head)
{
    atomic_store_explicit(&ring->sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    const bool written = atomic_load_explicit(&ring->tail, memory_order_relaxed) != head;
    if (written) {
        submit_ring_awake(ring);
    }
    return written;
}

void submit_ring_awake(struct submit_ring *ring)
{
    atomic_store_explicit(&ring->sleeping, 0, memory_order_relaxed);
}
