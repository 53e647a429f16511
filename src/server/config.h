/* apir-server's configuration: command-line options, the environment
 * variables they stand for, and what a new APIR context takes from them. */
#ifndef APIR_SERVER_CONFIG_H
#define APIR_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "apir/apir.h"
#include "apir/names.h"

#define SERVER_COUNT_LIMIT(...) +1
/* the limits of APIR_LIMITS, in that order */
enum { SERVER_LIMIT_COUNT = 0 APIR_LIMITS(SERVER_COUNT_LIMIT) };
#undef SERVER_COUNT_LIMIT

struct server_options {
    const char *socket_path;
    const char *socket_group; /* the socket file's group, or NULL: the server's */
    const char *socket_mode;  /* its mode (octal), or NULL: from the umask */
    const char *backend_library; /* apir.load_library.path */
    const char *ggml_library;    /* ggml.library.path */
    const char *ggml_reg;        /* ggml.library.reg */
    const char *log_file;
    const char *status_socket;   /* --status: the server to ask */
    const char *socket_fd;       /* --socket-fd: a VMM's private server's connection to it, or NULL */
    const char *limits[SERVER_LIMIT_COUNT]; /* their --max-* values, or NULL */
    uint64_t max_contexts;       /* guests served at once, 0: no limit */
    bool sandbox; /* a connection's process is sandboxed once its device is started */
};

enum server_options_result {
    SERVER_OPTIONS_RUN,     /* *opts holds what to serve */
    SERVER_OPTIONS_HELP,    /* the usage text was printed: nothing to serve */
    SERVER_OPTIONS_STATUS,  /* ask the server at opts->status_socket for its status */
    SERVER_OPTIONS_INVALID, /* what is wrong was printed */
};

/* Fills *opts from the command line, defaults for what it leaves out. */
enum server_options_result server_parse_options(int argc, char **argv, struct server_options *opts);
/* Warns when no APIR backend library is named: every guest would be refused. */
void server_warn_unconfigured(const struct server_options *opts);
/* command-line values override the environment's in a new context */
void server_apply_config(const struct server_options *opts, struct apir_context *ctx);
/* The time budget of a graph run its contexts get (--max-graph-seconds,
 * else the environment, else the default), in seconds; 0: none. */
uint64_t server_graph_seconds(const struct server_options *opts);

#endif
