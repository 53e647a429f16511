/* The host library's log sink (APIR_LLAMA_CPP_LOG_TO_FILE, or stderr). */
#include "log.h"

#include "apir/names.h"

struct log_sink component_log = LOG_SINK_INIT("ggml-virtgpu-backend: ", ENV_BACKEND_LOG_FILE, NULL);
