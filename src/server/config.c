/* apir-server's options: parsing, usage text, and their application to a
 * new APIR context (after the context took the environment's values). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit-value.h"
#include "log.h"
#include "vtest-protocol.h"

/* the --max-* options of the limits a context's configuration carries */
struct limit_option {
    const char *key;
    const char *variable;
    uint64_t default_value;
    const char *option;
    const char *argument;
    const char *what;
};

#define LIMIT_OPTION(key, variable, default_value, option, argument, what) \
    { key, variable, default_value, option, argument, what },
static const struct limit_option limit_options[SERVER_LIMIT_COUNT] = { APIR_LIMITS(LIMIT_OPTION) };
#undef LIMIT_OPTION

void server_apply_config(const struct server_options *opts, struct apir_context *ctx)
{
    if (opts->backend_library != NULL) {
        apir_context_set_config(ctx, APIR_CFG_LOAD_LIBRARY_PATH, opts->backend_library);
    }
    if (opts->ggml_library != NULL) {
        apir_context_set_config(ctx, APIR_CFG_GGML_LIBRARY_PATH, opts->ggml_library);
    }
    if (opts->ggml_reg != NULL) {
        apir_context_set_config(ctx, APIR_CFG_GGML_LIBRARY_REG, opts->ggml_reg);
    }
    for (int i = 0; i < SERVER_LIMIT_COUNT; i++) {
        if (opts->limits[i] != NULL) {
            apir_context_set_config(ctx, limit_options[i].key, opts->limits[i]);
        }
    }
}

void server_warn_unconfigured(const struct server_options *opts)
{
    if (opts->backend_library == NULL && getenv(ENV_BACKEND_LIBRARY) == NULL) {
        LOG_WARN("no APIR backend library: guests will be refused until --backend-library or "
                 ENV_BACKEND_LIBRARY " names libggml-virtgpu-backend.so");
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: apir-server [options]\n"
            "Serves APIR contexts (GGML API remoting) to guests over virglrenderer's vtest protocol.\n\n"
            "  --socket PATH            Unix socket to listen on (default %s)\n"
            "  --socket-group GROUP     the socket's group, for guests of another user in it\n"
            "                           (the server's user must be a member)\n"
            "  --socket-mode MODE       the socket's mode, octal (e.g. 0660; default from the umask)\n"
            "  --socket-fd FD           serve one VMM, instead of listening: each message on the\n"
            "                           connected socket FD brings one context's socket; the\n"
            "                           server stops when the VMM closes FD (how our\n"
            "                           libvirglrenderer.so.1 starts its private server)\n"
            "  --backend-library PATH   APIR backend library, libggml-virtgpu-backend.so\n"
            "                           (key " APIR_CFG_LOAD_LIBRARY_PATH "; env " ENV_BACKEND_LIBRARY ")\n"
            "  --ggml-library PATH      GGML backend library to run on, e.g. libggml-cuda.so\n"
            "                           (key " APIR_CFG_GGML_LIBRARY_PATH "; env " ENV_GGML_LIBRARY_PATH ")\n"
            "  --ggml-reg SYMBOL        its registration function (default " DEFAULT_GGML_LIBRARY_REG ")\n"
            "                           (key " APIR_CFG_GGML_LIBRARY_REG "; env " ENV_GGML_LIBRARY_REG ")\n"
            "  --log-file PATH          log of the APIR component (env " ENV_APIR_LOG_FILE ";\n"
            "                           default stderr)\n"
            "Limits (a call over one is refused and the guest told why; 0: no limit; BYTES may end\n"
            "in K, M, G or T):\n",
            VTEST_DEFAULT_SOCKET_NAME);
    for (int i = 0; i < SERVER_LIMIT_COUNT; i++) {
        const struct limit_option *l = &limit_options[i];
        char head[64], fallback[32] = "none";
        snprintf(head, sizeof head, "%s %s", l->option, l->argument);
        if (l->default_value != 0) {
            snprintf(fallback, sizeof fallback, "%llu", (unsigned long long)l->default_value);
        }
        fprintf(out, "  %-24s %s\n%27s(default %s; key %s;\n%27senv %s)\n", head, l->what, "", fallback, l->key, "",
                l->variable);
    }
    fprintf(out,
            "  " OPT_MAX_CONTEXTS " N         guests served at once; one more is told it was refused\n"
            "                           (default %d; env " ENV_MAX_CONTEXTS ")\n"
            "  --no-sandbox             serve each guest without the seccomp sandbox its process\n"
            "                           enters once its device is started; for debugging only\n"
            "                           (env " ENV_NO_SANDBOX ")\n"
            "  --status SOCKET          print the live status of the apir-server listening on SOCKET\n"
            "                           (its contexts, memory, calls, latency), then exit; answered\n"
            "                           to that server's user or root. SIGUSR1 logs the same report.\n"
            "  -h, --help               this text\n"
            "Options take precedence over the environment. " ENV_DEBUG "=1 logs every call.\n",
            DEFAULT_MAX_CONTEXTS);
}

