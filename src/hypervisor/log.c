/* The APIR component's log sink (VIRGL_APIR_LOG_TO_FILE, or stderr). */
#include "log.h"

#include "apir/names.h"

struct log_sink component_log = LOG_SINK_INIT("apir: ", ENV_APIR_LOG_FILE, NULL);
