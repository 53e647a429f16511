/* The ABI between the hypervisor's APIR component and the backend library it
 * loads (VIRGL_APIR_BACKEND_LIBRARY / config key apir.load_library.path).
 *
 * The APIR component resolves three symbols (and an optional fourth) by
 * name and calls them with the APIR context id. This is the same ABI as virglrenderer's APIR component and
 * llama.cpp's reference host library, so either side can be swapped. */
#ifndef APIR_BACKEND_ABI_H
#define APIR_BACKEND_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apir/names.h"

#define APIR_BACKEND_INITIALIZE_SYMBOL "apir_backend_initialize"
#define APIR_BACKEND_DISPATCHER_SYMBOL "apir_backend_dispatcher"
#define APIR_BACKEND_DEINIT_SYMBOL "apir_backend_deinit"

struct apir_backend_callbacks {
    /* the value of a configuration key of the context, or NULL */
    const char *(*get_config)(uint32_t ctx_id, const char *key);
    /* the host mapping of a shared-memory resource of the context, or NULL */
    void *(*get_shmem_ptr)(uint32_t ctx_id, uint32_t res_id);
    /* its size in bytes (0 when unknown); present only when the context's
     * APIR_CFG_CALLBACKS_SHMEM_SIZE key is "1" */
    size_t (*get_shmem_size)(uint32_t ctx_id, uint32_t res_id);
    /* keeps the resource mapped (the guest's unref no longer removes it)
     * until the context is destroyed: for host memory that wraps it; false
     * for an unknown resource. Present with get_shmem_size. */
    bool (*pin_shmem)(uint32_t ctx_id, uint32_t res_id);
};

/* Returns an apir_load_library_code: APIR_LOAD_LIBRARY_INIT_BASE_INDEX +
 * an apir_backend_init_code once the library got that far. */
typedef uint32_t (*apir_backend_initialize_fn)(uint32_t ctx_id, struct apir_backend_callbacks *cbs);

/* Runs forwarded call `call` (an wire_call): decodes its arguments from
 * [dec_cur, dec_end), encodes its reply into [enc_cur, enc_end), stores the
 * end of the reply in *enc_cur_after, and returns the call's return code. */
typedef uint32_t (*apir_backend_dispatcher_fn)(uint32_t ctx_id, struct apir_backend_callbacks *cbs,
                                               uint32_t call, char *dec_cur, const char *dec_end,
                                               char *enc_cur, const char *enc_end,
                                               char **enc_cur_after);

typedef void (*apir_backend_deinit_fn)(uint32_t ctx_id);

/* Optional: what the library holds and moved for a context, for a status
 * report; false for a context it does not know. */
#define APIR_BACKEND_USAGE_SYMBOL "apir_backend_usage"
struct apir_backend_usage {
    uint64_t buffers;          /* buffers it holds */
    uint64_t buffer_bytes;     /* bytes of those it allocated (not those wrapping guest memory) */
    uint64_t tensor_bytes_in;  /* tensor data written from guest memory */
    uint64_t tensor_bytes_out; /* tensor data read into guest memory */
};
typedef bool (*apir_backend_usage_fn)(uint32_t ctx_id, struct apir_backend_usage *out);

#endif
