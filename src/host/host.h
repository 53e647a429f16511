/* libggml-virtgpu-backend: internal state of the host library.
 *
 * One host_ctx per APIR context. Everything the guest names (buffers,
 * buffer types) is an opaque handle looked up in the context's own tables;
 * nothing the guest sends is ever used as a host pointer.
 *
 * Files, each using only those listed after it: host.c (entry points,
 * context table), dispatch.c (the call table), calls.c (one handler per
 * call), graph-cache.c, capture.c (traffic written out for the fuzz corpus), index-check.c
 * (indices a graph reads), decode.c (tensors and graphs from the wire), op-table.c (the ops
 * the host runs), ggml-lib.c (the real GGML library), extra-buft.c (the device's extra
 * buffer types), pinned.c (shared memory pinned for the device's copies), handles.c
 * (buffer handles, shared memory), log.c. */
#ifndef HOST_H
#define HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "apir-calls.h"
#include "apir-codec.h"
#include "apir/backend-abi.h"
#include "apir/protocol.h"
#include "ggml-backend-impl.h"
#include "ggml-backend.h"
#include "ggml.h"
#include "log.h"

/* The buffer type handle of a context's device's default type; extra type
 * i (extra-buft.c) is HOST_BUFT_HANDLE + 1 + i. */
#define HOST_BUFT_HANDLE 1u
/* at most this many extra buffer types are offered (the wire's bound) */
#define HOST_MAX_EXTRA_BUFTS APIR_MAX_HANDLES

struct host_buffer_slot {
    ggml_backend_buffer_t buffer; /* NULL when the slot is free */
    bool guest_memory;            /* it wraps memory the guest shares */
    uint32_t generation;          /* bumped on free: stale handles miss */
    uint32_t next_free;           /* free slots form a list: index + 1, 0 ends it */
    uint64_t charged;             /* bytes counted against the memory quota */
};

/* A context's limits (names.h, APIR_LIMITS; 0: none). */
struct host_limits {
    uint64_t context_memory; /* bytes of the buffers it allocates */
    uint64_t buffers;        /* buffers it holds at once */
    uint64_t graph_nodes;    /* tensors of one graph */
};

/* The writes of the ext_graph_run in progress, in order. Those of at most
 * HOST_WRITE_COPY_MAX bytes go to the device from a private copy, which the
 * index checks then read instead of reading device memory back (the copy
 * is what the device got: the guest cannot change it meanwhile). */
#define HOST_WRITE_COPY_MAX (64u << 10)
struct host_write_record {
    uintptr_t start; /* the device address the write began at */
    size_t size;
    const uint8_t *copy; /* NULL: written straight from shared memory */
};
struct host_writes_seen {
    uint32_t count;
    struct host_write_record items[APIR_MAX_WRITES];
    ggml_backend_buffer_t area; /* APIR_MAX_WRITES copies, pinned when the device can */
    size_t used;
};

/* Shared memory pinned for the device's copies (pinned.c). */
#define HOST_PIN_MAX_BLOBS 4
typedef int (*host_pin_register_fn)(void *ptr, size_t size, unsigned int flags);
typedef int (*host_pin_unregister_fn)(void *ptr);
typedef int (*host_pin_clear_error_fn)(void);
struct host_pin {
    uint32_t res_id;
    uint8_t *ptr;
    size_t size;
    bool pinned; /* false: registering it failed (not tried again) */
};
struct host_pins {
    host_pin_register_fn register_fn; /* NULL: nothing is pinned */
    host_pin_unregister_fn unregister_fn;
    host_pin_clear_error_fn clear_error_fn;
    uint32_t count;
    struct host_pin items[HOST_PIN_MAX_BLOBS];
};

typedef void (*host_threadpool_free_fn)(struct ggml_threadpool *);

struct host_ctx {
    uint32_t ctx_id;
    struct apir_callbacks cbs;
    bool shmem_size_known;        /* cbs.get_shmem_size may be called */