/* Whether a limit's value (named what) is a limit; says why not. */
static bool valid_limit(const char *what, const char *value, uint64_t *out)
{
    if (value != NULL && !limit_parse(value, UINT64_MAX, out)) {
        LOG_ERROR("%s: '%s' is not a limit (a number with an optional K, M, G or T suffix; 0 for none)", what,
                  value);
        return false;
    }
    return true;
}

/* The limits' values from the command line and the environment, checked
 * now rather than when the first guest comes. */
static bool check_limits(struct server_options *o)
{
    uint64_t value;
    for (int i = 0; i < SERVER_LIMIT_COUNT; i++) {
        if (!valid_limit(limit_options[i].option, o->limits[i], &value) ||
            !valid_limit(limit_options[i].variable, getenv(limit_options[i].variable), &value)) {
            return false;
        }
    }
    const char *contexts = getenv(ENV_MAX_CONTEXTS);
    return valid_limit(ENV_MAX_CONTEXTS, contexts, &o->max_contexts);
}

uint64_t server_graph_seconds(const struct server_options *opts)
{
    for (int i = 0; i < SERVER_LIMIT_COUNT; i++) {
        const char *value = opts->limits[i] != NULL ? opts->limits[i] : getenv(limit_options[i].variable);
        uint64_t seconds;
        if (strcmp(limit_options[i].key, APIR_CFG_MAX_GRAPH_SECONDS) == 0) {
            /* checked at start (check_limits) */
            return value != NULL && limit_parse(value, UINT64_MAX, &seconds) ? seconds : DEFAULT_MAX_GRAPH_SECONDS;
        }
    }
    return DEFAULT_MAX_GRAPH_SECONDS;
}

/* The field an option sets, or NULL for an unknown option. */
static const char **option_field(struct server_options *o, const char *flag, const char **max_contexts)
{
    static const char *const flags[] = { "--socket", "--socket-group", "--socket-mode", "--backend-library",
                                         "--ggml-library", "--ggml-reg", "--log-file", "--status", "--socket-fd" };
    const char **fields[] = { &o->socket_path, &o->socket_group, &o->socket_mode, &o->backend_library,
                              &o->ggml_library, &o->ggml_reg, &o->log_file, &o->status_socket, &o->socket_fd };
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        if (strcmp(flag, flags[f]) == 0) {
            return fields[f];
        }
    }
    for (int i = 0; i < SERVER_LIMIT_COUNT; i++) {
        if (strcmp(flag, limit_options[i].option) == 0) {
            return &o->limits[i];
        }
    }
    return strcmp(flag, OPT_MAX_CONTEXTS) == 0 ? max_contexts : NULL;
}

enum server_options_result server_parse_options(int argc, char **argv, struct server_options *o)
{
    *o = (struct server_options){ .socket_path = VTEST_DEFAULT_SOCKET_NAME, .max_contexts = DEFAULT_MAX_CONTEXTS,
                                  .sandbox = getenv(ENV_NO_SANDBOX) == NULL };
    const char *max_contexts = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return SERVER_OPTIONS_HELP;
        }
        if (strcmp(argv[i], "--no-sandbox") == 0) {
            o->sandbox = false;
            continue;
        }
        const char **field = option_field(o, argv[i], &max_contexts);
        if (field == NULL) {
            LOG_ERROR("unknown option '%s' (see --help)", argv[i]);
            return SERVER_OPTIONS_INVALID;
        }
        if (i + 1 >= argc) {
            LOG_ERROR("option '%s' needs a value (see --help)", argv[i]);
            return SERVER_OPTIONS_INVALID;
        }
        *field = argv[++i];
    }
    /* the option after the environment: it takes precedence */
    if (!check_limits(o) || !valid_limit(OPT_MAX_CONTEXTS, max_contexts, &o->max_contexts)) {
        return SERVER_OPTIONS_INVALID;
    }
    return o->status_socket != NULL ? SERVER_OPTIONS_STATUS : SERVER_OPTIONS_RUN;
}
