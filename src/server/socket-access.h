/* Who may connect to apir-server's socket: the group and the mode its file
 * gets (--socket-group, --socket-mode), so that a service running as its
 * own user can serve guests (VMMs, containers) of another user in a group. */
#ifndef APIR_SERVER_SOCKET_ACCESS_H
#define APIR_SERVER_SOCKET_ACCESS_H

#include <stdbool.h>

/* Gives the socket file at path the group (a name or a number) and the
 * mode (octal, at most 0777), each when not NULL. False (and logs why)
 * when a value is invalid or the file cannot be changed. */
bool socket_set_access(const char *path, const char *group, const char *mode);

#endif
