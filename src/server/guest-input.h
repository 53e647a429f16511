/* A connection's input: the guest's socket read through a buffer, so that
 * one recv() takes a whole command (header and payload) where reading it
 * field by field took three, and the wait for the next command polls with
 * the read itself. Each system call is about a microsecond of a call's
 * round trip (bench/virgl_hop.c measures it). */
#ifndef APIR_SERVER_GUEST_INPUT_H
#define APIR_SERVER_GUEST_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_input {
    int sock;
    const volatile int *stop; /* set: reads give up (checked when a signal interrupts one) */
    uint8_t *buffer;
    size_t start, end; /* the bytes read and not yet taken */
};

/* false when out of memory */
bool guest_input_init(struct guest_input *in, int sock, const volatile int *stop);
void guest_input_free(struct guest_input *in);
/* Reads exactly n bytes; false at end of stream, on error or when asked to stop. */
bool guest_input_read(struct guest_input *in, void *buf, size_t n);
/* Polls for input for up to ns nanoseconds (returning as soon as some is
 * there, or the stream ended), before a read that would sleep: after a
 * reply the guest's next command usually follows within microseconds, and
 * a sleeping read's wake-up costs tens of them on an idle core. */
void guest_input_poll(struct guest_input *in, int64_t ns);

#endif
