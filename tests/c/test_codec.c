/* Unit tests of the APIR codec: slot padding, bounds, the sticky fatal flag,
 * strings, the wire layouts' sizes and offsets, bounded lists. */
#include <stddef.h>
#include <string.h>

#include "apir-calls.h"
#include "apir-codec.h"
#include "apir/protocol.h"
#include "check.h"

static void test_padding_and_values(void)
{
    uint8_t buf[64];
    memset(buf, 0xAA, sizeof buf);
    struct apir_encoder enc;
    apir_encoder_init(&enc, buf, sizeof buf);
    apir_encode_u8(&enc, 7);
    apir_encode_bool(&enc, true);
    apir_encode_u64(&enc, 0x1122334455667788ull);
    apir_encode_string(&enc, "abcde");
    CHECK(!enc.fatal, "encoding fits");
    CHECK(apir_encoder_used(&enc) == 4 + 4 + 8 + 8 + 8, "used %zu", apir_encoder_used(&enc));
    CHECK(buf[0] == 7 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0, "a byte's slot is zero-padded");
    CHECK(buf[29] == 0 && buf[30] == 0 && buf[31] == 0, "a string's tail is zero-padded");

    struct apir_decoder dec;
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    char s[16];
    CHECK(apir_decode_u8(&dec) == 7, "u8 round trip");
    CHECK(apir_decode_bool(&dec) == true, "bool round trip");
    CHECK(apir_decode_u64(&dec) == 0x1122334455667788ull, "u64 round trip");
    CHECK(apir_decode_string(&dec, s, sizeof s) && strcmp(s, "abcde") == 0, "string round trip");
    CHECK(!dec.fatal && apir_decoder_remaining(&dec) == 0, "whole stream consumed");
}

static void test_encoder_bounds(void)
{
    uint8_t buf[12];
    memset(buf, 0xAA, sizeof buf);
    struct apir_encoder enc;
    apir_encoder_init(&enc, buf, 8);
    apir_encode_u32(&enc, 1);
    apir_encode_u64(&enc, 2); /* does not fit in the 4 bytes left */
    CHECK(enc.fatal, "overflow sets fatal");
    CHECK(buf[4] == 0xAA && buf[8] == 0xAA, "nothing written past the fit");
    apir_encode_u32(&enc, 3);
    CHECK(apir_encoder_used(&enc) == 4, "fatal is sticky: later items are dropped");
    CHECK(apir_encode_reserve(&enc, 0) == NULL, "reserve fails once fatal");
}

static void test_decoder_bounds(void)
{
    const uint32_t words[2] = { 5, 6 };
    struct apir_decoder dec;
    apir_decoder_init(&dec, words, 6); /* a truncated second word */
    CHECK(apir_decode_u32(&dec) == 5, "first word");
    CHECK(apir_decode_u32(&dec) == 0 && dec.fatal, "a read past the end gives 0 and sets fatal");
    apir_decoder_init(&dec, words, sizeof words);
    CHECK(apir_decode_inplace(&dec, SIZE_MAX) == NULL && dec.fatal, "a huge in-place size is refused");
    apir_decoder_init(&dec, words, sizeof words);
    CHECK(apir_decode_inplace(&dec, 5) != NULL && apir_decoder_remaining(&dec) == 0, "5 bytes take 8 with padding");
    apir_decoder_init(&dec, words, sizeof words);
    CHECK(apir_decode_inplace(&dec, 9) == NULL && dec.fatal, "9 bytes (12 padded) do not fit in 8");
}

static void encode_raw_string(struct apir_encoder *enc, uint64_t len, const char *bytes, size_t n)
{
    apir_encode_u64(enc, len);
    apir_encode_bytes(enc, bytes, n);
}

static void test_bad_strings(void)
{
    uint8_t buf[64];
    struct apir_encoder enc;
    struct apir_decoder dec;
    char out[8];

    apir_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 0, "", 0);
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    CHECK(!apir_decode_string(&dec, out, sizeof out) && dec.fatal, "length 0 is refused");

    apir_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 12, "hello world", 12);
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    CHECK(!apir_decode_string(&dec, out, sizeof out) && dec.fatal && out[0] == '\0',
          "a string longer than the buffer is refused");

    apir_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 4, "abcd", 4);
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    CHECK(!apir_decode_string(&dec, out, sizeof out) && dec.fatal, "a string without its NUL is refused");

    apir_encoder_init(&enc, buf, sizeof buf);
    encode_raw_string(&enc, 40, "abc", 4);
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    char big[64];
    CHECK(!apir_decode_string(&dec, big, sizeof big) && dec.fatal, "a length past the stream is refused");
}

static void test_wire_layouts(void)
{
    CHECK(offsetof(struct apir_wire_tensor, buffer) == 16, "wire tensor buffer at 16");
    CHECK(offsetof(struct apir_wire_tensor, ne) == 24, "wire tensor ne at 24");
    CHECK(offsetof(struct apir_wire_tensor, op) == 56, "wire tensor op at 56");
    CHECK(offsetof(struct apir_wire_tensor, flags) == 124, "wire tensor flags at 124");
    CHECK(offsetof(struct apir_wire_tensor, src) == 128, "wire tensor src at 128");
    CHECK(offsetof(struct apir_wire_tensor, data) == 224, "wire tensor data at 224");
    CHECK(offsetof(struct apir_wire_tensor, name) == 232, "wire tensor name at 232");
    CHECK(offsetof(struct apir_inline_tensor, op) == 80, "inline tensor op at 80");
    CHECK(offsetof(struct apir_inline_tensor, src) == 152, "inline tensor src at 152");
    CHECK(offsetof(struct apir_inline_tensor, name) == 256, "inline tensor name at 256");
    CHECK(offsetof(struct apir_inline_tensor, extra) == 320, "inline tensor extra at 320");
    CHECK(strcmp(apir_call_name(APIR_CALL_BACKEND_GRAPH_COMPUTE), "backend_graph_compute") == 0, "call names");
    CHECK(strcmp(apir_call_name(99), "unknown") == 0, "unknown call name");
}

/* a list of handles: its count, then that many, in the stream's 4-byte
 * slots; a count over its bound fails both sides */
static void test_handles(void)
{
    uint8_t buf[256];
    struct apir_encoder enc;
    struct apir_decoder dec;
    const struct apir_msg_handles sent = { .value = { .count = 2, .items = { 2, 0x123456789ull } } };
    struct apir_msg_handles got = { .value = { .count = 0 } };
    apir_encoder_init(&enc, buf, sizeof buf);
    apir_encode_msg_handles(&enc, &sent);
    CHECK(!enc.fatal && apir_encoder_used(&enc) == 4 + 2 * 8, "two handles take 20 bytes");
    apir_decoder_init(&dec, buf, apir_encoder_used(&enc));
    apir_decode_msg_handles(&dec, &got);
    CHECK(!dec.fatal && got.value.count == 2 && got.value.items[0] == 2 && got.value.items[1] == 0x123456789ull,
          "handles round trip");
    const uint32_t too_many = APIR_MAX_HANDLES + 1;
    apir_decoder_init(&dec, (const uint8_t *)&too_many, sizeof too_many);
    apir_decode_msg_handles(&dec, &got);
    CHECK(dec.fatal && got.value.count == 0, "a count over APIR_MAX_HANDLES is refused");
    const struct apir_msg_handles bad = { .value = { .count = too_many } };
    apir_encoder_init(&enc, buf, sizeof buf);
    apir_encode_msg_handles(&enc, &bad);
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
