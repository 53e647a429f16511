/* libapir: the three APIR commands. Each names a reply resource; its first
 * word is the notification word, set to 1 + the return code once the reply
 * payload (from byte 4 on) is written. Waiters blocked on the word with
 * FUTEX_WAIT are woken. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apir-codec.h"
#include "apir-internal.h"

struct reply_channel {
    uint32_t *notify;
    uint8_t *payload;
    size_t payload_size;
};

static bool open_reply(struct apir_context *ctx, uint32_t res_id, struct reply_channel *out)
{
    struct apir_resource *r = apir_find_resource(ctx, res_id);
    if (r == NULL || r->size < APIR_REPLY_PAYLOAD_OFFSET || ((uintptr_t)r->ptr & 3) != 0) {
        CTX_ERROR(ctx->ctx_id, "reply resource %u is unknown or too small; the command is dropped",
                   res_id);
        return false;
    }
    out->notify = (uint32_t *)r->ptr;
    out->payload = (uint8_t *)r->ptr + APIR_REPLY_PAYLOAD_OFFSET;
    out->payload_size = r->size - APIR_REPLY_PAYLOAD_OFFSET;
    return true;
}

static void notify(const struct reply_channel *reply, uint32_t return_code)
{
    /* the word lives in memory shared with the guest: publish the payload
     * before it, then wake a waiter of another process (no FUTEX_PRIVATE) */
    atomic_store_explicit((_Atomic uint32_t *)reply->notify, 1 + return_code, memory_order_release);
    syscall(SYS_futex, reply->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- HANDSHAKE ---------------------------------------------------------- */

static void handshake(struct apir_context *ctx, struct apir_decoder *dec, const struct reply_channel *reply)
{
    const uint32_t major = apir_decode_u32(dec);
    const uint32_t minor = apir_decode_u32(dec);
    if (dec->fatal) {
        CTX_ERROR(ctx->ctx_id, "the handshake carries no guest version");
    }
    CTX_INFO(ctx->ctx_id, "guest protocol %u.%u, host protocol %u.%u", major, minor,
              APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR);
    if (major != APIR_PROTOCOL_MAJOR) {
        CTX_ERROR(ctx->ctx_id, "host major (%u) and guest major (%u) versions differ",
                   APIR_PROTOCOL_MAJOR, major);
    } else if (minor != APIR_PROTOCOL_MINOR) {
        CTX_WARN(ctx->ctx_id, "host minor (%u) and guest minor (%u) versions differ",
                  APIR_PROTOCOL_MINOR, minor);
    }
    struct apir_encoder enc;
    apir_encoder_init(&enc, reply->payload, reply->payload_size);
    apir_encode_u32(&enc, APIR_PROTOCOL_MAJOR);
    apir_encode_u32(&enc, APIR_PROTOCOL_MINOR);
    notify(reply, APIR_HANDSHAKE_MAGIC);
}

/* ---- LOADLIBRARY -------------------------------------------------------- */

void apir_unload_backend(struct apir_context *ctx)
{
    if (ctx->backend_library == NULL) {
        return;
    }
    if (ctx->deinit != NULL) {
        ctx->deinit(ctx->ctx_id);
    }
    dlclose(ctx->backend_library);
    ctx->backend_library = NULL;
    ctx->dispatch = NULL;
    ctx->deinit = NULL;
}

static uint32_t open_backend(struct apir_context *ctx, apir_backend_initialize_fn *init)
{
    const char *path = apir_context_get_config(ctx, APIR_CFG_LOAD_LIBRARY_PATH);
    if (path == NULL) {
        LOG_ERROR("cannot load the APIR backend library: env var '" ENV_BACKEND_LIBRARY "' not defined (set it, "
                   "or the configuration key " APIR_CFG_LOAD_LIBRARY_PATH ", to libggml-virtgpu-backend.so)");
        return APIR_LOAD_LIBRARY_ENV_VAR_MISSING;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        LOG_ERROR("cannot open the APIR backend library '%s' (from " ENV_BACKEND_LIBRARY "): %s", path, dlerror());
        return APIR_LOAD_LIBRARY_CANNOT_OPEN;
    }
    *init = (apir_backend_initialize_fn)(uintptr_t)dlsym(lib, APIR_BACKEND_INITIALIZE_SYMBOL);
    ctx->dispatch = (apir_backend_dispatcher_fn)(uintptr_t)dlsym(lib, APIR_BACKEND_DISPATCHER_SYMBOL);
    ctx->deinit = (apir_backend_deinit_fn)(uintptr_t)dlsym(lib, APIR_BACKEND_DEINIT_SYMBOL);
    if (*init == NULL || ctx->dispatch == NULL) {
        LOG_ERROR("'%s' is not an APIR backend library: it lacks " APIR_BACKEND_INITIALIZE_SYMBOL " or "
                   APIR_BACKEND_DISPATCHER_SYMBOL, path);
        dlclose(lib);
        ctx->dispatch = NULL;
        ctx->deinit = NULL;
        return APIR_LOAD_LIBRARY_SYMBOL_MISSING;
    }
    ctx->backend_library = lib;
    return APIR_LOAD_LIBRARY_SUCCESS;
}

static uint32_t load_library(struct apir_context *ctx)
{
    if (ctx->backend_library != NULL) {
        CTX_WARN(ctx->ctx_id, "the APIR backend library is already loaded");
        return APIR_LOAD_LIBRARY_ALREADY_LOADED;
    }
    apir_backend_initialize_fn init;
    const uint32_t rc = open_backend(ctx, &init);
    if (rc != APIR_LOAD_LIBRARY_SUCCESS) {
        return rc;
    }
    const uint32_t r = init(ctx->ctx_id, &apir_backend_callbacks);
    /* the backend answers 6 + its own code; 6 + 0 (and a bare 0) is success */
    if (r == APIR_LOAD_LIBRARY_SUCCESS || r == APIR_LOAD_LIBRARY_INIT_BASE_INDEX) {
        CTX_INFO(ctx->ctx_id, "APIR backend library loaded and initialized");
        return APIR_LOAD_LIBRARY_SUCCESS;
    }
    CTX_ERROR(ctx->ctx_id, "the APIR backend library failed to initialize (code %u); its log says why", r);
    ctx->deinit = NULL; /* nothing to release: initialize failed */
    apir_unload_backend(ctx);
    return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + r;
}

/* ---- FORWARD ------------------------------------------------------------ */

static uint32_t forward(struct apir_context *ctx, uint32_t call, uint8_t *args, size_t args_size,
                        const struct reply_channel *reply)
{
    if (ctx->dispatch == NULL) {
        CTX_ERROR(ctx->ctx_id, "%s forwarded before the backend library was loaded",
                   apir_call_name(call));
        return APIR_FORWARD_NO_DISPATCH_FCT;
    }
    char *end = NULL;
    char *enc = (char *)reply->payload;
    const uint32_t rc = ctx->dispatch(ctx->ctx_id, &apir_backend_callbacks, call, (char *)args,
                                      (const char *)args + args_size, enc, enc + reply->payload_size, &end);
    if (end < enc || end > enc + reply->payload_size) {
        CTX_ERROR(ctx->ctx_id, "%s: the backend wrote past the reply page", apir_call_name(call));
        return APIR_FORWARD_FAILED_TO_SYNC_STREAMS;
    }
    return APIR_FORWARD_BASE_INDEX + rc;
}

/* ---- one command -------------------------------------------------------- */

bool apir_execute(struct apir_context *ctx, uint8_t *cmd, size_t size)
{
    struct apir_decoder dec;
    apir_decoder_init(&dec, cmd, size);
    uint32_t type = apir_decode_u32(&dec);
    const uint32_t flags = apir_decode_u32(&dec);
    const uint32_t reply_res = apir_decode_u32(&dec);
    struct reply_channel reply;
    if (dec.fatal) {
        CTX_ERROR(ctx->ctx_id, "a command of %zu bytes is shorter than its header", size);
        return false;
    }
    if (!open_reply(ctx, reply_res, &reply)) {
        return false;
    }
    if (type >= APIR_VENUS_COMMAND_OFFSET && apir_venus_routed()) {
        type -= APIR_VENUS_COMMAND_OFFSET;
    }
    CTX_DEBUG(ctx->ctx_id, "command %u (flags %u)", type, flags);
    switch (type) {
    case APIR_CMD_HANDSHAKE:
        handshake(ctx, &dec, &reply);
        return true;
    case APIR_CMD_LOAD_LIBRARY:
        notify(&reply, load_library(ctx));
        return true;
    case APIR_CMD_FORWARD:
        notify(&reply, forward(ctx, flags, cmd + APIR_COMMAND_HEADER_SIZE, size - APIR_COMMAND_HEADER_SIZE, &reply));
        return true;
    default:
        CTX_ERROR(ctx->ctx_id, "invalid command type %u", type);
        notify(&reply, APIR_FORWARD_NO_DISPATCH_FCT);
        return true;
    }
}
