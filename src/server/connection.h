/* apir-server: one guest connection (connection.c). */
#ifndef APIR_SERVER_CONNECTION_H
#define APIR_SERVER_CONNECTION_H

#include <stdint.h>

#include "config.h"

struct status_slot;

/* Serves one guest until it disconnects or SIGTERM/SIGINT; returns 0.
 * With `refused` (the server's --max-contexts are running) the guest is
 * only told so, in its capset query, and the connection ends. Its context
 * is counted in `status` (NULL: not shown in the status). A status query
 * instead of a guest is answered, and the connection ends. */
int serve_connection(int sock, uint32_t ctx_id, const struct server_options *opts, bool refused,
                     struct status_slot *status);

#endif
