/* A log sink of one component: quiet by default (stderr gets warnings and
 * errors), everything from info up when a log file is named by the sink's
 * environment variable, and debug messages with GGML_VIRTGPU_DEBUG set. */
#ifndef VIRTGPU_LOG_H
#define VIRTGPU_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct log_sink {
    const char *prefix;   /* e.g. "apir: " */
    const char *file_env; /* variable naming the log file */
    /* set on first use */
    pthread_mutex_t lock;
    bool opened;
    FILE *file;
    bool debug;
};

#define LOG_SINK_INIT(prefix, file_env) { prefix, file_env, PTHREAD_MUTEX_INITIALIZER, false, NULL, false }

void log_vwrite(struct log_sink *sink, enum log_level level, const char *fmt, va_list ap);
/* The sink's log file, opening it if needed; NULL when it logs to stderr. */
FILE *log_file(struct log_sink *sink);

#endif
