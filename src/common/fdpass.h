/* Passing file descriptors over a Unix socket the vtest way: one data byte
 * carrying an SCM_RIGHTS control message. */
#ifndef FDPASS_H
#define FDPASS_H

#include <stdbool.h>
#include <stddef.h>

bool fd_send(int sock, int fd);
/* the received descriptor, or -1 */
int fd_receive(int sock);
/* write/read exactly n bytes (retrying on EINTR and short transfers) */
bool write_all(int fd, const void *buf, size_t n);
bool read_all(int fd, void *buf, size_t n);
/* read_all that also gives up when *stop becomes non-zero (checked when a
 * signal interrupts the read) */
bool read_all_unless(int fd, void *buf, size_t n, const volatile int *stop);
/* sends all of iov (advancing it) without raising SIGPIPE */
struct iovec;
bool send_iov_all(int sock, struct iovec *iov, int n);

#endif
