/* The one log macro family of every component.
 *
 * Each component (guest frontend, APIR component, host library, apir-server)
 * defines its own sink, `component_log`, in its log.c: a prefix, the
 * variable naming its log file, or a function that takes each line (the
 * guest hands them to ggml's logger). Quiet by default: stderr gets warnings
 * and errors, a log file everything from info up, and GGML_VIRTGPU_DEBUG
 * adds debug messages. The CTX_ variants prefix an APIR context id. */
#ifndef VIRTGPU_LOG_H
#define VIRTGPU_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

typedef void (*log_emit_fn)(enum log_level level, const char *line);

struct log_sink {
    const char *prefix;   /* e.g. "apir: " */
    const char *file_env; /* variable naming the log file, or NULL */
    log_emit_fn emit;     /* takes every line instead of a file, or NULL */
    /* set on first use */
    pthread_mutex_t lock;
    bool opened;
    FILE *file;
    bool debug;
};

#define LOG_SINK_INIT(prefix, file_env, emit) \
    { (prefix), (file_env), (emit), PTHREAD_MUTEX_INITIALIZER, false, NULL, false }

/* the sink of the component being built */
extern struct log_sink component_log;

#define LOG_NO_CONTEXT (-1)

void log_write(struct log_sink *sink, enum log_level level, int64_t ctx_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The sink's log file, opening it if needed; NULL when it logs elsewhere. */
FILE *log_file(struct log_sink *sink);
bool log_debug_enabled(struct log_sink *sink);
/* Writes each line of text where the sink writes, tagged, whatever the
 * level: for what its user asked for (apir-server's report on SIGUSR1). */
void log_lines(struct log_sink *sink, const char *tag, const char *text);

#define LOG_ERROR(...) log_write(&component_log, LOG_LEVEL_ERROR, LOG_NO_CONTEXT, __VA_ARGS__)
#define LOG_WARN(...) log_write(&component_log, LOG_LEVEL_WARN, LOG_NO_CONTEXT, __VA_ARGS__)
#define LOG_INFO(...) log_write(&component_log, LOG_LEVEL_INFO, LOG_NO_CONTEXT, __VA_ARGS__)
#define LOG_DEBUG(...) log_write(&component_log, LOG_LEVEL_DEBUG, LOG_NO_CONTEXT, __VA_ARGS__)

#define CTX_ERROR(ctx_id, ...) log_write(&component_log, LOG_LEVEL_ERROR, (int64_t)(ctx_id), __VA_ARGS__)
#define CTX_WARN(ctx_id, ...) log_write(&component_log, LOG_LEVEL_WARN, (int64_t)(ctx_id), __VA_ARGS__)
#define CTX_INFO(ctx_id, ...) log_write(&component_log, LOG_LEVEL_INFO, (int64_t)(ctx_id), __VA_ARGS__)
#define CTX_DEBUG(ctx_id, ...) log_write(&component_log, LOG_LEVEL_DEBUG, (int64_t)(ctx_id), __VA_ARGS__)

#endif
