/* The buffered input of a connection (see guest-input.h). */
#define _GNU_SOURCE
#include "guest-input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "clock.h"
#include "fdpass.h"
#include "log.h"

/* larger reads (a large command's payload) go straight to their place */
#define INPUT_BUFFER_BYTES 65536

bool guest_input_init(struct guest_input *in, int sock, const volatile int *stop)
{
    *in = (struct guest_input){ .sock = sock, .stop = stop, .buffer = malloc(INPUT_BUFFER_BYTES) };
    return in->buffer != NULL;
}

void guest_input_free(struct guest_input *in)
{
    free(in->buffer);
    in->buffer = NULL;
    if (in->ring != NULL) {
        munmap(in->ring, sizeof *in->ring);
        in->ring = NULL;
    }
}

void guest_input_use_ring(struct guest_input *in, struct submit_ring *ring)
{
    in->ring = ring;
    in->ring_head = 0;
}

/* Sleeps until the client rings the doorbell (the bytes are dropped); false
 * at end of stream, on an error or when asked to stop. */
static bool wait_for_doorbell(struct guest_input *in)
{
    uint8_t bells[64];
    for (;;) {
        const ssize_t n = recv(in->sock, bells, sizeof bells, 0);
        if (n > 0) {
            return true;
        }
        if (n < 0 && errno == EINTR && !*in->stop) {
            continue;
        }
        return false;
    }
}

/* fill() from the ring */
static bool fill_from_ring(struct guest_input *in, bool dont_wait)
{
    for (;;) {
        const ptrdiff_t n =
            submit_ring_read(in->ring, &in->ring_head, in->buffer + in->end, INPUT_BUFFER_BYTES - in->end);
        if (n < 0) {
            LOG_ERROR("a client's submission ring is corrupt (its tail is not within the ring's size of its "
                      "head); closing the connection");
            return false;
        }
        if (n > 0) {
            in->end += (size_t)n;
            return true;
        }
        if (dont_wait) {
            return true;
        }
        if (submit_ring_sleep_unless_written(in->ring, in->ring_head)) {
            continue;
        }
        const bool rung = wait_for_doorbell(in);
        submit_ring_awake(in->ring);
        if (!rung) {
            return false;
        }
    }
}

/* Takes what the socket has (up to the buffer's room), waiting for some
 * unless dont_wait. False at end of stream, on an error, or when asked to
 * stop; nothing there with dont_wait is true. */
static bool fill(struct guest_input *in, bool dont_wait)
{
    if (in->start == in->end) {
        in->start = in->end = 0;
    }
    if (in->ring != NULL) {
        return fill_from_ring(in, dont_wait);
    }
    for (;;) {
        const ssize_t n = recv(in->sock, in->buffer + in->end, INPUT_BUFFER_BYTES - in->end, dont_wait ? MSG_DONTWAIT : 0);
        if (n > 0) {
            in->end += (size_t)n;
            return true;
        }
        if (n < 0 && errno == EINTR && !*in->stop) {
            continue;
        }
        return n < 0 && dont_wait && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

bool guest_input_read(struct guest_input *in, void *buf, size_t n)
{
    uint8_t *to = buf;
    while (n > 0) {
        if (*in->stop) {
            return false;
        }
        const size_t have = in->end - in->start;
        if (have == 0 && n >= INPUT_BUFFER_BYTES && in->ring == NULL) {
            return read_all_unless(in->sock, to, n, in->stop);
        }
        if (have == 0 && !fill(in, false)) {
            return false;
        }
        const size_t k = n < in->end - in->start ? n : in->end - in->start;
        memcpy(to, in->buffer + in->start, k);
        in->start += k;
        to += k;
        n -= k;
    }
    return true;
}

void guest_input_poll(struct guest_input *in, int64_t ns)
{
    const int64_t start = monotonic_ns();
    while (in->start == in->end && fill(in, true) && in->start == in->end && monotonic_ns() - start < ns) {
    }
}
