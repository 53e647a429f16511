#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "apir/names.h"

static void open_sink(struct log_sink *sink)
{
    sink->opened = true;
    sink->debug = getenv(ENV_DEBUG) != NULL;
    const char *path = sink->file_env ? getenv(sink->file_env) : NULL;
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

bool log_debug_enabled(struct log_sink *sink)
{
    log_file(sink);
    return sink->debug;
}

/* the lowest level that reaches where the sink writes */
static enum log_level threshold(struct log_sink *sink, FILE *file)
{
    if (sink->debug) {
        return LOG_LEVEL_DEBUG;
    }
    return file != NULL || sink->emit != NULL ? LOG_LEVEL_INFO : LOG_LEVEL_WARN;
}

void log_write(struct log_sink *sink, enum log_level level, int64_t ctx_id, const char *fmt, ...)
{
    static const char *const names[] = { "debug", "info", "warning", "error" };
    FILE *file = log_file(sink);
    if (level < threshold(sink, file)) {
        return;
    }
    char line[1024];
    int n = snprintf(line, sizeof line, "%s%s: ", sink->prefix, names[level]);
    if (ctx_id != LOG_NO_CONTEXT && n >= 0 && (size_t)n < sizeof line) {
        n += snprintf(line + n, sizeof line - (size_t)n, "context %lld: ", (long long)ctx_id);
    }
    if (n >= 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (sink->emit != NULL) {
        sink->emit(level, line);
        return;
    }
    FILE *out = file ? file : stderr;
    pthread_mutex_lock(&sink->lock);
    fprintf(out, "%s\n", line);
    fflush(out);
    pthread_mutex_unlock(&sink->lock);
}

void log_lines(struct log_sink *sink, const char *tag, const char *text)
{
    FILE *file = log_file(sink);
    FILE *out = file ? file : stderr;
    pthread_mutex_lock(&sink->lock);
    for (const char *line = text; *line != '\0';) {
        const size_t length = strcspn(line, "\n");
        char tagged[1024];
        snprintf(tagged, sizeof tagged, "%s%s: %.*s", sink->prefix, tag, (int)length, line);
        if (sink->emit != NULL) {
            sink->emit(LOG_LEVEL_INFO, tagged);
        } else {
            fprintf(out, "%s\n", tagged);
        }
        line += length + (line[length] == '\n');
    }
    if (sink->emit == NULL) {
        fflush(out);
    }
    pthread_mutex_unlock(&sink->lock);
}
