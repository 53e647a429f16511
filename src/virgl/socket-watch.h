/* A thread that watches sockets for their peer's hang-up: how the library
 * sees at once that a context's apir-server process ended, while the VMM's
 * thread is elsewhere (the guest waits on a reply word, and the VMM calls
 * nothing of ours meanwhile). */
#ifndef VIRGL_SOCKET_WATCH_H
#define VIRGL_SOCKET_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* Called on the watch thread with the key of a socket whose peer hung up
 * (the socket is watched no more). A key names one socket's watch: the
 * caller makes each unique, so a callback is never about a socket that
 * came later with the same descriptor. */
typedef void (*socket_hangup_fn)(uint64_t key);

/* Watches sock, under key, from now on (starting the thread the first
 * time); false (logged) when it cannot. */
bool socket_watch_add(int sock, uint64_t key, socket_hangup_fn on_hangup);
/* Stops watching sock (under key), before it is closed; no hang-up of it
 * is told once this returns. */
void socket_watch_remove(int sock, uint64_t key);
/* Ends the thread (the sockets are forgotten). */
void socket_watch_stop(void);

#endif
