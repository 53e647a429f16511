/* libggml-virtgpu-backend: the entry points the APIR component calls, the
 * per-context state, loading of the real GGML library, and logging. */
#define _GNU_SOURCE
#include "host.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml-backend-impl.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- context table ------------------------------------------------------ */

static pthread_mutex_t contexts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host_ctx **contexts;
static size_t n_contexts;

static struct host_ctx *find_context(uint32_t ctx_id)
{
    struct host_ctx *found = NULL;
    pthread_mutex_lock(&contexts_lock);
    for (size_t i = 0; i < n_contexts && found == NULL; i++) {
        if (contexts[i]->ctx_id == ctx_id) {
            found = contexts[i];
        }
    }
    pthread_mutex_unlock(&contexts_lock);
    return found;
}

static bool add_context(struct host_ctx *ctx)
{
    pthread_mutex_lock(&contexts_lock);
    struct host_ctx **grown = realloc(contexts, sizeof *contexts * (n_contexts + 1));
    if (grown != NULL) {
        contexts = grown;
        contexts[n_contexts++] = ctx;
    }
    pthread_mutex_unlock(&contexts_lock);
    return grown != NULL;
}

static struct host_ctx *remove_context(uint32_t ctx_id)
{
    struct host_ctx *found = NULL;
    pthread_mutex_lock(&contexts_lock);
    for (size_t i = 0; i < n_contexts; i++) {
        if (contexts[i]->ctx_id == ctx_id) {
            found = contexts[i];
            contexts[i] = contexts[--n_contexts];
            break;
        }
    }
    if (n_contexts == 0) {
        free(contexts);
        contexts = NULL;
    }
    pthread_mutex_unlock(&contexts_lock);
    return found;
}

/* ---- shared memory ------------------------------------------------------ */

void *host_shmem(struct host_ctx *ctx, uint32_t res_id, uint64_t need)
{
    void *ptr = ctx->cbs.get_shmem_ptr(ctx->ctx_id, res_id);
    if (ptr == NULL) {
        LOG_ERROR("shared-memory resource %u is unknown to the hypervisor", res_id);
        return NULL;
    }
    if (ctx->shmem_size_known) {
        const size_t size = ctx->cbs.get_shmem_size(ctx->ctx_id, res_id);
        if (need > size) {
            LOG_ERROR("shared-memory resource %u holds %zu bytes, the call needs %llu", res_id, size,
                       (unsigned long long)need);
            return NULL;
        }
    }
    return ptr;
}

/* ---- loading the GGML library ------------------------------------------- */

static uint32_t open_ggml_library(struct host_ctx *ctx, ggml_backend_init_t *init)
{
    const char *path = ctx->cbs.get_config(ctx->ctx_id, APIR_CFG_GGML_LIBRARY_PATH);
    if (path == NULL) {
        LOG_ERROR("cannot open the GGML library: env var '" ENV_GGML_LIBRARY_PATH "' not defined "
                   "(set it, or the configuration key " APIR_CFG_GGML_LIBRARY_PATH ", to the GGML backend "
                   "library to run on, e.g. libggml-cuda.so)");
        return APIR_LOAD_LIBRARY_ENV_VAR_MISSING;
    }
    /* kept loaded for the life of the process: GPU runtimes and ggml's own
     * statics do not survive being unloaded and loaded again */
    ctx->ggml_library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (ctx->ggml_library == NULL) {
        LOG_ERROR("cannot open the GGML library: %s", dlerror());
        return APIR_LOAD_LIBRARY_CANNOT_OPEN;
    }
    const char *reg = ctx->cbs.get_config(ctx->ctx_id, APIR_CFG_GGML_LIBRARY_REG);
    const char *symbol = reg ? reg : DEFAULT_GGML_LIBRARY_REG;
    dlerror();
    *init = (ggml_backend_init_t)(uintptr_t)dlsym(ctx->ggml_library, symbol);
    if (*init != NULL) {
        return APIR_LOAD_LIBRARY_SUCCESS;
    }
    if (reg == NULL) {
        LOG_ERROR("cannot register the GGML library: env var '" ENV_GGML_LIBRARY_REG "' not defined "
                   "(%s has no '" DEFAULT_GGML_LIBRARY_REG "'; set " ENV_GGML_LIBRARY_REG " to its registration "
                   "function, e.g. ggml_backend_cuda_reg)", path);
    } else {
        LOG_ERROR("cannot register the GGML library: no symbol '%s' (from env var '" ENV_GGML_LIBRARY_REG "') "
                   "in %s", symbol, path);
    }
    return APIR_LOAD_LIBRARY_SYMBOL_MISSING;
}

/* Threads for a CPU backend: one per core (ggml's default is fixed). */
static void set_backend_threads(struct host_ctx *ctx)
{
    typedef void (*set_threads_fn)(ggml_backend_t, int);
    set_threads_fn set_threads =
        (set_threads_fn)ggml_backend_reg_get_proc_address(ctx->reg, "ggml_backend_set_n_threads");
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (set_threads != NULL && cores > 0) {
        set_threads(ctx->backend, (int)cores);
    }
}

