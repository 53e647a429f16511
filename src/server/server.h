/* apir-server: hosts APIR contexts for guest processes over vtest. */
#ifndef APIR_SERVER_H
#define APIR_SERVER_H

#include <stdint.h>

#include "apir/apir.h"
#include "apir/names.h"
#include "log.h"

struct server_options {
    const char *socket_path;
    const char *backend_library; /* apir.load_library.path */
    const char *ggml_library;    /* ggml.library.path */
    const char *ggml_reg;        /* ggml.library.reg */
    const char *log_file;
};

/* command-line values override the environment's in a new context */
void server_apply_config(const struct server_options *opts, struct apir_context *ctx);
/* serves one guest until it disconnects or SIGTERM/SIGINT; returns 0 */
int serve_connection(int sock, uint32_t ctx_id, const struct server_options *opts);

#endif
