/* apir-server's options: parsing, usage text, and their application to a
 * new APIR context (after the context took the environment's values). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apir/names.h"
#include "log.h"
#include "vtest-protocol.h"

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
            "  --backend-library PATH   APIR backend library, libggml-virtgpu-backend.so\n"
            "                           (key " APIR_CFG_LOAD_LIBRARY_PATH "; env " ENV_BACKEND_LIBRARY ")\n"
            "  --ggml-library PATH      GGML backend library to run on, e.g. libggml-cuda.so\n"
            "                           (key " APIR_CFG_GGML_LIBRARY_PATH "; env " ENV_GGML_LIBRARY_PATH ")\n"
            "  --ggml-reg SYMBOL        its registration function (default " DEFAULT_GGML_LIBRARY_REG ")\n"
            "                           (key " APIR_CFG_GGML_LIBRARY_REG "; env " ENV_GGML_LIBRARY_REG ")\n"
            "  --log-file PATH          log of the APIR component (env " ENV_APIR_LOG_FILE ";\n"
            "                           default stderr)\n"
            "  -h, --help               this text\n"
            "Options take precedence over the environment. " ENV_DEBUG "=1 logs every call.\n",
            VTEST_DEFAULT_SOCKET_NAME);
}

enum server_options_result server_parse_options(int argc, char **argv, struct server_options *o)
{
    static const char *const flags[] = { "--socket", "--backend-library", "--ggml-library", "--ggml-reg",
                                         "--log-file" };
    const char **fields[] = { &o->socket_path, &o->backend_library, &o->ggml_library, &o->ggml_reg,
                              &o->log_file };
    *o = (struct server_options){ .socket_path = VTEST_DEFAULT_SOCKET_NAME };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return SERVER_OPTIONS_HELP;
        }
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(argv[i], flags[f]) != 0) {
            f++;
        }
        if (f == sizeof flags / sizeof flags[0]) {
            fprintf(stderr, "apir-server: unknown option '%s' (see --help)\n", argv[i]);
            return SERVER_OPTIONS_INVALID;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "apir-server: option '%s' needs a value (see --help)\n", argv[i]);
            return SERVER_OPTIONS_INVALID;
        }
        *fields[f] = argv[++i];
    }
    return SERVER_OPTIONS_RUN;
}
