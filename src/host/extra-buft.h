/* The device's extra buffer types (ggml-cpu's repacking type) that this
 * host offers to the guest, and the checks on the tensors they hold. */
#ifndef HOST_EXTRA_BUFT_H
#define HOST_EXTRA_BUFT_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"

/* Finds the extra buffer types of ctx->device.dev that this host offers: those
 * whose tensors it knows how to check (ggml-cpu's repacking type). */
void host_extra_bufts_find(struct host_ctx *ctx);
/* The buffer type a guest's handle names, default or extra; NULL (logged,
 * noted) for a handle it does not have. */
ggml_backend_buffer_type_t host_buft_from_handle(struct host_ctx *ctx, uint64_t handle, const char *call);
/* Whether the buffer is one of an extra buffer type (NULL: no). */
bool host_buffer_is_extra(const struct host_ctx *ctx, ggml_backend_buffer_t buffer);
/* Whether a tensor of the guest (its buffer set, its view source not
 * linked) may live in its extra buffer as what it is: a weight ggml's
 * repacking type takes, laid out as that type's kernels read it. Sets the
 * tensor's extra (the buffer's init_tensor) when so; says why not (`why`,
 * naming the tensor) when not. */
bool host_extra_tensor_ok(struct ggml_tensor *t, char *why, size_t size);
/* Whether the graph uses its tensors in extra buffers only as the weights
 * (first source) of MUL_MAT / MUL_MAT_ID, with their extra set; when not,
 * logs which node is wrong and notes APIR_CALL_NOT_ALLOWED. */
bool host_graph_extra_ok(struct host_ctx *ctx, struct ggml_cgraph *graph);

#endif
