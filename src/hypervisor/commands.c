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

#include "wire-codec.h"
#include "backend.h"
#include "clock.h"
#include "context.h"
#include "stats.h"

struct reply_channel {
    uint32_t *notify;
    uint8_t *payload;
    size_t payload_size;
};

static bool open_reply(struct apir_context *ctx, uint32_t res_id, struct reply_channel *out)
{
    struct hv_resource *r = hv_find_resource(ctx, res_id);
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

/* the bytes of its reply payload */
static size_t handshake(struct apir_context *ctx, struct wire_decoder *dec, const struct reply_channel *reply)
{
    const uint32_t major = wire_decode_u32(dec);
    const uint32_t minor = wire_decode_u32(dec);
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
    struct wire_encoder enc;
    wire_encoder_init(&enc, reply->payload, reply->payload_size);
    wire_encode_u32(&enc, APIR_PROTOCOL_MAJOR);
    wire_encode_u32(&enc, APIR_PROTOCOL_MINOR);
    notify(reply, APIR_HANDSHAKE_MAGIC);
    return wire_encoder_used(&enc);
}

/* ---- LOADLIBRARY -------------------------------------------------------- */

static uint32_t load_library(struct apir_context *ctx)
{
    return hv_backend_load(&ctx->backend, apir_context_get_config(ctx, APIR_CFG_LOAD_LIBRARY_PATH), ctx->ctx_id,
                           &hv_callbacks);
}

/* ---- FORWARD ------------------------------------------------------------ */

/* the return code; the bytes of the reply payload in *reply_bytes */
static uint32_t forward(struct apir_context *ctx, uint32_t call, uint8_t *args, size_t args_size,
                        const struct reply_channel *reply, size_t *reply_bytes)
{
    if (ctx->backend.dispatch == NULL) {
        CTX_ERROR(ctx->ctx_id, "%s forwarded before the backend library was loaded",
                   wire_call_name(call));
        return APIR_FORWARD_NO_DISPATCH_FCT;
    }
    char *end = NULL;
    char *enc = (char *)reply->payload;
    const uint32_t rc = ctx->backend.dispatch(ctx->ctx_id, &hv_callbacks, call, (char *)args,
                                              (const char *)args + args_size, enc, enc + reply->payload_size, &end);
    /* the guest asked for error codes: this component's own refusals give them too */
    if (call == APIR_CALL_EXT_ERROR_CODES && rc == APIR_CALL_OK) {
        ctx->detailed_errors = true;
    }
    /* a refused call has no reply: llama.cpp's host then leaves `end` unset */
    if (rc == APIR_CALL_OK && (end < enc || end > enc + reply->payload_size)) {
        CTX_ERROR(ctx->ctx_id, "%s: the backend wrote past the reply page", wire_call_name(call));
        return APIR_FORWARD_FAILED_TO_SYNC_STREAMS;
    }
    *reply_bytes = rc == APIR_CALL_OK ? (size_t)(end - enc) : 0;
    return APIR_FORWARD_BASE_INDEX + rc;
}

/* ---- one command -------------------------------------------------------- */

struct command_header {
    uint32_t type;
    uint32_t flags;
    struct reply_channel reply;
};

/* Reads the header of a command of `size` bytes at cmd (at least `size`
 * bytes, or its first head_size) and opens its reply; false (logged) when
 * it cannot be answered. */
static bool read_header(struct apir_context *ctx, struct wire_decoder *dec, size_t size, struct command_header *h)
{
    h->type = wire_decode_u32(dec);
    h->flags = wire_decode_u32(dec);
    const uint32_t reply_res = wire_decode_u32(dec);
    if (dec->fatal) {
        CTX_ERROR(ctx->ctx_id, "a command of %zu bytes is shorter than its header", size);
        return false;
    }
    if (!open_reply(ctx, reply_res, &h->reply)) {
        return false;
    }
    if (h->type >= APIR_VENUS_COMMAND_OFFSET && apir_venus_routed()) {
        h->type -= APIR_VENUS_COMMAND_OFFSET;
    }
    return true;
}

/* Tells the guest its command was over the size limit. */
static void refuse_oversized(struct apir_context *ctx, const struct command_header *h, size_t size)
{
    CTX_ERROR(ctx->ctx_id, "%s: refused, a command of %zu bytes is over the limit of %llu; raise it with "
              APIR_LIMIT_KNOBS(OPT_MAX_COMMAND_BYTES, ENV_MAX_COMMAND_BYTES, APIR_CFG_MAX_COMMAND_BYTES),
              h->type == APIR_CMD_FORWARD ? wire_call_name(h->flags) : "a command", size,
              (unsigned long long)ctx->max_command_bytes);
    notify(&h->reply, APIR_FORWARD_BASE_INDEX + (ctx->detailed_errors ? APIR_CALL_OVER_LIMIT : APIR_CALL_FAILED));
}

bool apir_context_refuse_command(struct apir_context *ctx, const void *head, size_t head_size, size_t size)
{
    struct wire_decoder dec;
    struct command_header h;
    wire_decoder_init(&dec, head, head_size);
    if (!read_header(ctx, &dec, size, &h)) {
        return false;
    }
    refuse_oversized(ctx, &h, size);
    return true;
}

/* Runs one command and answers it; the bytes of its reply payload. */
static size_t run_command(struct apir_context *ctx, struct wire_decoder *dec, const struct command_header *h,
                          uint8_t *cmd, size_t size)
{
    if (ctx->max_command_bytes != 0 && size > ctx->max_command_bytes) {
        refuse_oversized(ctx, h, size);
        return 0;
    }
    CTX_DEBUG(ctx->ctx_id, "command %u (flags %u)", h->type, h->flags);
    size_t reply_bytes = 0;
    switch (h->type) {
    case APIR_CMD_HANDSHAKE:
        return handshake(ctx, dec, &h->reply);
    case APIR_CMD_LOAD_LIBRARY:
        notify(&h->reply, load_library(ctx));
        return 0;
    case APIR_CMD_FORWARD:
        notify(&h->reply, forward(ctx, h->flags, cmd + APIR_COMMAND_HEADER_SIZE, size - APIR_COMMAND_HEADER_SIZE,
                                  &h->reply, &reply_bytes));
        return reply_bytes;
    default:
        CTX_ERROR(ctx->ctx_id, "invalid command type %u", h->type);
        notify(&h->reply, APIR_FORWARD_NO_DISPATCH_FCT);
        return 0;
    }
}

bool apir_context_submit(struct apir_context *ctx, void *cmd, size_t size)
{
    struct wire_decoder dec;
    struct command_header h;
    wire_decoder_init(&dec, cmd, size);
    if (!read_header(ctx, &dec, size, &h)) {
        return false;
    }
    const int64_t start = ctx->stats != NULL ? monotonic_ns() : 0;
    const size_t reply_bytes = run_command(ctx, &dec, &h, cmd, size);
    if (ctx->stats != NULL) {
        hv_stats_count_command(ctx, h.type, h.flags, size, reply_bytes, monotonic_ns() - start);
    }
    return true;
}
