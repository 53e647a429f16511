/* The log sink of the virglrenderer-ABI library: the APIR component's file
 * (VIRGL_APIR_LOG_TO_FILE), or stderr. */
#include "log.h"

#include "apir/names.h"

struct log_sink component_log = LOG_SINK_INIT("apir-virgl: ", ENV_APIR_LOG_FILE, NULL);
