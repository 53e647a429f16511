/* Fuzz target host_calls: every forwarded call through the host library's
 * dispatcher (apir_backend_dispatcher -> dispatch.c -> calls-*.c), so each
 * call's handler runs on decoded input, in a real host context on the CPU
 * backend. The input is a session (README.md): the calls of one guest, in
 * order, with the shared memory each one reads.
 *
 * Each call's arguments are also decoded with every message layout of
 * APIR_MESSAGES (wire-calls.h): a layout that decodes them must encode the
 * result, and that encoding must decode and encode to the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire-calls.h"
#include "fuzz.h"

#define CTX_ID 1u

/* room for the encoding of any message */
#define ENCODED_BYTES (64u << 10)
static uint8_t encoded[2][ENCODED_BYTES];

/* the first two encodings of a decoded message: both made, both decoded
 * again, the same bytes */
static void check_round_trip(const char *layout, bool decoded_again, const struct wire_encoder enc[2])
{
    if (!decoded_again || enc[0].fatal || enc[1].fatal || wire_encoder_used(&enc[0]) != wire_encoder_used(&enc[1]) ||
        memcmp(encoded[0], encoded[1], wire_encoder_used(&enc[0])) != 0) {
        fprintf(stderr, "codec: a message of layout '%s' does not survive encoding and decoding\n", layout);
        abort();
    }
}

#define DEFINE_ROUND_TRIP(layout)                                              \
    static void round_trip_##layout(const uint8_t *data, size_t size)          \
    {                                                                          \
        static struct wire_msg_##layout msg;                                   \
        struct wire_decoder dec;                                               \
        struct wire_encoder enc[2];                                            \
        wire_decoder_init(&dec, data, size);                                   \
        wire_decode_msg_##layout(&dec, &msg);                                  \
        if (dec.fatal) {                                                       \
            return; /* not a message of this layout */                         \
        }                                                                      \
        for (int i = 0; i < 2 && !dec.fatal; i++) {                            \
            wire_encoder_init(&enc[i], encoded[i], sizeof encoded[i]);         \
            wire_encode_msg_##layout(&enc[i], &msg);                           \
            memset(&msg, 0xa5, sizeof msg);                                    \
            wire_decoder_init(&dec, encoded[i], wire_encoder_used(&enc[i]));   \
            wire_decode_msg_##layout(&dec, &msg);                              \
        }                                                                      \
        check_round_trip(#layout, !dec.fatal, enc);                            \
    }
APIR_MESSAGES(DEFINE_ROUND_TRIP)
#undef DEFINE_ROUND_TRIP

static void round_trip_every_layout(const uint8_t *data, size_t size)
{
#define ROUND_TRIP(layout) round_trip_##layout(data, size);
    APIR_MESSAGES(ROUND_TRIP)
#undef ROUND_TRIP
}

/* one command of the session: a FORWARD's call goes to the host */
static void run_command(const uint8_t *cmd, size_t size, uint64_t *allocated)
{
    uint32_t header[3];
    if (size < sizeof header) {
        return;
    }
    memcpy(header, cmd, sizeof header);
    const uint8_t *args = cmd + sizeof header;
    const size_t n = size - sizeof header;
    round_trip_every_layout(args, n);
    if (header[0] == APIR_CMD_FORWARD && fuzz_within_quota(header[1], args, n, allocated)) {
        fuzz_host_call(CTX_ID, header[1], args, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memory memory;
    fuzz_setup();
    fuzz_host_start(CTX_ID, &memory);
    struct fuzz_input in = { data, data + size };
    uint64_t allocated = 0;
    uint8_t *cmd;
    size_t cmd_size;
    while (fuzz_next_command(&in, &memory, &cmd, &cmd_size)) {
        run_command(cmd, cmd_size, &allocated);
        free(cmd);
    }
    fuzz_host_stop(CTX_ID);
    fuzz_memory_free(&memory);
    return 0;
}
