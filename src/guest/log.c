/* The guest's log sink: lines go to ggml's logger, so that an application's
 * own log settings (llama.cpp's verbosity, its log callback) apply. */
#include "log.h"

#include "ggml.h"

/* exported by ggml-base; not in its public headers */
void ggml_log_internal(enum ggml_log_level level, const char *format, ...);

static void to_ggml_log(enum log_level level, const char *line)
{
    static const enum ggml_log_level levels[] = { GGML_LOG_LEVEL_DEBUG, GGML_LOG_LEVEL_INFO, GGML_LOG_LEVEL_WARN,
                                                  GGML_LOG_LEVEL_ERROR };
    ggml_log_internal(levels[level], "%s\n", line);
}

struct log_sink component_log = LOG_SINK_INIT("ggml-virtgpu: ", NULL, to_ggml_log);
