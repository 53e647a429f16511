/* Bounds-checked encoder and decoder for the APIR command stream.
 *
 * The stream is made of 4-byte slots: every item is padded with zeros to a
 * multiple of 4 bytes. Neither side ever reads or writes past its buffer:
 * an item that does not fit sets the sticky `fatal` flag, writes nothing,
 * and reads as zero; the caller checks `fatal` once after a sequence. */
#ifndef APIR_CODEC_H
#define APIR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire_encoder {
    uint8_t *start;
    uint8_t *cur;
    uint8_t *end;
    bool fatal;
};

struct wire_decoder {
    const uint8_t *cur;
    const uint8_t *end;
    bool fatal;
};

void wire_encoder_init(struct wire_encoder *enc, void *buf, size_t size);
size_t wire_encoder_used(const struct wire_encoder *enc);

/* n bytes, then zeros up to the next multiple of 4 */
void wire_encode_bytes(struct wire_encoder *enc, const void *data, size_t n);
void wire_encode_u32(struct wire_encoder *enc, uint32_t v);
void wire_encode_i32(struct wire_encoder *enc, int32_t v);
void wire_encode_u64(struct wire_encoder *enc, uint64_t v);
/* a bool or a byte takes a whole 4-byte slot */
void wire_encode_bool(struct wire_encoder *enc, bool v);
void wire_encode_u8(struct wire_encoder *enc, uint8_t v);
/* u64 length including the terminating NUL, then the bytes, padded */
void wire_encode_string(struct wire_encoder *enc, const char *s);
/* Reserves n bytes (padded) and returns where to write them, or NULL. */
void *wire_encode_reserve(struct wire_encoder *enc, size_t n);

void wire_decoder_init(struct wire_decoder *dec, const void *buf, size_t size);
size_t wire_decoder_remaining(const struct wire_decoder *dec);

/* Copies n bytes out of the stream (and skips the padding). */
bool wire_decode_bytes(struct wire_decoder *dec, void *out, size_t n);
uint32_t wire_decode_u32(struct wire_decoder *dec);
int32_t wire_decode_i32(struct wire_decoder *dec);
uint64_t wire_decode_u64(struct wire_decoder *dec);
bool wire_decode_bool(struct wire_decoder *dec);
uint8_t wire_decode_u8(struct wire_decoder *dec);
/* Copies a string into out (capacity cap). Fails (fatal) when the length is
 * 0, larger than cap or past the stream, or the bytes lack the final NUL. */
bool wire_decode_string(struct wire_decoder *dec, char *out, size_t cap);
/* Points at the next n bytes in place and skips them (padded), or NULL. */
const void *wire_decode_inplace(struct wire_decoder *dec, size_t n);

#endif
