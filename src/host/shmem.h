/* The guest's shared memory: a resource's host mapping, checked against
 * what a call needs, and pinned for the device's copies. */
#ifndef HOST_SHMEM_H
#define HOST_SHMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"

/* The host mapping of resource res_id holding at least `need` bytes, or NULL
 * (logged) when the resource is unknown or too small. */
void *host_shmem(struct host_ctx *ctx, uint32_t res_id, uint64_t need);

/* Finds the device runtime's register function in the GGML library, for a
 * device with pinned host memory, unless ENV_NO_PIN turns it off. */
void host_pins_start(struct host_ctx *ctx);
/* Unregisters every pinned blob. */
void host_pins_stop(struct host_ctx *ctx);
/* Whether blob res_id, mapped at base, is pinned: registered on its first
 * use here (within the bounds of shmem.c). */
bool host_shmem_pinned(struct host_ctx *ctx, uint32_t res_id, uint8_t *base);

#endif
