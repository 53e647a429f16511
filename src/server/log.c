/* apir-server's log sink: the file of the APIR component
 * (VIRGL_APIR_LOG_TO_FILE, set by --log-file), or stderr. Every diagnostic
 * of the server goes through it, those about its command line included;
 * what stays on stdout and stderr is a command's output: --help's text
 * (config.c) and the answer of --status (status-query.c). */
#include "log.h"

#include "apir/names.h"

struct log_sink component_log = LOG_SINK_INIT("apir-server: ", ENV_APIR_LOG_FILE, NULL);
