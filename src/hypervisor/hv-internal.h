/* libapir internals: a context's configuration, resources and the backend
 * library it loaded. Their names start with hv_ (the hypervisor's); apir_
 * names libapir's public API (include/apir/apir.h), whose struct
 * apir_context is defined here, with the types of the parts; each file
 * declares its functions in its own header (backend.h, context.h, stats.h).
 *
 * The files call each other one way only: commands.c (the commands) uses
 * stats.c (their counters), context.c (contexts, callbacks) and backend.c
 * (library loading); stats.c and context.c use backend.c; backend.c knows
 * no context, only what it is handed. */
#ifndef HV_INTERNAL_H
#define HV_INTERNAL_H

#include "ctx-table.h"
#include "apir/apir.h"
#include "apir/backend-abi.h"
#include "log.h"

struct hv_config_entry {
    char *key;
    char *value;
};

struct hv_resource {
    uint32_t res_id;
    void *ptr;
    size_t size;
    bool pinned; /* host memory wraps it: stays until the context goes */
};

/* the APIR backend library a context loaded (backend.c) */
struct hv_backend {
    void *library; /* NULL: none loaded */
    apir_backend_dispatcher_fn dispatch;
    apir_backend_deinit_fn deinit;
    apir_backend_usage_fn usage; /* NULL: the library does not say */
};

struct apir_context {
    uint32_t ctx_id;
    uint32_t capset_id;
    char *debug_name;

    struct hv_config_entry *config;
    size_t n_config;

    struct hv_resource *resources;
    size_t n_resources;
    size_t cap_resources;
    struct ctx_table resource_index; /* res_id -> its position in resources + 1: O(1), seeded */

    struct hv_backend backend;

    uint64_t max_command_bytes; /* apir.limits.command_bytes, 0: none */
    uint64_t max_blob_bytes;    /* apir.limits.blob_memory, 0: none */
    uint64_t blob_bytes;        /* the resources' bytes, pinned ones included */
    bool detailed_errors;       /* the guest asked for APIR_CALL_ERRORS codes */
    struct apir_context_stats *stats; /* the embedder's counters, or NULL */
};

/* the callbacks handed to the backend library (context.c) */
extern struct apir_backend_callbacks hv_callbacks;

#endif
