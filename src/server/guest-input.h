/* A connection's input: the guest's socket read through a buffer, so that
 * one recv() takes a whole command (header and payload) where reading it
 * field by field took three, and the wait for the next command polls with
 * the read itself; or, once the client asked for one, a submission ring
 * (submit-ring.h), polled without any system call. Each system call is
 * about a microsecond of a call's round trip (bench/virgl_hop.c). */
#ifndef APIR_SERVER_GUEST_INPUT_H
#define APIR_SERVER_GUEST_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "submit-ring.h"

struct guest_input {
    int sock;
    const volatile int *stop; /* set: reads give up (checked when a signal interrupts one) */
    uint8_t *buffer;
    size_t start, end; /* the bytes read and not yet taken */
    struct submit_ring *ring; /* NULL: the messages come on the socket */
    uint64_t ring_head;       /* the ring's bytes read: ours, not the ring's copy */
};

/* false when out of memory */
bool guest_input_init(struct guest_input *in, int sock, const volatile int *stop);
/* also unmaps its ring */
void guest_input_free(struct guest_input *in);
/* From now on the messages come through ring (mapped, its size that of a
 * struct submit_ring); the socket brings only doorbell bytes. */
void guest_input_use_ring(struct guest_input *in, struct submit_ring *ring);
/* Reads exactly n bytes; false at end of stream, on error or when asked to stop. */
bool guest_input_read(struct guest_input *in, void *buf, size_t n);
/* Polls for input for up to ns nanoseconds (returning as soon as some is
 * there, or the stream ended), before a read that would sleep: after a
 * reply the guest's next command usually follows within microseconds, and
 * a sleeping read's wake-up costs tens of them on an idle core. */
void guest_input_poll(struct guest_input *in, int64_t ns);

#endif
