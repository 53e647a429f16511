/* libapir: loading the APIR backend library (libggml-virtgpu-backend.so)
 * for a context, and unloading it. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "backend.h"

static void close_library(struct hv_backend *backend)
{
    dlclose(backend->library);
    *backend = (struct hv_backend){ 0 };
}

void hv_backend_unload(struct hv_backend *backend, uint32_t ctx_id)
{
    if (backend->library == NULL) {
        return;
    }
    if (backend->deinit != NULL) {
        backend->deinit(ctx_id);
    }
    close_library(backend);
}

static uint32_t open_library(struct hv_backend *backend, const char *path, apir_backend_initialize_fn *init)
{
    if (path == NULL) {
        LOG_ERROR("cannot load the APIR backend library: env var '" ENV_BACKEND_LIBRARY "' not defined (set it, "
                   "or the configuration key " APIR_CFG_LOAD_LIBRARY_PATH ", to libggml-virtgpu-backend.so)");
        return APIR_LOAD_LIBRARY_ENV_VAR_MISSING;
    }
    backend->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (backend->library == NULL) {
        LOG_ERROR("cannot open the APIR backend library '%s' (from " ENV_BACKEND_LIBRARY "): %s", path, dlerror());
        return APIR_LOAD_LIBRARY_CANNOT_OPEN;
    }
    *init = (apir_backend_initialize_fn)(uintptr_t)dlsym(backend->library, APIR_BACKEND_INITIALIZE_SYMBOL);
    backend->dispatch = (apir_backend_dispatcher_fn)(uintptr_t)dlsym(backend->library, APIR_BACKEND_DISPATCHER_SYMBOL);
    backend->deinit = (apir_backend_deinit_fn)(uintptr_t)dlsym(backend->library, APIR_BACKEND_DEINIT_SYMBOL);
    backend->usage = (apir_backend_usage_fn)(uintptr_t)dlsym(backend->library, APIR_BACKEND_USAGE_SYMBOL);
    if (*init == NULL || backend->dispatch == NULL) {
        LOG_ERROR("'%s' is not an APIR backend library: it lacks " APIR_BACKEND_INITIALIZE_SYMBOL " or "
                   APIR_BACKEND_DISPATCHER_SYMBOL, path);
        close_library(backend);
        return APIR_LOAD_LIBRARY_SYMBOL_MISSING;
    }
    return APIR_LOAD_LIBRARY_SUCCESS;
}

uint32_t hv_backend_load(struct hv_backend *backend, const char *path, uint32_t ctx_id,
                         struct apir_backend_callbacks *callbacks)
{
    if (backend->library != NULL) {
        CTX_WARN(ctx_id, "the APIR backend library is already loaded");
        return APIR_LOAD_LIBRARY_ALREADY_LOADED;
    }
    apir_backend_initialize_fn init;
    const uint32_t rc = open_library(backend, path, &init);
    if (rc != APIR_LOAD_LIBRARY_SUCCESS) {
        return rc;
    }
    const uint32_t r = init(ctx_id, callbacks);
    /* the backend answers 6 + its own code; 6 + 0 (and a bare 0) is success */
    if (r == APIR_LOAD_LIBRARY_SUCCESS || r == APIR_LOAD_LIBRARY_INIT_BASE_INDEX) {
        CTX_INFO(ctx_id, "APIR backend library loaded and initialized");
        return APIR_LOAD_LIBRARY_SUCCESS;
    }
    CTX_ERROR(ctx_id, "the APIR backend library failed to initialize (code %u); its log says why", r);
    close_library(backend); /* no deinit: initialize failed, there is nothing to release */
    return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + r;
}
