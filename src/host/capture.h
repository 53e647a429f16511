/* A context's traffic written out for the fuzz corpus (GGML_VIRTGPU_CAPTURE_DIR). */
#ifndef HOST_CAPTURE_H
#define HOST_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"

/* Starts capturing the context's calls when GGML_VIRTGPU_CAPTURE_DIR is
 * set; every other host_capture_ function does nothing unless it is. */
void host_capture_start(struct host_ctx *ctx);
void host_capture_stop(struct host_ctx *ctx);
/* a forwarded call: its request, the shared memory it reads, its end */
void host_capture_call(struct host_ctx *ctx, uint32_t call, const void *request, size_t size);
void host_capture_shmem(struct host_ctx *ctx, uint32_t res_id, const void *ptr, uint64_t need);
void host_capture_call_end(struct host_ctx *ctx);
/* a graph the guest sent, with the sizes of the buffers it names */
void host_capture_graph(struct host_ctx *ctx, const uint8_t *data, uint64_t size);

#endif
