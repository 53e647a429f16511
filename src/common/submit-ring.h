/* The submission ring: shared memory that carries a vtest connection's
 * messages from its client to apir-server's process in place of the socket,
 * so that a call costs no system call on either side while the process polls
 * for the next (two of them were most of the hop a VM's call takes to its
 * process: bench/virgl_hop.c). A byte stream, like the socket it stands in
 * for: the client writes at tail, the process reads at head, in order.
 *
 * The process makes it (VCMD_APIR_SUBMIT_RING, vtest-protocol.h) and polls
 * it; before it sleeps in a read of the socket it sets `sleeping`, and a
 * client that then writes sends one byte on the socket (the doorbell, which
 * the process discards). Its contents are the client's to write at any time:
 * the process copies bytes out before it parses them, and a tail that is not
 * within the ring's size of head ends the connection. */
#ifndef SUBMIT_RING_H
#define SUBMIT_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUBMIT_RING_BYTES ((size_t)1 << 20)

struct submit_ring {
    _Alignas(64) _Atomic uint64_t tail; /* bytes written, ever (the client's) */
    _Alignas(64) _Atomic uint64_t head; /* bytes read, ever (the process's) */
    _Alignas(64) _Atomic uint32_t sleeping; /* the process waits on the socket */
    _Alignas(64) uint8_t data[SUBMIT_RING_BYTES];
};

/* The client: writes as much of bytes as there is room for, and returns how
 * much; *ring_doorbell tells whether the process sleeps and must be woken. */
size_t submit_ring_write(struct submit_ring *ring, const void *bytes, size_t n, bool *ring_doorbell);

/* The process: copies up to max bytes out into buf from *head, its own
 * count of the bytes it read (the ring's copy is only for the client to
 * read), and advances it; their count, or -1 when the client's tail is not
 * a tail (the connection is to end). */
ptrdiff_t submit_ring_read(struct submit_ring *ring, uint64_t *head, void *buf, size_t max);

/* The process, before it sleeps: marks it, and returns whether bytes came
 * meanwhile (then it does not sleep, and is marked awake again). */
bool submit_ring_sleep_unless_written(struct submit_ring *ring, uint64_t head);
void submit_ring_awake(struct submit_ring *ring);

#endif
