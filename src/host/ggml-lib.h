/* The real GGML library of a context: loading it as the configuration says,
 * starting its backend on a device, and naming the context when ggml aborts. */
#ifndef HOST_GGML_LIB_H
#define HOST_GGML_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "ggml-backend-impl.h"

/* The GGML library logs where the host library does: its log file
 * (APIR_LLAMA_CPP_LOG_TO_FILE), all levels; else stderr, warnings and
 * errors only unless GGML_VIRTGPU_DEBUG is set. */
void host_route_ggml_log(void);
/* Opens ggml.library.path and finds its registration function; an
 * apir_load_library_code (logged with the seed's message on failure). */
uint32_t host_open_ggml_library(struct host_ctx *ctx, ggml_backend_init_t *init);
/* Registers the library and starts device 0; an apir_backend_init_code. */
uint32_t host_start_backend(struct host_ctx *ctx, ggml_backend_init_t init);
/* Runs the context on device `index` of its GGML library; false (logged) if
 * there is no such device or it does not start. */
bool host_bind_device(struct host_ctx *ctx, size_t index);
void host_stop_backend(struct host_ctx *ctx);
/* Notes that a call of ctx runs: a GGML abort meanwhile is logged as its
 * context's (the abort callback has no context of its own). */
void host_note_running(const struct host_ctx *ctx);

#endif
