/* Encoders and decoders of the message layouts of wire-calls.h, generated
 * from their field lists: one function per field kind below. */
#include "wire-calls.h"

#include <string.h>

static void put_i32(struct wire_encoder *enc, const int32_t *v) { wire_encode_i32(enc, *v); }
static void get_i32(struct wire_decoder *dec, int32_t *v) { *v = wire_decode_i32(dec); }
static void put_u32(struct wire_encoder *enc, const uint32_t *v) { wire_encode_u32(enc, *v); }
static void get_u32(struct wire_decoder *dec, uint32_t *v) { *v = wire_decode_u32(dec); }
static void put_u64(struct wire_encoder *enc, const uint64_t *v) { wire_encode_u64(enc, *v); }
static void get_u64(struct wire_decoder *dec, uint64_t *v) { *v = wire_decode_u64(dec); }
static void put_bool(struct wire_encoder *enc, const bool *v) { wire_encode_bool(enc, *v); }
static void get_bool(struct wire_decoder *dec, bool *v) { *v = wire_decode_bool(dec); }
static void put_u8(struct wire_encoder *enc, const uint8_t *v) { wire_encode_u8(enc, *v); }
static void get_u8(struct wire_decoder *dec, uint8_t *v) { *v = wire_decode_u8(dec); }
static void put_string(struct wire_encoder *enc, const wire_field_string *v) { wire_encode_string(enc, *v); }
static void get_string(struct wire_decoder *dec, wire_field_string *v) { wire_decode_string(dec, *v, sizeof *v); }
static void put_tensor(struct wire_encoder *enc, const struct wire_tensor *v) { wire_encode_bytes(enc, v, sizeof *v); }
static void get_tensor(struct wire_decoder *dec, struct wire_tensor *v) { wire_decode_bytes(dec, v, sizeof *v); }

int wire_inline_op_n_src(const struct wire_inline_op *op)
{
    int n = 0;
    while (n < APIR_MAX_SRC && op->tensor.src[n] != 0) {
        n++;
    }
    return n;
}

static void put_inline_op(struct wire_encoder *enc, const struct wire_inline_op *op)
{
    wire_encode_bytes(enc, &op->tensor, sizeof op->tensor);
    if (op->tensor.buffer != 0) {
        wire_encode_u64(enc, op->buffer);
    }
    if (op->tensor.view_src != 0) {
        wire_encode_bytes(enc, &op->view_src, sizeof op->view_src);
    }
    for (int i = 0; i < wire_inline_op_n_src(op); i++) {
        wire_encode_bytes(enc, &op->src[i], sizeof op->src[i]);
    }
}

static void get_inline_op(struct wire_decoder *dec, struct wire_inline_op *op)
{
    memset(op, 0, sizeof *op); /* what is absent reads as zero */
    wire_decode_bytes(dec, &op->tensor, sizeof op->tensor);
    op->buffer = op->tensor.buffer != 0 ? wire_decode_u64(dec) : 0;
    if (op->tensor.view_src != 0) {
        wire_decode_bytes(dec, &op->view_src, sizeof op->view_src);
    }
    for (int i = 0; i < wire_inline_op_n_src(op) && !dec->fatal; i++) {
        wire_decode_bytes(dec, &op->src[i], sizeof op->src[i]);
    }
}

/* A list's count, then its first `count` items of item_size bytes; a
 * count over max fails the message (it bounds what a peer may send). */
static void put_list(struct wire_encoder *enc, uint32_t count, uint32_t max, const void *items, size_t item_size)
{
    wire_encode_u32(enc, count);
    if (count > max) {
        enc->fatal = true;
        return;
    }
    wire_encode_bytes(enc, items, item_size * count);
}

static void get_list(struct wire_decoder *dec, uint32_t *count, uint32_t max, void *items, size_t item_size)
{
    *count = wire_decode_u32(dec);
    if (*count > max) {
        dec->fatal = true;
        *count = 0;
        return;
    }
    wire_decode_bytes(dec, items, item_size * *count);
}

static void put_writes(struct wire_encoder *enc, const struct wire_tensor_writes *w)
{
    wire_encode_u32(enc, w->res_id);
    put_list(enc, w->count, APIR_MAX_WRITES, w->items, sizeof w->items[0]);
}

static void get_writes(struct wire_decoder *dec, struct wire_tensor_writes *w)
{
    w->res_id = wire_decode_u32(dec);
    get_list(dec, &w->count, APIR_MAX_WRITES, w->items, sizeof w->items[0]);
}

static void put_handles(struct wire_encoder *enc, const struct wire_handles *h)
{
    put_list(enc, h->count, APIR_MAX_HANDLES, h->items, sizeof h->items[0]);
}

static void get_handles(struct wire_decoder *dec, struct wire_handles *h)
{
    get_list(dec, &h->count, APIR_MAX_HANDLES, h->items, sizeof h->items[0]);
}

#define PUT_FIELD(kind, field) put_##kind(enc, &msg->field);
#define GET_FIELD(kind, field) get_##kind(dec, &msg->field);
#define DEFINE_CODEC(layout)                                                                      \
    void wire_encode_msg_##layout(struct wire_encoder *enc, const struct wire_msg_##layout *msg) \
    {                                                                                             \
        APIR_MSG_FIELDS_##layout(PUT_FIELD)                                                       \
    }                                                                                             \
    void wire_decode_msg_##layout(struct wire_decoder *dec, struct wire_msg_##layout *msg)       \
    {                                                                                             \
        APIR_MSG_FIELDS_##layout(GET_FIELD)                                                       \
    }
APIR_MESSAGES(DEFINE_CODEC)