    void *ggml_library;           /* dlopen handle of ggml.library.path */
    ggml_backend_reg_t reg;
    ggml_backend_dev_t dev;
    ggml_backend_t backend;
    struct ggml_threadpool *threadpool;      /* a CPU backend's threads, kept between computes; NULL: none */
    host_threadpool_free_fn threadpool_free; /* the GGML library's */
    ggml_backend_buffer_type_t buft;
    /* the device's extra buffer types that this host offers (extra-buft.c) */
    ggml_backend_buffer_type_t extra_bufts[HOST_MAX_EXTRA_BUFTS];
    uint32_t n_extra_bufts;
    struct ggml_context *call_ctx; /* tensors of one call (calls.c) */
    /* pinned host memory for large tensor transfers (devices that have a
     * host buffer type, e.g. CUDA's): a copy between device and pinned
     * memory runs at DMA speed, one between pinned and shared memory at
     * memcpy speed; straight to the guest's pageable shared memory the
     * driver stages it slowly itself */
    ggml_backend_buffer_t staging;
    struct host_writes_seen writes_seen;
    struct host_pins pins;

    struct host_buffer_slot *slots;
    uint32_t n_slots;
    uint32_t cap_slots;
    uint32_t free_slots;          /* head of the free list: index + 1, 0: empty */
    uint32_t n_buffers;           /* slots in use */
    uint64_t memory_used;         /* sum of the slots' charged bytes */
    uint64_t tensor_bytes_in;     /* tensor data written from guest memory */
    uint64_t tensor_bytes_out;    /* and read into it */

    struct host_limits limits;
    bool detailed_errors;         /* the guest asked for APIR_CALL_ERRORS codes */
    uint32_t refusal;             /* why the current call fails, 0: not known */
    uint8_t *reply_page;          /* the current call's reply payload (shared memory) */
    size_t reply_page_size;
    _Atomic uint32_t *accept_word; /* set to 1 once the work is taken (ext_graph_run_async); NULL: none */

    struct host_id_map *id_map;   /* scratch of the graph decoder */
    struct host_graph_cache *graphs; /* graph-cache.c */
    struct host_capture *capture;    /* capture.c; NULL: not capturing */
};

/* ---- refusals ---- */
/* Notes why the current call is refused, an APIR_CALL_ERRORS code, where
 * the check that failed knows it: the call answers with it (dispatch.c)
 * when it fails. The first note of a call counts. */
static inline void host_refuse(struct host_ctx *ctx, uint32_t code)
{
    if (ctx->refusal == 0) {
        ctx->refusal = code;
    }
}

/* ---- logging (log.c) ---- */
/* With APIR_LLAMA_CPP_LOG_TO_FILE set, the GGML library logs there too. */
void host_route_ggml_log(void);

/* ---- the device's extra buffer types (extra-buft.c) ---- */
/* Finds the extra buffer types of ctx->dev that this host offers: those
 * whose tensors it knows how to check (ggml-cpu's repacking type). */
void host_extra_bufts_find(struct host_ctx *ctx);
/* The buffer type a guest's handle names, default or extra; NULL (logged,
 * noted) for a handle it does not have. */
ggml_backend_buffer_type_t host_buft_from_handle(struct host_ctx *ctx, uint64_t handle, const char *call);
/* Whether the buffer is one of an extra buffer type (NULL: no). */
bool host_buffer_is_extra(const struct host_ctx *ctx, ggml_backend_buffer_t buffer);
/* Whether a tensor of the guest (its buffer set, its view source not
 * linked) may live in its extra buffer as what it is: a weight ggml's
 * repacking type takes, laid out as that type's kernels read it. Sets the
 * tensor's extra (the buffer's init_tensor) when so; says why not (`why`,
 * naming the tensor) when not. */
bool host_extra_tensor_ok(struct ggml_tensor *t, char *why, size_t size);
/* Whether the graph uses its tensors in extra buffers only as the weights
 * (first source) of MUL_MAT / MUL_MAT_ID, with their extra set; when not,
 * logs which node is wrong and notes APIR_CALL_NOT_ALLOWED. */
bool host_graph_extra_ok(struct host_ctx *ctx, struct ggml_cgraph *graph);

/* ---- buffer handles and shared memory (handles.c) ---- */
/* Reads the context's limits from its configuration; false (logged) when
 * a value is invalid. */
