/* libapir: the three APIR commands. Each names a reply resource; its first
 * word is the notification word, set to 1 + the return code once the reply
 * payload (from byte 4 on) is written. Waiters blocked on the word with
 * FUTEX_WAIT are woken. */
#define _GNU_SOURCE
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

static uint32_t load_library(struct apir_context *ctx)
{
    return apir_backend_load(&ctx->backend, apir_context_get_config(ctx, APIR_CFG_LOAD_LIBRARY_PATH), ctx->ctx_id,
                             &apir_backend_callbacks);
}

/* ---- FORWARD ------------------------------------------------------------ */

static uint32_t forward(struct apir_context *ctx, uint32_t call, uint8_t *args, size_t args_size,
                        const struct reply_channel *reply)
{
    if (ctx->backend.dispatch == NULL) {
        CTX_ERROR(ctx->ctx_id, "%s forwarded before the backend library was loaded",
                   apir_call_name(call));
        return APIR_FORWARD_NO_DISPATCH_FCT;
    }
    char *end = NULL;
    char *enc = (char *)reply->payload;
    const uint32_t rc = ctx->backend.dispatch(ctx->ctx_id, &apir_backend_callbacks, call, (char *)args,
                                              (const char *)args + args_size, enc, enc + reply->payload_size, &end);
    /* a refused call has no reply: llama.cpp's host then leaves `end` unset */
    if (rc == APIR_CALL_OK && (end < enc || end > enc + reply->payload_size)) {
        CTX_ERROR(ctx->ctx_id, "%s: the backend wrote past the reply page", apir_call_name(call));
        return APIR_FORWARD_FAILED_TO_SYNC_STREAMS;
    }
    return APIR_FORWARD_BASE_INDEX + rc;
}

/* ---- one command -------------------------------------------------------- */

bool apir_context_submit(struct apir_context *ctx, void *cmd, size_t size)
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
        notify(&reply, forward(ctx, flags, (uint8_t *)cmd + APIR_COMMAND_HEADER_SIZE,
                               size - APIR_COMMAND_HEADER_SIZE, &reply));
        return true;
    default:
        CTX_ERROR(ctx->ctx_id, "invalid command type %u", type);
        notify(&reply, APIR_FORWARD_NO_DISPATCH_FCT);
        return true;
    }
}
