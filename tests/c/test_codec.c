/* Unit tests of the APIR codec: slot padding, bounds, the sticky fatal flag,
 * strings, the wire layouts' sizes and offsets, bounded lists. */
#include <stddef.h>
#include <string.h>

#include "wire-calls.h"
#include "wire-codec.h"
#include "apir/protocol.h"
#include "check.h"

static void test_padding_and_values(void)
{
    uint8_t buf[64];
    memset(buf, 0xAA, sizeof buf);
    struct wire_encoder enc;
    wire_encoder_init(&enc, buf, sizeof buf);
    wire_encode_u8(&enc, 7);
    wire_encode_bool(&enc, true);
    wire_encode_u64(&enc, 0x1122334455667788ull);
    wire_encode_string(&enc, "abcde");
    CHECK(!enc.fatal, "encoding fits");
    CHECK(wire_encoder_used(&enc) == 4 + 4 + 8 + 8 + 8, "used %zu", wire_encoder_used(&enc));
    CHECK(buf[0] == 7 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0, "a byte's slot is zero-padded");
    CHECK(buf[29] == 0 && buf[30] == 0 && buf[31] == 0, "a string's tail is zero-padded");

    struct wire_decoder dec;
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    char s[16];
    CHECK(wire_decode_u8(&dec) == 7, "u8 round trip");
    CHECK(wire_decode_bool(&dec) == true, "bool round trip");
    CHECK(wire_decode_u64(&dec) == 0x1122334455667788ull, "u64 round trip");
    CHECK(wire_decode_string(&dec, s, sizeof s) && strcmp(s, "abcde") == 0, "string round trip");
    CHECK(!dec.fatal && wire_decoder_remaining(&dec) == 0, "whole stream consumed");
}

static void test_encoder_bounds(void)
{
    uint8_t buf[12];
    memset(buf, 0xAA, sizeof buf);
    struct wire_encoder enc;
    wire_encoder_init(&enc, buf, 8);
    wire_encode_u32(&enc, 1);
    wire_encode_u64(&enc, 2); /* does not fit in the 4 bytes left */
    CHECK(enc.fatal, "overflow sets fatal");
    CHECK(buf[4] == 0xAA && buf[8] == 0xAA, "nothing written past the fit");
    wire_encode_u32(&enc, 3);
    CHECK(wire_encoder_used(&enc) == 4, "fatal is sticky: later items are dropped");
    CHECK(wire_encode_reserve(&enc, 0) == NULL, "reserve fails once fatal");
}

static void test_decoder_bounds(void)
{
    const uint32_t words[2] = { 5, 6 };
    struct wire_decoder dec;
    wire_decoder_init(&dec, words, 6); /* a truncated second word */
    CHECK(wire_decode_u32(&dec) == 5, "first word");
    CHECK(wire_decode_u32(&dec) == 0 && dec.fatal, "a read past the end gives 0 and sets fatal");
    wire_decoder_init(&dec, words, sizeof words);
    CHECK(wire_decode_inplace(&dec, SIZE_MAX) == NULL && dec.fatal, "a huge in-place size is refused");
    wire_decoder_init(&dec, words, sizeof words);
    CHECK(wire_decode_inplace(&dec, 5) != NULL && wire_decoder_remaining(&dec) == 0, "5 bytes take 8 with padding");
    wire_decoder_init(&dec, words, sizeof words);
    CHECK(wire_decode_inplace(&dec, 9) == NULL && dec.fatal, "9 bytes (12 padded) do not fit in 8");
}

static void encode_raw_string(struct wire_encoder *enc, uint64_t len, const char *bytes, size_t n)
{
    wire_encode_u64(enc, len);
    wire_encode_bytes(enc, bytes, n);
}

static void test_bad_strings(void)
{
    uint8_t buf[64];
    struct wire_encoder enc;
    struct wire_decoder dec;
    char out[8];

    wire_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 0, "", 0);
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    CHECK(!wire_decode_string(&dec, out, sizeof out) && dec.fatal, "length 0 is refused");

    wire_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 12, "hello world", 12);
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    CHECK(!wire_decode_string(&dec, out, sizeof out) && dec.fatal && out[0] == '\0',
          "a string longer than the buffer is refused");

    wire_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 4, "abcd", 4);
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    CHECK(!wire_decode_string(&dec, out, sizeof out) && dec.fatal, "a string without its NUL is refused");

    wire_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 40, "abc", 4);
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    char big[64];
    CHECK(!wire_decode_string(&dec, big, sizeof big) && dec.fatal, "a length past the stream is refused");
}

static void test_wire_layouts(void)
{
    CHECK(offsetof(struct wire_tensor, buffer) == 16, "wire tensor buffer at 16");
    CHECK(offsetof(struct wire_tensor, ne) == 24, "wire tensor ne at 24");
    CHECK(offsetof(struct wire_tensor, op) == 56, "wire tensor op at 56");
    CHECK(offsetof(struct wire_tensor, flags) == 124, "wire tensor flags at 124");
    CHECK(offsetof(struct wire_tensor, src) == 128, "wire tensor src at 128");
    CHECK(offsetof(struct wire_tensor, data) == 224, "wire tensor data at 224");
    CHECK(offsetof(struct wire_tensor, name) == 232, "wire tensor name at 232");
    CHECK(offsetof(struct wire_inline_tensor, op) == 80, "inline tensor op at 80");
    CHECK(offsetof(struct wire_inline_tensor, src) == 152, "inline tensor src at 152");
    CHECK(offsetof(struct wire_inline_tensor, name) == 256, "inline tensor name at 256");
    CHECK(offsetof(struct wire_inline_tensor, extra) == 320, "inline tensor extra at 320");
    CHECK(strcmp(wire_call_name(APIR_CALL_BACKEND_GRAPH_COMPUTE), "backend_graph_compute") == 0, "call names");
    CHECK(strcmp(wire_call_name(99), "unknown") == 0, "unknown call name");
}

/* a list of handles: its count, then that many, in the stream's 4-byte
 * slots; a count over its bound fails both sides */
static void test_handles(void)
{
    uint8_t buf[256];
    struct wire_encoder enc;
    struct wire_decoder dec;
    const struct wire_msg_handles sent = { .value = { .count = 2, .items = { 2, 0x123456789ull } } };
    struct wire_msg_handles got = { .value = { .count = 0 } };
    wire_encoder_init(&enc, buf, sizeof buf);
    wire_encode_msg_handles(&enc, &sent);
    CHECK(!enc.fatal && wire_encoder_used(&enc) == 4 + 2 * 8, "two handles take 20 bytes");
    wire_decoder_init(&dec, buf, wire_encoder_used(&enc));
    wire_decode_msg_handles(&dec, &got);
    CHECK(!dec.fatal && got.value.count == 2 && got.value.items[0] == 2 && got.value.items[1] == 0x123456789ull,
          "handles round trip");
    const uint32_t too_many = APIR_MAX_HANDLES + 1;
    wire_decoder_init(&dec, (const uint8_t *)&too_many, sizeof too_many);
    wire_decode_msg_handles(&dec, &got);
    CHECK(dec.fatal && got.value.count == 0, "a count over APIR_MAX_HANDLES is refused");
    const struct wire_msg_handles bad = { .value = { .count = too_many } };
    wire_encoder_init(&enc, buf, sizeof buf);
    wire_encode_msg_handles(&enc, &bad);
    CHECK(enc.fatal, "and not encoded");
}

int main(void)
{
    test_handles();
    test_padding_and_values();
    test_encoder_bounds();
    test_decoder_bounds();
    test_bad_strings();
    test_wire_layouts();
    return FINISH();
}
