/* The buffered input of a connection (see guest-input.h). */
#define _GNU_SOURCE
#include "guest-input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "fdpass.h"

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
}

/* Takes what the socket has (up to the buffer's room), waiting for some
 * unless dont_wait. False at end of stream, on an error, or when asked to
 * stop; nothing there with dont_wait is true. */
static bool fill(struct guest_input *in, bool dont_wait)
{
    if (in->start == in->end) {
        in->start = in->end = 0;
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
        if (have == 0 && n >= INPUT_BUFFER_BYTES) {
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
