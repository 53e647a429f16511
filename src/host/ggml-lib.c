/* The real GGML library of a context: loading it as the configuration
 * says (ggml.library.path, ggml.library.reg), and running the context on
 * one of its devices. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "extra-buft.h"
#include "ggml-lib.h"
#include "log.h"
#include "run-limits.h"
#include "shmem.h"

#include "ggml-backend-impl.h"

/* ---- loading the GGML library ------------------------------------------- */

uint32_t host_open_ggml_library(struct host_ctx *ctx, ggml_backend_init_t *init)
{
    const char *path = ctx->hv.cbs.get_config(ctx->ctx_id, APIR_CFG_GGML_LIBRARY_PATH);
    if (path == NULL) {
        LOG_ERROR("cannot open the GGML library: env var '" ENV_GGML_LIBRARY_PATH "' not defined "
                   "(set it, or the configuration key " APIR_CFG_GGML_LIBRARY_PATH ", to the GGML backend "
                   "library to run on, e.g. libggml-cuda.so)");
        return APIR_LOAD_LIBRARY_ENV_VAR_MISSING;
    }
    /* kept loaded for the life of the process: GPU runtimes and ggml's own
     * statics do not survive being unloaded and loaded again */
    ctx->device.library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (ctx->device.library == NULL) {
        LOG_ERROR("cannot open the GGML library: %s", dlerror());
        return APIR_LOAD_LIBRARY_CANNOT_OPEN;
    }
    const char *reg = ctx->hv.cbs.get_config(ctx->ctx_id, APIR_CFG_GGML_LIBRARY_REG);
    const char *symbol = reg ? reg : DEFAULT_GGML_LIBRARY_REG;
    dlerror();
    *init = (ggml_backend_init_t)(uintptr_t)dlsym(ctx->device.library, symbol);
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

/* Threads for a CPU backend: one per core the process may run on (ggml's
 * default is fixed; taskset or a cpuset limits the cores, e.g. the fuzz
 * targets run on one), in a threadpool that lives as long as the backend,
 * as llama.cpp's tools attach one: without it ggml-cpu starts and joins
 * its threads at every graph compute, every token. */
static void set_backend_threads(struct host_ctx *ctx)
{
    typedef void (*set_threads_fn)(ggml_backend_t, int);
    typedef struct ggml_threadpool *(*threadpool_new_fn)(struct ggml_threadpool_params *);
    typedef void (*set_threadpool_fn)(ggml_backend_t, struct ggml_threadpool *);
    set_threads_fn set_threads =
        (set_threads_fn)ggml_backend_reg_get_proc_address(ctx->device.reg, "ggml_backend_set_n_threads");
    threadpool_new_fn threadpool_new = (threadpool_new_fn)ggml_backend_reg_get_proc_address(ctx->device.reg, "ggml_threadpool_new");
    set_threadpool_fn set_threadpool =
        (set_threadpool_fn)ggml_backend_reg_get_proc_address(ctx->device.reg, "ggml_backend_cpu_set_threadpool");
    cpu_set_t cpus;
    const int cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (set_threads == NULL || cores <= 0) {
        return; /* not a CPU backend */
    }
    set_threads(ctx->device.backend, cores);
    ctx->device.n_threads = cores;
    ctx->device.threadpool_free =
        (host_threadpool_free_fn)ggml_backend_reg_get_proc_address(ctx->device.reg, "ggml_threadpool_free");
    if (threadpool_new != NULL && set_threadpool != NULL && ctx->device.threadpool_free != NULL) {
        struct ggml_threadpool_params params = ggml_threadpool_params_default(cores);
        ctx->device.threadpool = threadpool_new(&params);
        if (ctx->device.threadpool != NULL) {
            set_threadpool(ctx->device.backend, ctx->device.threadpool);
        }
    }
}

/* the backend first: it may still use its threadpool */
static void free_backend(struct host_ctx *ctx)
{
    if (ctx->device.backend != NULL) {
        ggml_backend_free(ctx->device.backend);
        ctx->device.backend = NULL;
    }
    if (ctx->device.threadpool != NULL) {
        ctx->device.threadpool_free(ctx->device.threadpool);
        ctx->device.threadpool = NULL;
    }
}

/* the staging memory and the copies of writes belong to the device's
 * host buffer type */
static void free_staging(struct host_ctx *ctx)
{
    if (ctx->io.staging != NULL) {
        ggml_backend_buffer_free(ctx->io.staging);
        ctx->io.staging = NULL;
    }
    if (ctx->io.writes_seen.area != NULL) {
        ggml_backend_buffer_free(ctx->io.writes_seen.area);
        ctx->io.writes_seen.area = NULL;
    }
}

bool host_bind_device(struct host_ctx *ctx, size_t index)
{
    ggml_backend_dev_t dev = index < ggml_backend_reg_dev_count(ctx->device.reg) ? ggml_backend_reg_dev_get(ctx->device.reg, index) : NULL;
    ggml_backend_t backend = dev ? ggml_backend_dev_init(dev, NULL) : NULL;
    if (backend == NULL) {
        LOG_ERROR("cannot start a backend on device %zu (%s) of '%s'", index, dev ? ggml_backend_dev_name(dev) : "none",
                   ggml_backend_reg_name(ctx->device.reg));
        return false;
    }
    free_backend(ctx);
    free_staging(ctx);
    host_pins_stop(ctx);
    ctx->device.dev = dev;
    ctx->device.backend = backend;
    ctx->device.n_threads = 0;
    ctx->charges.work = 0; /* the old backend's went with it */
    ctx->device.buft = ggml_backend_dev_buffer_type(dev);
    host_extra_bufts_find(ctx);
    set_backend_threads(ctx);
    host_run_limits_start(ctx);
    host_pins_start(ctx);
    LOG_INFO("context %u runs on %s (%s)", ctx->ctx_id, ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
    return true;
}

/* ---- ggml's log and aborts ------------------------------------------------------ */

/* Where the GGML library's lines go: the host library's log file, all of
 * them; without one, stderr from warnings up, or all with
 * GGML_VIRTGPU_DEBUG. ggml's default writes every level to stderr, and
 * ggml-cpu logs each repacked weight at debug level: the host's stderr
 * would not be quiet. */
struct ggml_log_route {
    FILE *out;
    bool all; /* every level, not warnings and errors only */
};

static void ggml_to_host_log(enum ggml_log_level level, const char *text, void *user)
{
    const struct ggml_log_route *route = user;
    /* a continued line has the level of the line it continues */
    static _Thread_local enum ggml_log_level line_level = GGML_LOG_LEVEL_INFO;
    if (level != GGML_LOG_LEVEL_CONT) {
        line_level = level;
    }
    if (route->all || line_level == GGML_LOG_LEVEL_WARN || line_level == GGML_LOG_LEVEL_ERROR) {
        fputs(text, route->out);
        fflush(route->out);
    }
}

void host_route_ggml_log(void)
{
    static struct ggml_log_route route;
    FILE *file = log_file(&component_log);
    route.out = file != NULL ? file : stderr;
    route.all = file != NULL || log_debug_enabled(&component_log);
    ggml_log_set(ggml_to_host_log, &route);
}

/* the context whose call (or start) runs, named when ggml aborts */
static _Atomic uint32_t running_ctx_id;

void host_note_running(const struct host_ctx *ctx)
{
    atomic_store_explicit(&running_ctx_id, ctx->ctx_id, memory_order_relaxed);
}

/* ggml aborts (abort()) when a broken invariant reaches it: its message
 * goes to our log first, where the host's administrator looks */
static void log_ggml_abort(const char *message)
{
    CTX_ERROR(atomic_load_explicit(&running_ctx_id, memory_order_relaxed), "GGML aborted: %s; the context ends",
              message);
}

/* ---- the backend -------------------------------------------------------- */

uint32_t host_start_backend(struct host_ctx *ctx, ggml_backend_init_t init)
{
    ggml_set_abort_callback(log_ggml_abort);
    host_note_running(ctx);
    ctx->device.reg = init();
    if (ctx->device.reg == NULL || ctx->device.reg->api_version != GGML_BACKEND_API_VERSION) {
        LOG_ERROR("the GGML library's registration function failed or has another backend API version");
        return APIR_BACKEND_INIT_BACKEND_REG_FAILED;
    }
    if (ggml_backend_reg_dev_count(ctx->device.reg) == 0) {
        LOG_ERROR("the GGML library '%s' has no device", ggml_backend_reg_name(ctx->device.reg));
        return APIR_BACKEND_INIT_NO_DEVICE;
    }
    struct ggml_init_params p = { ggml_tensor_overhead() * HOST_CALL_TENSORS, NULL, true };
    if ((ctx->call.tensors = ggml_init(p)) == NULL) {
        return APIR_BACKEND_INIT_BACKEND_FAILED;
    }
    /* a new context runs on device 0; the guest may bind another one */
    return host_bind_device(ctx, 0) ? APIR_BACKEND_INIT_SUCCESS : APIR_BACKEND_INIT_BACKEND_INIT_FAILED;
}

void host_stop_backend(struct host_ctx *ctx)
{
    free_staging(ctx);
    host_pins_stop(ctx);
    if (ctx->call.tensors != NULL) {
        ggml_free(ctx->call.tensors);
    }
    free_backend(ctx);
    if (ctx->device.library != NULL) {
        dlclose(ctx->device.library);
    }
}
