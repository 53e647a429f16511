/* What the handlers of several families share. */
#ifndef HOST_CALL_ARGS_H
#define HOST_CALL_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "wire-calls.h"
#include "context.h"

/* The context's small ggml context for the tensors of one call (a tensor and
 * its sources, or two): reset, not allocated, per call. */
struct ggml_context *host_call_tensors(struct host_ctx *ctx);
/* The buffer a guest's handle names, or NULL (logged, noted) for one it
 * does not hold; `call` names the call in the message. */
ggml_backend_buffer_t host_find_buffer(struct host_ctx *ctx, uint64_t handle, const char *call);
/* The host mapping of `need` bytes of resource res_id (host_shmem), seen
 * by the capture too. */
void *host_guest_memory(struct host_ctx *ctx, uint32_t res_id, uint64_t need);
void host_reply_string(wire_field_string out, const char *s);
/* Whether the op table accepts the op and the device supports it. */
bool host_op_supported(struct host_ctx *ctx, const struct ggml_tensor *op);

#endif
