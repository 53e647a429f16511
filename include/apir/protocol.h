/* APIR wire protocol 0.2: the constants and layouts shared by the guest
 * frontend, the hypervisor's APIR component and the host library.
 *
 * Everything here is wire format, compatible with llama.cpp's ggml-virtgpu:
 * values are little-endian, the command stream is made of 4-byte slots.
 * See docs/protocol.md for the byte layout of every command. */
#ifndef APIR_PROTOCOL_H
#define APIR_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIR_PROTOCOL_MAJOR 0u
#define APIR_PROTOCOL_MINOR 2u
#define APIR_HANDSHAKE_MAGIC 0xab1eu

/* ---- virtio-gpu capability sets ---------------------------------------- */

#define APIR_CAPSET_ID_APIR 10u
#define APIR_CAPSET_ID_VENUS 4u
/* A guest on the Venus capset adds this to every command type; a host that
 * routes Venus to APIR subtracts it. */
#define APIR_VENUS_COMMAND_OFFSET 331u

/* The capability set an APIR host reports (24 bytes). */
struct wire_capset {
    uint32_t wire_version;            /* 1 */
    uint32_t supports_blob_resources; /* 1 */
    uint32_t reserved[4];
};

/* Whether caps is an APIR host's: a Venus capset not routed to APIR (whose
 * second word is a Vulkan version) is not. */
bool wire_capset_valid(const struct wire_capset *caps);
/* Fills the APIR host's capset when capset_id is APIR's, or Venus's with
 * venus_routed; false (nothing written) for any other. */
bool wire_capset_fill(uint32_t capset_id, bool venus_routed, struct wire_capset *out);

/* ---- command header ---------------------------------------------------- */

/* Every command starts with three u32: type, flags, reply resource id. */
enum wire_command_type {
    APIR_CMD_HANDSHAKE = 0,
    APIR_CMD_LOAD_LIBRARY = 1,
    APIR_CMD_FORWARD = 2,
    APIR_CMD_TYPE_COUNT = 3,
};

#define APIR_COMMAND_HEADER_SIZE 12u

/* The reply resource: a notification word (0 while pending, 1 + return code
 * when done), then the reply payload. */
#define APIR_REPLY_NOTIFY_OFFSET 0u
#define APIR_REPLY_PAYLOAD_OFFSET 4u
/* What the hypervisor writes into a pending reply's notification word when
 * the host context is gone (its process ended): no return code is this
 * large, and a guest that does not know it reads a failed call. */
#define APIR_REPLY_HOST_LOST 0xffffffffu
/* ext_graph_run_async: where the acceptance word is in a reply payload of
 * payload_size bytes (its last aligned word), or 0 when the payload is too
 * small to hold it past the reply's own bytes (the call then just runs). */
#define APIR_ACCEPT_MIN_OFFSET 64u
static inline size_t wire_accept_word_offset(size_t payload_size)
{
    const size_t at = payload_size >= 4 ? (payload_size - 4) & ~(size_t)3 : 0;
    return at >= APIR_ACCEPT_MIN_OFFSET ? at : 0;
}

/* ---- return codes ------------------------------------------------------ */

enum apir_load_library_code {
    APIR_LOAD_LIBRARY_SUCCESS = 0,
    APIR_LOAD_LIBRARY_HYPERCALL_INITIALIZATION_ERROR = 1,
    APIR_LOAD_LIBRARY_ALREADY_LOADED = 2,
    APIR_LOAD_LIBRARY_ENV_VAR_MISSING = 3,
    APIR_LOAD_LIBRARY_CANNOT_OPEN = 4,
    APIR_LOAD_LIBRARY_SYMBOL_MISSING = 5,
    /* codes >= 6 are 6 + the backend library's own initialize code */
    APIR_LOAD_LIBRARY_INIT_BASE_INDEX = 6,
};