bool host_read_limits(struct host_ctx *ctx);
/* Whether one more buffer of `bytes` (0 for memory the context does not
 * allocate) keeps the context within its limits; when not, logs which
 * limit and how to raise it, and notes APIR_CALL_OVER_LIMIT. */
bool host_buffer_admit(struct host_ctx *ctx, uint64_t bytes, const char *call);
/* Adds a buffer: its handle, or 0 when out of memory. O(1). Its size is
 * charged to the memory quota unless it wraps memory the guest shares
 * (guest_memory: the guest may change it meanwhile). */
uint64_t host_buffer_add(struct host_ctx *ctx, ggml_backend_buffer_t buffer, bool guest_memory);
bool host_buffer_wraps_guest_memory(const struct host_ctx *ctx, ggml_backend_buffer_t buffer);
ggml_backend_buffer_t host_buffer_get(struct host_ctx *ctx, uint64_t handle);
/* removes and returns the buffer (its bytes no longer charged), or NULL
 * for an unknown handle */
ggml_backend_buffer_t host_buffer_remove(struct host_ctx *ctx, uint64_t handle);
/* the base address the guest computes tensor offsets from */
uint64_t host_buffer_guest_base(uint64_t handle);
uint32_t host_buffer_count(const struct host_ctx *ctx);
void host_buffers_free_all(struct host_ctx *ctx);
/* The host mapping of resource res_id holding at least `need` bytes, or NULL
 * (logged) when the resource is unknown or too small. */
void *host_shmem(struct host_ctx *ctx, uint32_t res_id, uint64_t need);

/* ---- shared memory pinned for the device's copies (pinned.c) ---- */
/* Finds the device runtime's register function in the GGML library, for a
 * device with pinned host memory, unless ENV_NO_PIN turns it off. */
void host_pins_start(struct host_ctx *ctx);
/* Unregisters every pinned blob. */
void host_pins_stop(struct host_ctx *ctx);
/* Whether blob res_id, mapped at base, is pinned: registered on its first
 * use here (within the bounds of pinned.c). */
bool host_shmem_pinned(struct host_ctx *ctx, uint32_t res_id, uint8_t *base);

/* ---- the GGML library (ggml-lib.c) ---- */
/* Opens ggml.library.path and finds its registration function; an
 * apir_load_library_code (logged with the seed's message on failure). */
uint32_t host_open_ggml_library(struct host_ctx *ctx, ggml_backend_init_t *init);
/* Registers the library and starts device 0; an apir_backend_init_code. */
uint32_t host_start_backend(struct host_ctx *ctx, ggml_backend_init_t init);
/* Runs the context on device `index` of its GGML library; false (logged) if
 * there is no such device or it does not start. */
bool host_bind_device(struct host_ctx *ctx, size_t index);
void host_stop_backend(struct host_ctx *ctx);
/* Notes that a call of ctx runs: a GGML abort meanwhile is logged as its
 * context's (the abort callback has no context of its own). */
void host_note_running(const struct host_ctx *ctx);

/* ---- tensors and graphs from the wire (decode.c) ---- */
/* Builds a tensor in mem_ctx from a wire tensor after validating its type,
 * op, shape, buffer handle and extent; NULL (logged) when invalid. Sources
 * are not linked. */
struct ggml_tensor *host_tensor_from_wire(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                          const struct apir_wire_tensor *w, bool need_data);
/* Builds an inline tensor (supports_op, get_alloc_size) with its sources. */
struct ggml_tensor *host_inline_tensor(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                       const struct apir_inline_op *op);
/* Decodes a serialized graph of `size` bytes at `data` (which must not
 * change meanwhile) into a new ggml context *mem that holds its tensors and
 * the cgraph, with the guest's use counts of its nodes if use_counts; NULL
 * (logged) when invalid or when a node is one the op table refuses or the
 * device does not support. */
struct ggml_cgraph *host_graph_from_wire(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                         bool use_counts, struct ggml_context **mem);
void host_graph_scratch_free(struct host_ctx *ctx);

