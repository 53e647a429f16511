/* The handlers of the forwarded calls, one per call of APIR_CALLS, by family:
 * calls-device.c, calls-buffer-type.c, calls-buffer.c, calls-backend.c.
 * Each validates its arguments against the context's state, calls the real
 * GGML backend and fills the reply. A failed check logs what was wrong,
 * notes why (host_refuse) and returns APIR_CALL_FAILED; nothing a guest
 * sends reaches ggml unchecked. */
#ifndef HOST_HANDLERS_H
#define HOST_HANDLERS_H

#include <stdint.h>

#include "wire-calls.h"
#include "context.h"

#define HOST_DECLARE_CALL(NAME, number, name, request, reply) \
    uint32_t host_call_##name(struct host_ctx *ctx, const struct wire_msg_##request *req, struct wire_msg_##reply *out);
APIR_CALLS(HOST_DECLARE_CALL)
#undef HOST_DECLARE_CALL

#endif