/* The numbers are llama.cpp's. Not sent, so not named: 0 (a call that
 * reached the host library is answered 4 + its code) and 2 (TIMEOUT,
 * which llama.cpp's guest makes up itself when no reply comes). */
enum wire_forward_code {
    APIR_FORWARD_NO_DISPATCH_FCT = 1,
    APIR_FORWARD_FAILED_TO_SYNC_STREAMS = 3,
    /* codes >= 4 are 4 + the forwarded call's own return code */
    APIR_FORWARD_BASE_INDEX = 4,
};

/* What the host library's initialize returns past APIR_LOAD_LIBRARY_INIT_BASE_INDEX.
 * The numbers are llama.cpp's; 1 to 4 (a library that cannot be opened or
 * lacks symbols) are returned by no host library, neither ours nor
 * llama.cpp's, which answer those with the load codes 3 to 5 instead. */
enum apir_backend_init_code {
    APIR_BACKEND_INIT_SUCCESS = 0,
    APIR_BACKEND_INIT_BACKEND_FAILED = 5,
    APIR_BACKEND_INIT_BACKEND_REG_FAILED = 6,
    APIR_BACKEND_INIT_ALREADY_INITED = 7,
    APIR_BACKEND_INIT_NO_DEVICE = 8,
    APIR_BACKEND_INIT_BACKEND_INIT_FAILED = 9,
};

/* A forwarded call's return code (past APIR_FORWARD_BASE_INDEX). */
#define APIR_CALL_OK 0u
#define APIR_CALL_FAILED 1u
#define APIR_CALL_INVALID_INDEX 6u

/* Why the host refused a call: answered, instead of APIR_CALL_FAILED, only
 * to a guest that asked for them (ext_error_codes); llama.cpp's frontend
 * and host know only 0, 1 and 6. X(NAME, number, what the guest logs) */
#define APIR_CALL_ERRORS(X)                                                                  \
    X(UNKNOWN_HANDLE, 16, "unknown handle (a buffer or buffer type it does not have)")      \
    X(OUT_OF_RANGE, 17, "out of range (bytes outside a tensor, buffer or blob; an index past its rows)") \
    X(OVER_LIMIT, 18, "over a limit (memory quota, buffer count, graph or command size)")   \
    X(NOT_ALLOWED, 19, "op not allowed (not in the host's op table, or not on its device)") \
    X(MALFORMED, 20, "malformed request")

#define APIR_CALL_ERROR_ENTRY(NAME, number, what) APIR_CALL_##NAME = number,
enum wire_call_error { APIR_CALL_ERRORS(APIR_CALL_ERROR_ENTRY) };
#undef APIR_CALL_ERROR_ENTRY

/* what a return code means ("over a limit (...)"), or NULL for a code that
 * is not one of APIR_CALL_ERRORS */
const char *wire_call_error_text(uint32_t code);

/* ---- forwarded ggml calls (the flags word of a FORWARD command) -------- */

/* THE list of forwarded calls: X(NAME, number, name, request, reply).
 * request and reply name message layouts of src/codec/wire-calls.h; the
 * enum, the names, the host's dispatch and the guest's typed callers are
 * all generated from this list. Numbers 0..22 are llama.cpp's APIR 0.2
 * calls (but 13). Numbers 0x5647xxxx are this project's extensions: llama.cpp's own
 * host refuses them (APIR_CALL_INVALID_INDEX), so a guest learns whether
 * its peer has one by trying it (docs/protocol.md). */
