/* The host's call table, generated from APIR_CALLS: each call's request is
 * decoded with its layout's decoder, handed to its handler (handlers.h), and
 * the handler's reply encoded when it succeeded. */
#include <string.h>

#include "dispatch.h"
#include "handlers.h"
#include "log.h"

typedef uint32_t (*host_run_fn)(struct host_ctx *ctx, struct wire_decoder *dec, struct wire_encoder *enc);

#define DEFINE_RUNNER(NAME, number, name, request, reply)                                           \
    static uint32_t run_##name(struct host_ctx *ctx, struct wire_decoder *dec, struct wire_encoder *enc) \
    {                                                                                               \
        struct wire_msg_##request req;                                                              \
        struct wire_msg_##reply out;                                                                \
        memset(&out, 0, sizeof out);                                                                \
        wire_decode_msg_##request(dec, &req);                                                       \
        if (dec->fatal) {                                                                           \
            CTX_ERROR(ctx->ctx_id, "%s: the command is shorter than its arguments", #name);         \
            return APIR_CALL_MALFORMED;                                                             \
        }                                                                                           \
        const uint32_t rc = host_call_##name(ctx, &req, &out);                                      \
        if (rc == APIR_CALL_OK) {                                                                   \
            wire_encode_msg_##reply(enc, &out);                                                     \
        }                                                                                           \
        return rc;                                                                                  \
    }
APIR_CALLS(DEFINE_RUNNER)
#undef DEFINE_RUNNER

static host_run_fn find_call(uint32_t call)
{
#define RUNNER_CASE(NAME, number, name, request, reply) \
    case APIR_CALL_##NAME: return run_##name;
    switch (call) {
    APIR_CALLS(RUNNER_CASE)
    default: return NULL;
    }
#undef RUNNER_CASE
}

/* The code a failed call answers: why it failed (an APIR_CALL_ERRORS code)
 * to a guest that asked for them, APIR_CALL_FAILED to the others. */
static uint32_t answer_code(const struct host_ctx *ctx, uint32_t rc)
{
    if (rc == APIR_CALL_FAILED && ctx->call.refusal != 0) {
        rc = ctx->call.refusal;
    }
    return wire_call_error_text(rc) != NULL && !ctx->call.detailed_errors ? APIR_CALL_FAILED : rc;
}

uint32_t host_dispatch(struct host_ctx *ctx, uint32_t call, struct wire_decoder *dec, struct wire_encoder *enc)
{
    const host_run_fn run = find_call(call);
    if (run == NULL) {
        CTX_ERROR(ctx->ctx_id, "invalid call index %u", call);
        return APIR_CALL_INVALID_INDEX;
    }
    CTX_DEBUG(ctx->ctx_id, "%s", wire_call_name(call));
    if (ctx->ended != NULL) {
        CTX_ERROR(ctx->ctx_id, "%s: refused, the context has ended (%s); the guest must start a new one",
                  wire_call_name(call), ctx->ended);
        return APIR_CALL_FAILED;
    }
    ctx->call.refusal = 0;
    ctx->call.reply_page = enc->cur;
    ctx->call.reply_page_size = (size_t)(enc->end - enc->cur);
    return answer_code(ctx, run(ctx, dec, enc));
}
