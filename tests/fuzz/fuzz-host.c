/* A host context driven through the host library's entry points, as the
 * APIR component drives it, with the input's shared memory (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apir/backend-abi.h"
#include "apir/names.h"
#include "apir/protocol.h"
#include "fuzz.h"
#include "ggml.h"
#include "wire-calls.h"

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

void fuzz_host_stop(uint32_t ctx_id)
{
    apir_backend_deinit(ctx_id);
    host_memory = NULL;
}

/* ---- typed calls ------------------------------------------------------------ */

static uint8_t request[4096];

/* call_LAYOUT: a call with arguments of message layout LAYOUT; its code */
#define DEFINE_CALL(layout)                                                                           \
    static uint32_t call_##layout(uint32_t ctx_id, uint32_t call, const struct wire_msg_##layout *msg) \
    {                                                                                                 \
        struct wire_encoder enc;                                                                      \
        wire_encoder_init(&enc, request, sizeof request);                                            \
        wire_encode_msg_##layout(&enc, msg);                                                         \
        return fuzz_host_call(ctx_id, call, request, wire_encoder_used(&enc));                       \
    }
DEFINE_CALL(alloc)
DEFINE_CALL(from_ptr)
DEFINE_CALL(clear)
DEFINE_CALL(tensor_io)
DEFINE_CALL(graph)
#undef DEFINE_CALL

#define HOST_CALL(ctx_id, call, layout, ...) \
    call_##layout(ctx_id, APIR_CALL_##call, &(const struct wire_msg_##layout){ __VA_ARGS__ })

/* the first u64 of the reply, 0 when the call failed */
static uint64_t reply_u64(uint32_t rc)
{
    uint64_t v = 0;
    if (rc == APIR_CALL_OK) {
        memcpy(&v, reply_page, sizeof v);
    }
    return v;
}

/* the first n bytes (n at most 4 GiB) of the buffer as one I8 tensor */
static struct wire_tensor bytes_of(uint64_t handle, uint32_t n)
{
    return (struct wire_tensor){ .id = 1, .type = GGML_TYPE_I8, .buffer = handle, .op = GGML_OP_NONE,
                                 .ne = { n, 1, 1, 1 }, .nb = { 1, n, n, n } };
}

uint64_t fuzz_host_buffer_type(uint32_t ctx_id)
{
    return reply_u64(fuzz_host_call(ctx_id, APIR_CALL_DEVICE_GET_BUFFER_TYPE, request, 0));
}

uint64_t fuzz_host_alloc_buffer(uint32_t ctx_id, uint64_t buft, uint64_t size)
{
    return reply_u64(HOST_CALL(ctx_id, BUFFER_TYPE_ALLOC_BUFFER, alloc, .buft = buft, .size = size));
}

uint64_t fuzz_host_buffer_from_ptr(uint32_t ctx_id, uint32_t res_id, uint64_t size)
{
    return reply_u64(HOST_CALL(ctx_id, DEVICE_BUFFER_FROM_PTR, from_ptr, .res_id = res_id, .size = size,
                               .max_tensor_size = size));
}

void fuzz_host_clear_buffer(uint32_t ctx_id, uint64_t buffer)
{
    HOST_CALL(ctx_id, BUFFER_CLEAR, clear, .buffer = buffer, .value = 0);
}

void fuzz_host_write_buffer(uint32_t ctx_id, uint64_t buffer, uint32_t res_id, uint64_t size)
{
    if (size > 0 && size <= UINT32_MAX) {
        HOST_CALL(ctx_id, BUFFER_SET_TENSOR, tensor_io, .buffer = buffer, .tensor = bytes_of(buffer, (uint32_t)size),
                  .res_id = res_id, .offset = 0, .size = size);
    }
}

bool fuzz_host_graph_compute(uint32_t ctx_id, uint32_t res_id, uint64_t size)
{
    return HOST_CALL(ctx_id, BACKEND_GRAPH_COMPUTE, graph, .res_id = res_id, .size = size) == APIR_CALL_OK;
}
