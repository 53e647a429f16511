/* The host's call table, generated from APIR_CALLS: each call's request is
 * decoded with its layout's decoder, handed to its handler (calls.c), and
 * the handler's reply encoded when it succeeded. */
#include <string.h>

#include "host.h"

typedef uint32_t (*host_run_fn)(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc);

#define DEFINE_RUNNER(NAME, number, name, request, reply)                                           \
    static uint32_t run_##name(struct host_ctx *ctx, struct apir_decoder *dec, struct apir_encoder *enc) \
    {                                                                                               \
        struct apir_msg_##request req;                                                              \
        struct apir_msg_##reply out;                                                                \
        memset(&out, 0, sizeof out);                                                                \
        apir_decode_msg_##request(dec, &req);                                                       \
        if (dec->fatal) {                                                                           \
            CTX_ERROR(ctx->ctx_id, "%s: the command is shorter than its arguments", #name);         \
            return APIR_CALL_FAILED;                                                                \
        }                                                                                           \
        const uint32_t rc = host_call_##name(ctx, &req, &out);                                      \
        if (rc == APIR_CALL_OK) {                                                                   \
            apir_encode_msg_##reply(enc, &out);                                                     \
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

uint32_t host_dispatch(struct host_ctx *ctx, uint32_t call, struct apir_decoder *dec, struct apir_encoder *enc)
{
    const host_run_fn run = find_call(call);
    if (run == NULL) {
        CTX_ERROR(ctx->ctx_id, "invalid call index %u", call);
        return APIR_CALL_INVALID_INDEX;
    }
    CTX_DEBUG(ctx->ctx_id, "%s", apir_call_name(call));
    return run(ctx, dec, enc);
}
