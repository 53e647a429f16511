/* The guest's shared memory: a resource's host mapping, and resources
 * registered with the device's runtime as pinned host memory,
 * so that copies between the device and the guest's blobs run at DMA speed
 * from and into the blob itself, with no staging copy on the host.
 *
 * The runtime is the one the GGML library brings (libggml-cuda.so needs
 * libcudart, libggml-hip.so libamdhip64): its register function is found
 * in that library's own dependencies. ggml-cuda's exported
 * ggml_backend_register_host_buffer registers read-only memory (the device
 * may not write it, and the logits come back into the blob) and works only
 * with GGML_CUDA_REGISTER_HOST set, so the runtime is called directly.
 *
 * A blob is registered the first time a large transfer uses it. Bounds:
 * at most HOST_PIN_MAX_BLOBS blobs of at most HOST_PIN_MAX_BYTES each per
 * context (pinned memory cannot be swapped; a guest must not lock the
 * host's memory at will); others go through staging as before. A pinned
 * blob stays mapped until the context ends, even if the guest destroys it
 * (the hypervisor's pin_shmem, as for host memory that wraps a blob). */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "env-switch.h"
#include "log.h"
#include "shmem.h"

/* ---- a resource's mapping ------------------------------------------------- */

void *host_shmem(struct host_ctx *ctx, uint32_t res_id, uint64_t need)
{
    void *ptr = ctx->hv.cbs.get_shmem_ptr(ctx->ctx_id, res_id);
    if (ptr == NULL) {
        LOG_ERROR("shared-memory resource %u is unknown to the hypervisor", res_id);
        host_refuse(ctx, APIR_CALL_UNKNOWN_HANDLE);
        return NULL;
    }
    if (ctx->hv.shmem_size_known) {
        const size_t size = ctx->hv.cbs.get_shmem_size(ctx->ctx_id, res_id);
        if (need > size) {
            LOG_ERROR("shared-memory resource %u holds %zu bytes, the call needs %llu", res_id, size,
                       (unsigned long long)need);
            host_refuse(ctx, APIR_CALL_OUT_OF_RANGE);
            return NULL;
        }
    }
    return ptr;
}

/* ---- pinned resources ----------------------------------------------------- */

#define HOST_PIN_MAX_BYTES (256u << 20)

/* cudaHostRegisterPortable, hipHostRegisterPortable: pinned for every
 * context of the process, whatever device is current */
#define REGISTER_PORTABLE 1u

struct runtime_names {
    const char *register_fn, *unregister_fn, *clear_error_fn;
};

static const struct runtime_names runtimes[] = {
    { "cudaHostRegister", "cudaHostUnregister", "cudaGetLastError" },
    { "hipHostRegister", "hipHostUnregister", "hipGetLastError" },
};

static void *library_symbol(void *library, const char *name)
{
    return library ? dlsym(library, name) : NULL;
}

void host_pins_start(struct host_ctx *ctx)
{
    struct host_pins *p = &ctx->io.pins;
    *p = (struct host_pins){ 0 };
    if (env_switch_on(ENV_NO_PIN) || ggml_backend_dev_host_buffer_type(ctx->device.dev) == NULL) {
        return; /* turned off, or a device without pinned memory (the CPU) */
    }
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0] && p->register_fn == NULL; i++) {
        p->register_fn = (host_pin_register_fn)(uintptr_t)library_symbol(ctx->device.library, runtimes[i].register_fn);
        p->unregister_fn =
            (host_pin_unregister_fn)(uintptr_t)library_symbol(ctx->device.library, runtimes[i].unregister_fn);
        p->clear_error_fn =
            (host_pin_clear_error_fn)(uintptr_t)library_symbol(ctx->device.library, runtimes[i].clear_error_fn);
        if (p->register_fn == NULL || p->unregister_fn == NULL || p->clear_error_fn == NULL) {
            p->register_fn = NULL;
        }
    }
    CTX_DEBUG(ctx->ctx_id, "shared memory %s pinned for the device's copies",
              p->register_fn ? "will be" : "cannot be (no runtime register function found in the GGML library)");
}

void host_pins_stop(struct host_ctx *ctx)
{
    struct host_pins *p = &ctx->io.pins;
    for (uint32_t i = 0; i < p->count; i++) {
        if (p->items[i].pinned) {
            p->unregister_fn(p->items[i].ptr);
            p->clear_error_fn();
        }
    }
    p->count = 0;
}

static const struct host_pin *find_pin(const struct host_pins *p, uint32_t res_id, const uint8_t *base)
{
    for (uint32_t i = 0; i < p->count; i++) {
        if (p->items[i].res_id == res_id && p->items[i].ptr == base) {
            return &p->items[i];
        }
    }
    return NULL;
}

bool host_shmem_pinned(struct host_ctx *ctx, uint32_t res_id, uint8_t *base)
{
    struct host_pins *p = &ctx->io.pins;
    if (p->register_fn == NULL || !ctx->hv.shmem_size_known) { /* pin_shmem comes with get_shmem_size */
        return false;
    }
    const struct host_pin *known = find_pin(p, res_id, base);
    if (known != NULL) {
        return known->pinned;
    }
    const size_t size = ctx->hv.cbs.get_shmem_size(ctx->ctx_id, res_id);
    if (p->count == HOST_PIN_MAX_BLOBS || size == 0 || size > HOST_PIN_MAX_BYTES) {
        return false;
    }
    /* a refusal is remembered too: registering is not tried at every call */
    struct host_pin *pin = &p->items[p->count++];
    *pin = (struct host_pin){ .res_id = res_id, .ptr = base, .size = size };
    /* kept mapped until the context ends: no other blob can take its
     * address while the runtime holds it as registered */
    pin->pinned = ctx->hv.cbs.pin_shmem(ctx->ctx_id, res_id) && p->register_fn(base, size, REGISTER_PORTABLE) == 0;
    if (!pin->pinned) {
        p->clear_error_fn(); /* else the backend's next error check would see it */
    }
    CTX_DEBUG(ctx->ctx_id, "shared-memory resource %u (%zu bytes) %s", res_id, size,
              pin->pinned ? "pinned for the device's copies" : "could not be pinned; its copies are staged");
    return pin->pinned;
}
