/* Where the VMM's APIR contexts run: in apir-server's per-guest processes.
 * Each context gets a socket of its own, connected to a fresh process of
 * the server named by APIR_SERVER_SOCKET (a service that several VMMs
 * share), or else of a private apir-server that this library starts for
 * its VMM (fork/exec, as virglrenderer starts its render server) and that
 * ends with it. Called from the VMM's renderer thread. */
#ifndef VIRGL_SERVER_LINK_H
#define VIRGL_SERVER_LINK_H

#include <stddef.h>

/* A socket (close-on-exec) to a new per-guest process, which speaks vtest;
 * -1 when there is none, with why in err. */
int server_link_connect(char *err, size_t err_size);

/* Ends the private server, if one was started (its processes end with it). */
void server_link_close(void);

#endif
