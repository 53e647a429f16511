#define _GNU_SOURCE
#include "fdpass.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

bool fd_send(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = { &byte, 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                          .msg_controllen = sizeof control.buf };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == 1;
}

int fd_receive(int sock)
{
    char byte;
    struct iovec iov = { &byte, 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                          .msg_controllen = sizeof control.buf };
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    struct cmsghdr *cmsg = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
        cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
        return -1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

/* One send or read of up to n bytes: what it moved, or -1 with errno. */
typedef ssize_t (*transfer_fn)(int fd, void *buf, size_t n);

static ssize_t send_some(int fd, void *buf, size_t n)
{
    return send(fd, buf, n, MSG_NOSIGNAL);
}

static ssize_t read_some(int fd, void *buf, size_t n)
{
    return read(fd, buf, n);
}

/* Repeats transfer until n bytes moved; an interrupted call is retried
 * unless *stop is set. */
static bool transfer_all(int fd, char *p, size_t n, transfer_fn transfer, const volatile int *stop)
{
    while (n > 0) {
        const ssize_t done = transfer(fd, p, n);
        if (done < 0 && errno == EINTR && (stop == NULL || !*stop)) {
            continue;
        }
        if (done <= 0) {
            return false;
        }
        p += done;
        n -= (size_t)done;
    }
    return true;
}

bool write_all(int fd, const void *buf, size_t n)
{
    /* send_some does not write to the buffer */
    return transfer_all(fd, (char *)(uintptr_t)buf, n, send_some, NULL);
}

bool read_all_unless(int fd, void *buf, size_t n, const volatile int *stop)
{
    return transfer_all(fd, buf, n, read_some, stop);
}

bool read_all(int fd, void *buf, size_t n)
{
    return read_all_unless(fd, buf, n, NULL);
}

bool send_iov_all(int sock, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return false;
        }
        while (n > 0 && (size_t)sent >= iov->iov_len) {
            sent -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + sent;
            iov->iov_len -= (size_t)sent;
        }
    }
    return true;
}