/* ---- traffic written out for the fuzz corpus (capture.c) ---- */
/* Starts capturing the context's calls when GGML_VIRTGPU_CAPTURE_DIR is
 * set; every other host_capture_ function does nothing unless it is. */
void host_capture_start(struct host_ctx *ctx);
void host_capture_stop(struct host_ctx *ctx);
/* a forwarded call: its request, the shared memory it reads, its end */
void host_capture_call(struct host_ctx *ctx, uint32_t call, const void *request, size_t size);
void host_capture_shmem(struct host_ctx *ctx, uint32_t res_id, const void *ptr, uint64_t need);
void host_capture_call_end(struct host_ctx *ctx);
/* a graph the guest sent, with the sizes of the buffers it names */
void host_capture_graph(struct host_ctx *ctx, const uint8_t *data, uint64_t size);

/* ---- the ops the host runs (op-table.c) ---- */
/* Room for a refusal's reason with the shapes it concerns. */
#define HOST_OP_WHY_SIZE 512
/* Whether the table of accepted ops takes tensor t, built by the decoder
 * (type and op in range) with its sources and view source linked: its op
 * is one the host runs, with the sources, types, shapes and op_params
 * ggml's constructor for that op gives. When not, `why` says what is
 * wrong, naming the tensor and its op. */
bool host_op_accepted(const struct ggml_tensor *t, char *why, size_t size);

/* ---- indices a graph reads (index-check.c) ---- */
struct host_index_checks;
/* Traces the indices each GET_ROWS, SET_ROWS, MUL_MAT_ID and ADD_ID node
 * reads: those the guest wrote are to be checked before every run (*out),
 * those the graph computes must be proven in range now. false (logged)
 * when some can be neither. */
bool host_index_checks_plan(struct host_ctx *ctx, struct ggml_cgraph *graph, struct host_index_checks **out);
/* Whether every index the guest wrote lies in its range; logged when not.
 * seen: the writes of this call, whose copies stand for device memory they
 * wrote whole, or NULL. */
bool host_index_checks_pass(struct host_ctx *ctx, const struct host_index_checks *checks,
                            const struct host_writes_seen *seen);
void host_index_checks_free(struct host_index_checks *checks);

/* ---- graphs the guest sent, decoded and kept (graph-cache.c) ---- */
struct host_graph {
    struct ggml_cgraph *cgraph;
    struct host_index_checks *index_checks; /* of the indices the guest wrote */
};

/* The graph of `size` bytes at `data` (guest-shared memory), decoded once
 * and kept: a graph the guest sends again, byte for byte, runs as the same
 * cgraph (tensor structs at the same addresses, the same uid), so a GPU
 * backend replays what it captured. use_counts: the wire's use counts are
 * the guest's (ext_graph_run), and the backend may fuse by them. NULL
 * (logged) when invalid. */
const struct host_graph *host_graph_cache_get(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                              uint64_t key, bool use_counts);
/* The kept graph the guest named with a non-zero key (its own choice, the
 * graph's uid in the guest) when it sent it, or NULL. A key only picks
 * among graphs this guest sent and the host validated. */
const struct host_graph *host_graph_cache_find(struct host_ctx *ctx, uint64_t key);
/* Forgets every kept graph: before a buffer they may point into is freed. */
void host_graph_cache_clear(struct host_ctx *ctx);
void host_graph_cache_free(struct host_ctx *ctx);

/* ---- forwarded calls (calls.c: one handler per call of APIR_CALLS) ---- */
/* Room for the tensors of one call: a tensor and its sources, or two. */
#define HOST_CALL_TENSORS (2 + APIR_MAX_SRC)
#define HOST_DECLARE_CALL(NAME, number, name, request, reply) \
    uint32_t host_call_##name(struct host_ctx *ctx, const struct apir_msg_##request *req, struct apir_msg_##reply *out);
APIR_CALLS(HOST_DECLARE_CALL)
#undef HOST_DECLARE_CALL

/* ---- the call table (dispatch.c) ---- */
uint32_t host_dispatch(struct host_ctx *ctx, uint32_t call, struct apir_decoder *dec, struct apir_encoder *enc);

#endif
