/* apir-server: the sandbox a connection's process enters once its
 * context's GGML library and device are started (sandbox.c). */
#ifndef APIR_SERVER_SANDBOX_H
#define APIR_SERVER_SANDBOX_H

#include <stdbool.h>

/* Confines this process and all its threads, for good: a seccomp-bpf
 * filter that allows only what a running context needs (no fork, no exec,
 * no new sockets) and resource limits (no core dumps). False (logged, with
 * `who` naming the connection) when the kernel refuses: the caller must
 * not go on serving. */
bool sandbox_enter(const char *who);

#endif