#define APIR_CALLS(X)                                                                         \
    X(DEVICE_GET_DEVICE_COUNT, 0, device_get_device_count, none, i32)                         \
    X(DEVICE_GET_COUNT, 1, device_get_count, none, i32)                                       \
    X(DEVICE_GET_NAME, 2, device_get_name, none, string)                                      \
    X(DEVICE_GET_DESCRIPTION, 3, device_get_description, none, string)                        \
    X(DEVICE_GET_TYPE, 4, device_get_type, none, u32)                                         \
    X(DEVICE_GET_MEMORY, 5, device_get_memory, none, memory)                                  \
    X(DEVICE_SUPPORTS_OP, 6, device_supports_op, op, boolean)                                 \
    X(DEVICE_GET_BUFFER_TYPE, 7, device_get_buffer_type, none, u64)                           \
    X(DEVICE_GET_PROPS, 8, device_get_props, none, props)                                     \
    X(DEVICE_BUFFER_FROM_PTR, 9, device_buffer_from_ptr, from_ptr, buffer_and_type)           \
    X(BUFFER_TYPE_GET_NAME, 10, buffer_type_get_name, u64, string)                            \
    X(BUFFER_TYPE_GET_ALIGNMENT, 11, buffer_type_get_alignment, u64, u64)                     \
    X(BUFFER_TYPE_GET_MAX_SIZE, 12, buffer_type_get_max_size, u64, u64)                       \
    /* 13 is llama.cpp's buffer_type_is_host, deprecated: neither frontend                 \
     * sends it, and this host answers it as any unknown call */                            \
    X(BUFFER_TYPE_ALLOC_BUFFER, 14, buffer_type_alloc_buffer, alloc, u64)                     \
    X(BUFFER_TYPE_GET_ALLOC_SIZE, 15, buffer_type_get_alloc_size, buft_op, u64)               \
    X(BUFFER_GET_BASE, 16, buffer_get_base, u64, u64)                                         \
    X(BUFFER_SET_TENSOR, 17, buffer_set_tensor, tensor_io, none)                              \
    X(BUFFER_GET_TENSOR, 18, buffer_get_tensor, tensor_io, none)                              \
    X(BUFFER_CPY_TENSOR, 19, buffer_cpy_tensor, copy, boolean)                                \
    X(BUFFER_CLEAR, 20, buffer_clear, clear, none)                                            \
    X(BUFFER_FREE_BUFFER, 21, buffer_free_buffer, u64, none)                                  \
    X(BACKEND_GRAPH_COMPUTE, 22, backend_graph_compute, graph, i32)                           \
    /* the number of devices of the host's GGML library */                                   \
    X(EXT_DEVICE_COUNT, 0x56470001, ext_device_count, none, i32)                              \
    /* binds this context to device u32 (before any buffer exists); a new                    \
     * context starts on device 0 */                                                         \
    X(EXT_BIND_DEVICE, 0x56470002, ext_bind_device, u32, none)                                \
    /* small set_tensor writes, queued by the guest and sent together */                     \
    X(EXT_SET_TENSORS, 0x56470003, ext_set_tensors, writes, none)                             \
    /* the queued writes, then a graph: sent whole, or (size 0) the graph                    \
     * kept under the key; kept = false when there is none (nothing done) */                \
    X(EXT_GRAPH_RUN, 0x56470004, ext_graph_run, graph_run, graph_result)                      \
    /* from now on, a refused call answers with its APIR_CALL_ERRORS code */                  \
    X(EXT_ERROR_CODES, 0x56470005, ext_error_codes, none, none)                               \
    /* the handles of the device's extra buffer types that the host offers                   \
     * (ggml-cpu's repacking type): a tensor of one is written whole, once,                  \
     * and never read back */                                                                \
    X(EXT_EXTRA_BUFTS, 0x56470006, ext_extra_bufts, none, handles)                            \
    /* supports_op with the op's first source in a buffer of type buft: what                 \
     * llama.cpp asks to place a weight (device_supports_op tells no buffers) */             \
    X(EXT_BUFT_SUPPORTS_OP, 0x56470007, ext_buft_supports_op, buft_op, boolean)              \
    /* ext_graph_run that says when the host has taken the work (its writes                  \
     * run, its graph found or validated, its indices checked): the host sets                \
     * the last word of the reply page (wire_accept_word_offset) to 1 then,                  \
     * before it computes, and the reply word when done, as for any call */                  \
    X(EXT_GRAPH_RUN_ASYNC, 0x56470008, ext_graph_run_async, graph_run, graph_result)

