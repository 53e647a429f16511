/* libggml-virtgpu-backend: the entry points the APIR component calls and
 * the table of live contexts. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "ctx-table.h"
#include "dispatch.h"
#include "ggml-lib.h"
#include "graph-cache.h"
#include "handles.h"
#include "log.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- context table ------------------------------------------------------ */

static struct ctx_table contexts = CTX_TABLE_INIT;

static struct host_ctx *find_context(uint32_t ctx_id)
{
    return ctx_table_find(&contexts, ctx_id);
}

static void destroy_context(struct host_ctx *ctx)
{
    host_capture_stop(ctx);
    host_graph_cache_free(ctx); /* before the buffers its graphs point into */
    host_buffers_free_all(ctx);
    host_stop_backend(ctx);
    free(ctx);
}

/* ---- entry points ------------------------------------------------------- */

EXPORT uint32_t apir_backend_initialize(uint32_t ctx_id, struct apir_backend_callbacks *cbs)
{
    host_route_ggml_log();
    if (find_context(ctx_id) != NULL) {
        LOG_WARN("context %u is already initialized", ctx_id);
        return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_ALREADY_INITED;
    }
    struct host_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_BACKEND_FAILED;
    }
    ctx->ctx_id = ctx_id;
    ctx->hv.cbs.get_config = cbs->get_config;
    ctx->hv.cbs.get_shmem_ptr = cbs->get_shmem_ptr;
    const char *extended = cbs->get_config(ctx_id, APIR_CFG_CALLBACKS_SHMEM_SIZE);
    ctx->hv.shmem_size_known = extended != NULL && strcmp(extended, "1") == 0;
    ctx->hv.cbs.get_shmem_size = ctx->hv.shmem_size_known ? cbs->get_shmem_size : NULL;
    ctx->hv.cbs.pin_shmem = ctx->hv.shmem_size_known ? cbs->pin_shmem : NULL;

    if (!host_read_limits(ctx)) {
        destroy_context(ctx);
        return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_BACKEND_FAILED;
    }
    ggml_backend_init_t init = NULL;
    uint32_t rc = host_open_ggml_library(ctx, &init);
    if (rc == APIR_LOAD_LIBRARY_SUCCESS) {
        rc = APIR_LOAD_LIBRARY_INIT_BASE_INDEX + host_start_backend(ctx, init);
    }
    if (rc != APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_SUCCESS || !ctx_table_add(&contexts, ctx_id, ctx)) {
        destroy_context(ctx);
        return rc == APIR_LOAD_LIBRARY_INIT_BASE_INDEX ? rc + APIR_BACKEND_INIT_BACKEND_FAILED : rc;
    }
    host_capture_start(ctx);
    return rc;
}

EXPORT void apir_backend_deinit(uint32_t ctx_id)
{
    struct host_ctx *ctx = ctx_table_remove(&contexts, ctx_id);
    if (ctx != NULL) {
        LOG_INFO("context %u closed", ctx_id);
        destroy_context(ctx);
    }
}

EXPORT bool apir_backend_usage(uint32_t ctx_id, struct apir_backend_usage *out)
{
    const struct host_ctx *ctx = find_context(ctx_id);
    if (ctx == NULL) {
        return false;
    }
    *out = (struct apir_backend_usage){ .buffers = ctx->handles.n_buffers, .buffer_bytes = ctx->handles.memory_used,
                                        .tensor_bytes_in = ctx->io.bytes_in,
                                        .tensor_bytes_out = ctx->io.bytes_out };
    return true;
}

EXPORT uint32_t apir_backend_dispatcher(uint32_t ctx_id, struct apir_backend_callbacks *cbs, uint32_t call,
                                        char *dec_cur, const char *dec_end, char *enc_cur,
                                        const char *enc_end, char **enc_cur_after)
{
    (void)cbs; /* the context keeps the callbacks it was initialized with */
    *enc_cur_after = enc_cur;
    struct host_ctx *ctx = find_context(ctx_id);
    if (ctx == NULL) {
        LOG_ERROR("call for context %u, which is not initialized", ctx_id);
        return APIR_CALL_FAILED;
    }
    struct wire_decoder dec;
    struct wire_encoder enc;
    wire_decoder_init(&dec, dec_cur, (size_t)(dec_end - dec_cur));
    wire_encoder_init(&enc, enc_cur, (size_t)(enc_end - enc_cur));
    host_note_running(ctx);
    host_capture_call(ctx, call, dec_cur, (size_t)(dec_end - dec_cur));
    uint32_t rc = host_dispatch(ctx, call, &dec, &enc);
    host_capture_call_end(ctx);
    /* a short command was refused (and logged) by the dispatch */
    if (rc == APIR_CALL_OK && (dec.fatal || enc.fatal)) {
        LOG_ERROR("%s: the %s does not fit its buffer", wire_call_name(call), dec.fatal ? "command" : "reply");
        rc = APIR_CALL_FAILED;
    }
    *enc_cur_after = (char *)enc.cur;
    return rc;
}
