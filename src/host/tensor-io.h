/* Tensor data between the guest's shared memory and the device. */
#ifndef HOST_TENSOR_IO_H
#define HOST_TENSOR_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "wire-calls.h"
#include "context.h"

/* set_tensor (into_tensor) or get_tensor: the tensor's bytes [offset,
 * offset + size) through the start of the request's shared-memory
 * resource. An APIR_CALL_ code. */
uint32_t host_tensor_transfer(struct host_ctx *ctx, const struct wire_msg_tensor_io *req, bool into_tensor);
/* The queued writes, in order, recorded in `seen` if not NULL (for the
 * index checks of the graph run they precede); stops at the first that
 * fails. An APIR_CALL_ code. */
uint32_t host_run_writes(struct host_ctx *ctx, const struct wire_tensor_writes *writes,
                         struct host_writes_seen *seen);
/* The graph's outputs into the first outputs_max bytes of blob res_id, laid
 * out as wire-calls.h says: how many. */
uint32_t host_copy_outputs(struct host_ctx *ctx, const struct ggml_cgraph *graph, uint32_t res_id,
                           uint64_t outputs_max);

#endif
