/* The buffers a guest holds, by handle, within its context's limits. */
#ifndef HOST_HANDLES_H
#define HOST_HANDLES_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"

/* Reads the context's limits from its configuration; false (logged) when
 * a value is invalid. */
bool host_read_limits(struct host_ctx *ctx);
/* Whether one more buffer of `bytes` (0 for memory the context does not
 * allocate) keeps the context within its limits; when not, logs which
 * limit and how to raise it, and notes APIR_CALL_OVER_LIMIT. */
bool host_buffer_admit(struct host_ctx *ctx, uint64_t bytes, const char *call);
/* Whether `bytes` more of host or device memory keep the context within its
 * memory quota, which counts its buffers, kept graphs and work memory
 * (context.h); when not, logged as host_buffer_admit does. */
bool host_memory_admit(struct host_ctx *ctx, uint64_t bytes, const char *call);
/* Adds a buffer: its handle, or 0 when out of memory. O(1). Its size is
 * charged to the memory quota unless it wraps memory the guest shares
 * (guest_memory: the guest may change it meanwhile). */
uint64_t host_buffer_add(struct host_ctx *ctx, ggml_backend_buffer_t buffer, bool guest_memory);
bool host_buffer_wraps_guest_memory(const struct host_ctx *ctx, ggml_backend_buffer_t buffer);
ggml_backend_buffer_t host_buffer_get(struct host_ctx *ctx, uint64_t handle);
/* removes and returns the buffer (its bytes no longer charged), or NULL
 * for an unknown handle */
ggml_backend_buffer_t host_buffer_remove(struct host_ctx *ctx, uint64_t handle);
/* the base address the guest computes tensor offsets from */
uint64_t host_buffer_guest_base(uint64_t handle);
uint32_t host_buffer_count(const struct host_ctx *ctx);
void host_buffers_free_all(struct host_ctx *ctx);

#endif
