#include "wire-codec.h"

#include <string.h>

/* Items are padded to 4 bytes; n + 3 cannot overflow for any n that fits in
 * a buffer, but a guest-chosen n can be anything, hence the guard. */
static bool padded_size(size_t n, size_t *out)
{
    if (n > SIZE_MAX - 3) {
        return false;
    }
    *out = (n + 3) & ~(size_t)3;
    return true;
}

void wire_encoder_init(struct wire_encoder *enc, void *buf, size_t size)
{
    enc->start = buf;
    enc->cur = buf;
    enc->end = (uint8_t *)buf + size;
    enc->fatal = false;
}

size_t wire_encoder_used(const struct wire_encoder *enc)
{
    return (size_t)(enc->cur - enc->start);
}

void *wire_encode_reserve(struct wire_encoder *enc, size_t n)
{
    size_t padded;
    if (enc->fatal || !padded_size(n, &padded) || padded > (size_t)(enc->end - enc->cur)) {
        enc->fatal = true;
        return NULL;
    }
    uint8_t *at = enc->cur;
    memset(at + n, 0, padded - n);
    enc->cur += padded;
    return at;
}

void wire_encode_bytes(struct wire_encoder *enc, const void *data, size_t n)
{
    void *at = wire_encode_reserve(enc, n);
    if (at != NULL && n > 0) {
        memcpy(at, data, n);
    }
}

void wire_encode_u32(struct wire_encoder *enc, uint32_t v)
{
    wire_encode_bytes(enc, &v, sizeof v);
}

void wire_encode_i32(struct wire_encoder *enc, int32_t v)
{
    wire_encode_bytes(enc, &v, sizeof v);
}

void wire_encode_u64(struct wire_encoder *enc, uint64_t v)
{
    wire_encode_bytes(enc, &v, sizeof v);
}

void wire_encode_bool(struct wire_encoder *enc, bool v)
{
    wire_encode_u8(enc, v ? 1 : 0);
}

void wire_encode_u8(struct wire_encoder *enc, uint8_t v)
{
    wire_encode_bytes(enc, &v, 1);
}

void wire_encode_string(struct wire_encoder *enc, const char *s)
{
    const size_t n = strlen(s) + 1;
    wire_encode_u64(enc, n);
    wire_encode_bytes(enc, s, n);
}

void wire_decoder_init(struct wire_decoder *dec, const void *buf, size_t size)
{
    dec->cur = buf;
    dec->end = (const uint8_t *)buf + size;
    dec->fatal = false;
}

size_t wire_decoder_remaining(const struct wire_decoder *dec)
{
    return (size_t)(dec->end - dec->cur);
}

const void *wire_decode_inplace(struct wire_decoder *dec, size_t n)
{
    size_t padded;
    if (dec->fatal || !padded_size(n, &padded) || padded > wire_decoder_remaining(dec)) {
        dec->fatal = true;
        return NULL;
    }
    const uint8_t *at = dec->cur;
    dec->cur += padded;
    return at;
}

bool wire_decode_bytes(struct wire_decoder *dec, void *out, size_t n)
{
    const void *at = wire_decode_inplace(dec, n);
    if (at == NULL) {
        memset(out, 0, n);
        return false;
    }
    memcpy(out, at, n);
    return true;
}

uint32_t wire_decode_u32(struct wire_decoder *dec)
{
    uint32_t v;
    wire_decode_bytes(dec, &v, sizeof v);
    return v;
}

int32_t wire_decode_i32(struct wire_decoder *dec)
{
    return (int32_t)wire_decode_u32(dec);
}

uint64_t wire_decode_u64(struct wire_decoder *dec)
{
    uint64_t v;
    wire_decode_bytes(dec, &v, sizeof v);
    return v;
}

bool wire_decode_bool(struct wire_decoder *dec)
{
    return wire_decode_u8(dec) != 0;
}

uint8_t wire_decode_u8(struct wire_decoder *dec)
{
    uint8_t v;
    wire_decode_bytes(dec, &v, 1);
    return v;
}

bool wire_decode_string(struct wire_decoder *dec, char *out, size_t cap)
{
    const uint64_t n = wire_decode_u64(dec);
    if (dec->fatal || n == 0 || n > cap) {
        dec->fatal = true;
        if (cap > 0) {
            out[0] = '\0';
        }
        return false;
    }
    if (!wire_decode_bytes(dec, out, (size_t)n) || out[n - 1] != '\0') {
        dec->fatal = true;
        out[0] = '\0';
        return false;
    }
    return true;
}