bool host_bind_device(struct host_ctx *ctx, size_t index)
{
    ggml_backend_dev_t dev = index < ggml_backend_reg_dev_count(ctx->reg) ? ggml_backend_reg_dev_get(ctx->reg, index) : NULL;
    ggml_backend_t backend = dev ? ggml_backend_dev_init(dev, NULL) : NULL;
    if (backend == NULL) {
        LOG_ERROR("cannot start a backend on device %zu (%s) of '%s'", index, dev ? ggml_backend_dev_name(dev) : "none",
                   ggml_backend_reg_name(ctx->reg));
        return false;
    }
    if (ctx->backend != NULL) {
        ggml_backend_free(ctx->backend);
    }
    ctx->dev = dev;
    ctx->backend = backend;
    ctx->buft = ggml_backend_dev_buffer_type(dev);
    set_backend_threads(ctx);
    LOG_INFO("context %u runs on %s (%s)", ctx->ctx_id, ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
    return true;
}

static uint32_t start_backend(struct host_ctx *ctx, ggml_backend_init_t init)
{
    ctx->reg = init();
    if (ctx->reg == NULL || ctx->reg->api_version != GGML_BACKEND_API_VERSION) {
        LOG_ERROR("the GGML library's registration function failed or has another backend API version");
        return APIR_BACKEND_INIT_BACKEND_REG_FAILED;
    }
    if (ggml_backend_reg_dev_count(ctx->reg) == 0) {
        LOG_ERROR("the GGML library '%s' has no device", ggml_backend_reg_name(ctx->reg));
        return APIR_BACKEND_INIT_NO_DEVICE;
    }
    struct ggml_init_params p = { ggml_tensor_overhead() * HOST_CALL_TENSORS, NULL, true };
    if ((ctx->call_ctx = ggml_init(p)) == NULL) {
        return APIR_BACKEND_INIT_BACKEND_FAILED;
    }
    /* a new context runs on device 0; the guest may bind another one */
    return host_bind_device(ctx, 0) ? APIR_BACKEND_INIT_SUCCESS : APIR_BACKEND_INIT_BACKEND_INIT_FAILED;
}

static void destroy_context(struct host_ctx *ctx)
{
    host_buffers_free_all(ctx);
    host_graph_scratch_free(ctx);
    if (ctx->call_ctx != NULL) {
        ggml_free(ctx->call_ctx);
    }
    if (ctx->backend != NULL) {
        ggml_backend_free(ctx->backend);
    }
    if (ctx->ggml_library != NULL) {
        dlclose(ctx->ggml_library);
    }
    free(ctx);
}

/* ---- entry points ------------------------------------------------------- */

EXPORT uint32_t apir_backend_initialize(uint32_t ctx_id, struct apir_callbacks *cbs)
{
    host_route_ggml_log();
    if (find_context(ctx_id) != NULL) {
        LOG_WARN("context %u is already initialized", ctx_id);
        return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_ALREADY_INITED;
    }
    struct host_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_BACKEND_FAILED;
    }
    ctx->ctx_id = ctx_id;
    ctx->cbs.get_config = cbs->get_config;
    ctx->cbs.get_shmem_ptr = cbs->get_shmem_ptr;
    const char *extended = cbs->get_config(ctx_id, APIR_CFG_CALLBACKS_SHMEM_SIZE);
    ctx->shmem_size_known = extended != NULL && strcmp(extended, "1") == 0;
    ctx->cbs.get_shmem_size = ctx->shmem_size_known ? cbs->get_shmem_size : NULL;

    ggml_backend_init_t init = NULL;
    uint32_t rc = open_ggml_library(ctx, &init);
    if (rc == APIR_LOAD_LIBRARY_SUCCESS) {
        rc = APIR_LOAD_LIBRARY_INIT_BASE_INDEX + start_backend(ctx, init);
    }
    if (rc != APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_BACKEND_INIT_SUCCESS || !add_context(ctx)) {
        destroy_context(ctx);
        return rc == APIR_LOAD_LIBRARY_INIT_BASE_INDEX ? rc + APIR_BACKEND_INIT_BACKEND_FAILED : rc;
    }
    return rc;
}

EXPORT void apir_backend_deinit(uint32_t ctx_id)
{
    struct host_ctx *ctx = remove_context(ctx_id);
    if (ctx != NULL) {
        LOG_INFO("context %u closed", ctx_id);
        destroy_context(ctx);
    }
}

EXPORT uint32_t apir_backend_dispatcher(uint32_t ctx_id, struct apir_callbacks *cbs, uint32_t call,
                                        char *dec_cur, const char *dec_end, char *enc_cur,
                                        const char *enc_end, char **enc_cur_after)
{
    (void)cbs; /* the context keeps the callbacks it was initialized with */
    *enc_cur_after = enc_cur;
    struct host_ctx *ctx = find_context(ctx_id);
    if (ctx == NULL) {
        LOG_ERROR("call for context %u, which is not initialized", ctx_id);
        return APIR_CALL_FAILED;
    }
    struct apir_decoder dec;
    struct apir_encoder enc;
    apir_decoder_init(&dec, dec_cur, (size_t)(dec_end - dec_cur));
    apir_encoder_init(&enc, enc_cur, (size_t)(enc_end - enc_cur));
    uint32_t rc = host_dispatch(ctx, call, &dec, &enc);
    if (dec.fatal || enc.fatal) {
        LOG_ERROR("%s: the %s does not fit its buffer", apir_call_name(call), dec.fatal ? "command" : "reply");
        rc = APIR_CALL_FAILED;
    }
    *enc_cur_after = (char *)enc.cur;
    return rc;
}
