/* Tensors and graphs from the wire, validated as they are built. */
#ifndef HOST_DECODE_H
#define HOST_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire-calls.h"
#include "context.h"

/* Builds a tensor in mem_ctx from a wire tensor after validating its type,
 * op, shape, buffer handle and extent; NULL (logged) when invalid. Sources
 * are not linked. */
struct ggml_tensor *host_tensor_from_wire(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                          const struct wire_tensor *w, bool need_data);
/* Builds an inline tensor (supports_op, get_alloc_size) with its sources. */
struct ggml_tensor *host_inline_tensor(struct host_ctx *ctx, struct ggml_context *mem_ctx,
                                       const struct wire_inline_op *op);
/* Decodes a serialized graph of `size` bytes at `data` (which must not
 * change meanwhile) into a new ggml context *mem that holds its tensors and
 * the cgraph, with the guest's use counts of its nodes if use_counts; NULL
 * (logged) when invalid or when a node is one the op table refuses or the
 * device does not support. The memory decoding takes is admitted to the
 * context's quota first. */
struct ggml_cgraph *host_graph_from_wire(struct host_ctx *ctx, const uint8_t *data, uint64_t size,
                                         bool use_counts, struct ggml_context **mem);

#endif