#define APIR_CALL_ENUM_ENTRY(NAME, number, name, request, reply) APIR_CALL_##NAME = number,
enum wire_call { APIR_CALLS(APIR_CALL_ENUM_ENTRY) };
#undef APIR_CALL_ENUM_ENTRY

/* the calls of llama.cpp's protocol are 0 .. APIR_CALL_COUNT - 1 */
#define APIR_CALL_COUNT 23u
/* the first number of this project's extensions */
#define APIR_CALL_EXT_FIRST 0x56470000u

/* the calls numbered densely in list order, for per-call tables */
#define APIR_CALL_INDEX_ENTRY(NAME, number, name, request, reply) APIR_CALL_INDEX_##NAME,
enum wire_call_index { APIR_CALLS(APIR_CALL_INDEX_ENTRY) APIR_CALL_INDEX_COUNT };
#undef APIR_CALL_INDEX_ENTRY

/* the call's name ("device_get_name"), or "unknown" */
const char *wire_call_name(uint32_t call);
/* the call's wire_call_index, or -1 for a number not in the list */
int wire_call_index(uint32_t call);

/* ---- tensors on the wire ----------------------------------------------- */

#define APIR_MAX_DIMS 4
#define APIR_MAX_OP_PARAMS_I32 16
#define APIR_MAX_SRC 10
#define APIR_MAX_NAME 64

/* One tensor in set/get/cpy_tensor and in a serialized graph (304 bytes).
 * id, src[] and view_src identify tensors within one message; buffer is the
 * host's opaque buffer handle; data is the offset of the tensor's first byte
 * from the buffer's base. ne and nb are 32-bit on the wire. */
struct wire_tensor {
    uint64_t id;
    uint32_t type;
    uint32_t use_count; /* ext_graph_run graphs: ggml's use count of the tensor in the
                         * guest's whole graph (0 elsewhere; call 22 leaves it unset) */
    uint64_t buffer;
    uint32_t ne[APIR_MAX_DIMS];
    uint32_t nb[APIR_MAX_DIMS];
    uint32_t op;
    int32_t op_params[APIR_MAX_OP_PARAMS_I32];
    int32_t flags;
    uint64_t src[APIR_MAX_SRC];
    uint64_t view_src;
    uint64_t view_offs;
    uint64_t data;
    char name[APIR_MAX_NAME];
    uint8_t reserved1[8];
};

_Static_assert(sizeof(struct wire_tensor) == 304, "wire tensor is 304 bytes");

/* The tensor of supports_op / get_alloc_size: the layout of ggml's own
 * struct ggml_tensor at protocol 0.2 (336 bytes). Pointer fields only say
 * "present" (non-zero) or "absent"; the present ones follow it in the stream:
 * an 8-byte buffer handle, then the view source, then each source, each as
 * another wire_inline_tensor. */
struct wire_inline_tensor {
    uint32_t type;
    uint32_t reserved0;
    uint64_t buffer;
    int64_t ne[APIR_MAX_DIMS];
    uint64_t nb[APIR_MAX_DIMS];
    uint32_t op;
    int32_t op_params[APIR_MAX_OP_PARAMS_I32];
    int32_t flags;
    uint64_t src[APIR_MAX_SRC];
    uint64_t view_src;
    uint64_t view_offs;
    uint64_t data;
    char name[APIR_MAX_NAME];
    uint64_t extra;
    uint8_t reserved1[8];
};

_Static_assert(sizeof(struct wire_inline_tensor) == 336, "inline tensor is 336 bytes");

/* Sizes of the guest's long-lived shared-memory blobs. */
#define APIR_REPLY_BLOB_SIZE 0x4000u
#define APIR_DATA_BLOB_SIZE 0x1830000u

#endif
