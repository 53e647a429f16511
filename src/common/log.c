#include "log.h"

#include <stdlib.h>

static void open_sink(struct log_sink *sink)
{
    sink->opened = true;
    sink->debug = getenv("GGML_VIRTGPU_DEBUG") != NULL;
    const char *path = getenv(sink->file_env);
    if (path == NULL) {
        return;
    }
    sink->file = fopen(path, "a");
    if (sink->file == NULL) {
        fprintf(stderr, "%scannot open the log file '%s' named by %s; logging to stderr\n", sink->prefix, path,
                sink->file_env);
    }
}

FILE *log_file(struct log_sink *sink)
{
    pthread_mutex_lock(&sink->lock);
    if (!sink->opened) {
        open_sink(sink);
    }
    pthread_mutex_unlock(&sink->lock);
    return sink->file;
}

void log_vwrite(struct log_sink *sink, enum log_level level, const char *fmt, va_list ap)
{
    static const char *const names[] = { "debug", "info", "warning", "error" };
    FILE *file = log_file(sink);
    if (!sink->debug && level < (file ? LOG_INFO : LOG_WARN)) {
        return;
    }
    FILE *out = file ? file : stderr;
    pthread_mutex_lock(&sink->lock);
    fprintf(out, "%s%s: ", sink->prefix, names[level]);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    fflush(out);
    pthread_mutex_unlock(&sink->lock);
}
