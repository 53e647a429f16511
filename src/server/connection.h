/* apir-server: one guest connection (connection.c). */
#ifndef APIR_SERVER_CONNECTION_H
#define APIR_SERVER_CONNECTION_H

#include <stdint.h>

#include "config.h"

/* serves one guest until it disconnects or SIGTERM/SIGINT; returns 0 */
int serve_connection(int sock, uint32_t ctx_id, const struct server_options *opts);

#endif
