/* The request and reply of every forwarded call, one struct per message
 * layout with one encode and one decode function, used by the guest, the
 * host and the tests alike. include/apir/protocol.h names, per call, which
 * layouts its request and reply have.
 *
 * A layout is a list of F(kind, field): the struct has the fields in that
 * order, and the stream has them in that order, each in the codec's 4-byte
 * slots (wire-codec.h). Decoding never reads past the stream: a message
 * that does not fit leaves the decoder's `fatal` set. */
#ifndef APIR_CALLS_H
#define APIR_CALLS_H

#include "wire-codec.h"
#include "apir/protocol.h"

/* the longest string a reply carries, NUL included */
#define APIR_MAX_STRING 256

/* The tensor of supports_op / get_alloc_size with what follows it on the
 * wire: its buffer handle, its view source and its sources, each present
 * when the tensor's own field marks it (non-zero), sources up to the first
 * absent one. */
struct wire_inline_op {
    struct wire_inline_tensor tensor;
    uint64_t buffer;
    struct wire_inline_tensor view_src;
    struct wire_inline_tensor src[APIR_MAX_SRC];
};

/* Writes of tensor bytes that ride in one command: each takes its bytes
 * from [data_offset, data_offset + size) of shared-memory resource res_id
 * and puts them at [offset, offset + size) of its tensor, in order. */
#define APIR_MAX_WRITES 16

struct wire_tensor_write {
    uint64_t buffer;
    struct wire_tensor tensor;
    uint64_t data_offset;
    uint64_t offset;
    uint64_t size;
};

struct wire_tensor_writes {
    uint32_t res_id;
    uint32_t count; /* at most APIR_MAX_WRITES */
    struct wire_tensor_write items[APIR_MAX_WRITES];
};

/* A bounded list of handles (ext_extra_bufts). */
#define APIR_MAX_HANDLES 8

struct wire_handles {
    uint32_t count; /* at most APIR_MAX_HANDLES */
    uint64_t items[APIR_MAX_HANDLES];
};

/* The outputs of a graph run that come back with its reply (ext_graph_run):
 * the host copies the graph's nodes flagged GGML_TENSOR_FLAG_OUTPUT, in
 * node order, into the request's blob, each at the next multiple of
 * APIR_OUTPUT_ALIGN, while they fit its outputs_max bytes and are at most
 * APIR_MAX_OUTPUTS; the reply says how many. Both sides lay them out so. */
#define APIR_MAX_OUTPUTS 8
#define APIR_OUTPUT_ALIGN 64u

static inline uint64_t wire_output_offset(uint64_t used)
{
    return (used + APIR_OUTPUT_ALIGN - 1) / APIR_OUTPUT_ALIGN * APIR_OUTPUT_ALIGN;
}

/* the number of sources an inline op carries */
int wire_inline_op_n_src(const struct wire_inline_op *op);

/* ---- field kinds ---------------------------------------------------------- */

typedef int32_t wire_field_i32;
typedef uint32_t wire_field_u32;
typedef uint64_t wire_field_u64;
typedef bool wire_field_bool;
typedef uint8_t wire_field_u8; /* a whole slot */
typedef char wire_field_string[APIR_MAX_STRING];
typedef struct wire_tensor wire_field_tensor;
typedef struct wire_inline_op wire_field_inline_op;
typedef struct wire_tensor_writes wire_field_writes;
typedef struct wire_handles wire_field_handles;

/* ---- message layouts ------------------------------------------------------ */

#define APIR_MSG_FIELDS_i32(F) F(i32, value)
#define APIR_MSG_FIELDS_u32(F) F(u32, value)
#define APIR_MSG_FIELDS_u64(F) F(u64, value)
#define APIR_MSG_FIELDS_boolean(F) F(bool, value)
#define APIR_MSG_FIELDS_string(F) F(string, value)
#define APIR_MSG_FIELDS_memory(F) F(u64, free_bytes) F(u64, total_bytes)
/* device_buffer_from_ptr is not advertised here: see the host's get_props */
#define APIR_MSG_FIELDS_props(F) \
    F(bool, async) F(bool, host_buffer) F(bool, buffer_from_host_ptr) F(bool, events) F(bool, mmap_support)
#define APIR_MSG_FIELDS_op(F) F(inline_op, op)
#define APIR_MSG_FIELDS_buft_op(F) F(u64, buft) F(inline_op, op)
/* a buffer over shared-memory resource res_id, bytes [0, size) */
#define APIR_MSG_FIELDS_from_ptr(F) F(u32, res_id) F(u64, size) F(u64, max_tensor_size)
#define APIR_MSG_FIELDS_buffer_and_type(F) F(u64, buffer) F(u64, buft)
#define APIR_MSG_FIELDS_alloc(F) F(u64, buft) F(u64, size)
/* bytes [offset, offset + size) of the tensor, through the start of
 * shared-memory resource res_id */
#define APIR_MSG_FIELDS_tensor_io(F) \
    F(u64, buffer) F(tensor, tensor) F(u32, res_id) F(u64, offset) F(u64, size)
#define APIR_MSG_FIELDS_copy(F) F(u64, buffer) F(tensor, src) F(tensor, dst)
#define APIR_MSG_FIELDS_clear(F) F(u64, buffer) F(u8, value)
/* a serialized graph (wire-graph.h): the first size bytes of resource res_id */
#define APIR_MSG_FIELDS_graph(F) F(u32, res_id) F(u64, size)

#define APIR_MSG_FIELDS_writes(F) F(writes, writes)
/* a graph as in `graph` (size 0: the one kept under key), after the writes */
#define APIR_MSG_FIELDS_graph_run(F) F(writes, writes) F(u64, key) F(u32, res_id) F(u64, size) F(u64, outputs_max)
#define APIR_MSG_FIELDS_graph_result(F) F(i32, status) F(bool, kept) F(u32, outputs)
#define APIR_MSG_FIELDS_handles(F) F(handles, value)

/* every layout with fields (`none` has none) */
#define APIR_MESSAGES(M) \
    M(i32) M(u32) M(u64) M(boolean) M(string) M(memory) M(props) M(op) M(buft_op) M(from_ptr) \
    M(buffer_and_type) M(alloc) M(tensor_io) M(copy) M(clear) M(graph) M(writes) M(graph_run) M(graph_result) \
    M(handles)

#define APIR_MSG_FIELD_DECL(kind, field) wire_field_##kind field;
#define APIR_MSG_DECLARE(layout)                                                              \
    struct wire_msg_##layout {                                                                \
        APIR_MSG_FIELDS_##layout(APIR_MSG_FIELD_DECL)                                          \
    };                                                                                        \
    void wire_encode_msg_##layout(struct wire_encoder *enc, const struct wire_msg_##layout *msg); \
    void wire_decode_msg_##layout(struct wire_decoder *dec, struct wire_msg_##layout *msg);
APIR_MESSAGES(APIR_MSG_DECLARE)
#undef APIR_MSG_DECLARE
#undef APIR_MSG_FIELD_DECL

/* the empty message: nothing on the wire */
struct wire_msg_none {
    uint8_t unused;
};

static inline void wire_encode_msg_none(struct wire_encoder *enc, const struct wire_msg_none *msg)
{
    (void)enc;
    (void)msg;
}

static inline void wire_decode_msg_none(struct wire_decoder *dec, struct wire_msg_none *msg)
{
    (void)dec;
    msg->unused = 0;
}

#endif
