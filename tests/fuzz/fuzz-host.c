/* A host context driven through the host library's entry points, as the
 * APIR component drives it, with the input's shared memory (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apir/backend-abi.h"
#include "apir/names.h"
#include "apir/protocol.h"
#include "fuzz.h"

/* the host library's entry points (linked in) */
uint32_t apir_backend_initialize(uint32_t ctx_id, struct apir_backend_callbacks *cbs);
uint32_t apir_backend_dispatcher(uint32_t ctx_id, struct apir_backend_callbacks *cbs, uint32_t call, char *dec_cur,
                                 const char *dec_end, char *enc_cur, const char *enc_end, char **enc_cur_after);
void apir_backend_deinit(uint32_t ctx_id);

/* the memory of the one host context at a time (the callbacks get only its id) */
static struct fuzz_memory *host_memory;
static uint8_t reply_page[APIR_REPLY_BLOB_SIZE];

static const char *host_get_config(uint32_t ctx_id, const char *key)
{
    (void)ctx_id;
    if (strcmp(key, APIR_CFG_GGML_LIBRARY_PATH) == 0) {
        return FUZZ_GGML_CPU_LIBRARY;
    }
    return strcmp(key, APIR_CFG_CALLBACKS_SHMEM_SIZE) == 0 ? "1" : NULL;
}

static void *host_get_shmem_ptr(uint32_t ctx_id, uint32_t res_id)
{
    (void)ctx_id;
    struct fuzz_resource *r = fuzz_memory_find(host_memory, res_id);
    return r ? r->ptr : NULL;
}

static size_t host_get_shmem_size(uint32_t ctx_id, uint32_t res_id)
{
    (void)ctx_id;
    struct fuzz_resource *r = fuzz_memory_find(host_memory, res_id);
    return r ? r->size : 0;
}

/* every resource stays until the input ends: pinning only says it exists */
static bool host_pin_shmem(uint32_t ctx_id, uint32_t res_id)
{
    (void)ctx_id;
    return fuzz_memory_find(host_memory, res_id) != NULL;
}

static struct apir_backend_callbacks host_callbacks = {
    .get_config = host_get_config,
    .get_shmem_ptr = host_get_shmem_ptr,
    .get_shmem_size = host_get_shmem_size,
    .pin_shmem = host_pin_shmem,
};

bool fuzz_host_start(uint32_t ctx_id, struct fuzz_memory *m)
{
    host_memory = m;
    const uint32_t rc = apir_backend_initialize(ctx_id, &host_callbacks);
    if (rc != APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_SUCCESS) {
        fprintf(stderr, "fuzz: the host library does not start on %s (code %u)\n", FUZZ_GGML_CPU_LIBRARY, rc);
        abort(); /* the harness is broken, not the input */
    }
    return true;
}

uint32_t fuzz_host_call(uint32_t ctx_id, uint32_t call, const void *args, size_t size)
{
    char *end = NULL;
    char *reply = (char *)reply_page;
    return apir_backend_dispatcher(ctx_id, &host_callbacks, call, (char *)args, (const char *)args + size, reply,
                                   reply + sizeof reply_page, &end);
}

const uint8_t *fuzz_host_reply(void)
{
    return reply_page;
}

void fuzz_host_stop(uint32_t ctx_id)
{
    apir_backend_deinit(ctx_id);
    host_memory = NULL;
}
