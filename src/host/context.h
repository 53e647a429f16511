/* libggml-virtgpu-backend: what one APIR context holds, in named parts.
 *
 * One host_ctx per APIR context (entry-points.c keeps the table of them).
 * Everything the guest names (buffers, buffer types, graphs) is an opaque
 * handle looked up in the context's own tables; nothing the guest sends is
 * ever used as a host pointer.
 *
 * Types and one inline helper only: each part's functions are declared by
 * the header of the module that works on it, so including this header ties
 * a file to no module. */
#ifndef HOST_CONTEXT_H
#define HOST_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire-calls.h"
#include "apir/backend-abi.h"
#include "ggml-backend.h"

/* The buffer type handle of a context's device's default type; extra type
 * i (extra-buft.c) is HOST_BUFT_HANDLE + 1 + i. */
#define HOST_BUFT_HANDLE 1u
/* at most this many extra buffer types are offered (the wire's bound) */
#define HOST_MAX_EXTRA_BUFTS APIR_MAX_HANDLES

/* How the context reaches its hypervisor: configuration and shared memory. */
struct host_hypervisor {
    struct apir_backend_callbacks cbs;
    bool shmem_size_known; /* cbs.get_shmem_size (and pin_shmem) may be called */
};

/* A context's limits (names.h, APIR_LIMITS; 0: none). */
struct host_limits {
    uint64_t context_memory; /* bytes of the buffers it allocates */
    uint64_t buffers;        /* buffers it holds at once */
    uint64_t graph_nodes;    /* tensors of one graph */
    uint64_t graph_seconds;  /* the time budget of one graph run */
};

typedef void (*host_threadpool_free_fn)(struct ggml_threadpool *);
/* ggml-cpu's ggml_graph_plan, returning its struct ggml_cplan by value */
struct ggml_cplan;
typedef struct ggml_cplan (*host_graph_plan_fn)(const struct ggml_cgraph *, int, struct ggml_threadpool *);

/* The GGML library and the device the context runs on (ggml-lib.c), with
 * the device's extra buffer types this host offers (extra-buft.c). */
struct host_device {
    void *library; /* dlopen handle of ggml.library.path */
    ggml_backend_reg_t reg;
    ggml_backend_dev_t dev;
    ggml_backend_t backend;
    struct ggml_threadpool *threadpool;      /* a CPU backend's threads, kept between computes; NULL: none */
    host_threadpool_free_fn threadpool_free; /* the GGML library's */
    int n_threads;                           /* a CPU backend's threads; 0: not a CPU backend */
    host_graph_plan_fn graph_plan;           /* a CPU backend's planner (its work memory); NULL: none */
    bool abortable;                          /* the backend stops a graph between nodes (run-limits.c) */
    ggml_backend_buffer_type_t buft;
    ggml_backend_buffer_type_t extra_bufts[HOST_MAX_EXTRA_BUFTS];
    uint32_t n_extra_bufts;
};

/* The buffers the guest holds, by handle (handles.c). */
struct host_buffer_slot {
    ggml_backend_buffer_t buffer; /* NULL when the slot is free */
    bool guest_memory;            /* it wraps memory the guest shares */
    uint32_t generation;          /* bumped on free: stale handles miss */
    uint32_t next_free;           /* free slots form a list: index + 1, 0 ends it */
    uint64_t charged;             /* bytes counted against the memory quota */
};
struct host_handles {
    struct host_buffer_slot *slots;
    uint32_t n_slots;
    uint32_t cap_slots;
    uint32_t free_slots;  /* head of the free list: index + 1, 0: empty */
    uint32_t n_buffers;   /* slots in use */
    uint64_t memory_used; /* sum of the slots' charged bytes */
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

/* Shared memory pinned for the device's copies (shmem.c). */
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

/* Tensor data moving between the guest's shared memory and the device
 * (tensor-io.c, shmem.c). */
struct host_transfers {
    /* pinned host memory for large transfers (devices that have a host
     * buffer type, e.g. CUDA's): a copy between device and pinned memory
     * runs at DMA speed, one between pinned and shared memory at memcpy
     * speed; straight to the guest's pageable shared memory the driver
     * stages it slowly itself */
    ggml_backend_buffer_t staging;
    struct host_writes_seen writes_seen;
    struct host_pins pins;
    uint64_t bytes_in;  /* tensor data written from guest memory */
    uint64_t bytes_out; /* and read into it */
};

/* Room for the tensors of one call: a tensor and its sources, or two. */
#define HOST_CALL_TENSORS (2 + APIR_MAX_SRC)

/* The call in progress (dispatch.c) and how calls answer. */
struct host_call_state {
    struct ggml_context *tensors; /* room for the tensors of one call */
    uint32_t refusal;             /* why the current call fails, 0: not known */
    bool detailed_errors;         /* the guest asked for APIR_CALL_ERRORS codes */
    uint8_t *reply_page;          /* the current call's reply payload (shared memory) */
    size_t reply_page_size;
    _Atomic uint32_t *accept_word; /* set to 1 once the work is taken (ext_graph_run_async); NULL: none */
    int64_t deadline_us;          /* the graph running stops past it (ggml_time_us); 0: none */
};

/* Host memory a context makes the host spend besides its buffers, charged
 * with them to the memory quota (handles.c, host_memory_admit). */
struct host_memory_charges {
    uint64_t graphs; /* the kept graphs: private copies, decoded tensors, index scratch */
    uint64_t work;   /* the backend's work memory: a CPU backend keeps its largest */
};

/* Graphs: the decoder's scratch (decode.c) and the graphs kept (graph-cache.c). */
struct host_graphs {
    struct host_id_map *id_map;
    struct host_graph_cache *cache;
};

struct host_ctx {
    uint32_t ctx_id;
    struct host_hypervisor hv;
    struct host_limits limits;
    struct host_device device;
    struct host_handles handles;
    struct host_memory_charges charges;
    struct host_transfers io;
    struct host_call_state call;
    struct host_graphs graphs;
    struct host_capture *capture; /* capture.c; NULL: not capturing */
    const char *ended;            /* why the context refuses every call from now on; NULL: it does not */
};

/* Notes why the current call is refused, an APIR_CALL_ERRORS code, where
 * the check that failed knows it: the call answers with it (dispatch.c)
 * when it fails. The first note of a call counts. */
static inline void host_refuse(struct host_ctx *ctx, uint32_t code)
{
    if (ctx->call.refusal == 0) {
        ctx->call.refusal = code;
    }
}

#endif
