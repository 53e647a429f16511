/* The host library's log sink (APIR_LLAMA_CPP_LOG_TO_FILE, or stderr). */
#include "log.h"

#include "apir/names.h"
#include "ggml.h"

struct log_sink component_log = LOG_SINK_INIT("ggml-virtgpu-backend: ", ENV_BACKEND_LOG_FILE, NULL);

static void ggml_to_log_file(enum ggml_log_level level, const char *text, void *user)
{
    (void)level;
    fputs(text, (FILE *)user);
    fflush((FILE *)user);
}

/* With APIR_LLAMA_CPP_LOG_TO_FILE set, the GGML library logs there too. */
void host_route_ggml_log(void)
{
    FILE *file = log_file(&component_log);
    if (file != NULL) {
        ggml_log_set(ggml_to_log_file, file);
    }
}
