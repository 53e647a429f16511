/* What this library serves itself: APIR contexts (the APIR capset, or the
 * Venus capset when VIRGL_ROUTE_VENUS_TO_APIR is set), each a proxy to an
 * apir-server per-guest process (server-link.h) that decodes its commands
 * and runs its graphs; the HOST3D blobs they create (that process's memory,
 * which the VMM maps into the guest) and their fences. The VMM's renderer
 * thread calls these; a thread of the library watches the processes and
 * tells a guest whose process ended (APIR_REPLY_HOST_LOST). */
#ifndef VIRGL_PROXY_H
#define VIRGL_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virgl-abi.h"

/* Whether this library serves contexts on capset_id. */
bool proxy_serves_capset(uint32_t capset_id);
bool proxy_has_context(uint32_t ctx_id);
/* 0, or a negative errno (logged) */
int proxy_context_create(uint32_t ctx_id, uint32_t capset_id, const char *name, uint32_t name_len);
void proxy_context_destroy(uint32_t ctx_id);
/* Hands the command to the context's process and returns: 0, or -EINVAL
 * for an unknown context or a command shorter than its header. */
int proxy_submit(uint32_t ctx_id, const void *commands, size_t size);
/* A fence of the context's ring: signalled at the next proxy_signal_fences
 * once the context's process has every command submitted before it. */
int proxy_context_fence(uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id);
/* A fence of no context, when no real virglrenderer takes them. */
void proxy_global_fence(uint32_t fence_id);
/* Sends what the processes have not taken yet, and tells the VMM of every
 * fence passed since the last call. */
void proxy_signal_fences(const struct virgl_renderer_callbacks *cbs, void *cookie);

bool proxy_has_blob(uint32_t res_id);
/* 0, or a negative errno (logged) */
int proxy_blob_create(const struct virgl_renderer_resource_create_blob_args *args);
void proxy_blob_unref(uint32_t res_id);
void *proxy_blob_memory(uint32_t res_id, uint64_t *size);

/* Ends every context and frees every blob (reset). */
void proxy_reset(void);
/* proxy_reset, then stops the watch and the private apir-server (cleanup). */
void proxy_cleanup(void);

#endif
