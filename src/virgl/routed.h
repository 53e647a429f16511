/* What this library serves itself: APIR contexts (the APIR capset, or the
 * Venus capset when VIRGL_ROUTE_VENUS_TO_APIR is set) through libapir, the
 * HOST3D blobs they create (host memory the VMM maps into the guest) and
 * their fences. Called from the VMM's one renderer thread. */
#ifndef VIRGL_ROUTED_H
#define VIRGL_ROUTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virgl-abi.h"

/* Whether this library serves contexts on capset_id. */
bool routed_serves_capset(uint32_t capset_id);
bool routed_has_context(uint32_t ctx_id);
/* 0, or a negative errno (logged) */
int routed_context_create(uint32_t ctx_id, uint32_t capset_id, const char *name, uint32_t name_len);
void routed_context_destroy(uint32_t ctx_id);
int routed_submit(uint32_t ctx_id, void *commands, size_t size);
/* A fence of the context's ring: commands run as they are submitted, so it
 * is signalled at the next routed_signal_fences. */
int routed_context_fence(uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id);
/* A fence of no context, when no real virglrenderer takes them. */
void routed_global_fence(uint32_t fence_id);
/* Tells the VMM of every fence passed since the last call. */
void routed_signal_fences(const struct virgl_renderer_callbacks *cbs, void *cookie);

bool routed_has_blob(uint32_t res_id);
/* 0, or a negative errno (logged) */
int routed_blob_create(const struct virgl_renderer_resource_create_blob_args *args);
void routed_blob_unref(uint32_t res_id);
void *routed_blob_memory(uint32_t res_id, uint64_t *size);

/* Ends every context and frees every blob (reset, cleanup). */
void routed_reset(void);

#endif
