/* apir-server's log sink: the file of the APIR component
 * (VIRGL_APIR_LOG_TO_FILE, set by --log-file), or stderr. */
#include "log.h"

#include "apir/names.h"

struct log_sink component_log = LOG_SINK_INIT("apir-server: ", ENV_APIR_LOG_FILE, NULL);
