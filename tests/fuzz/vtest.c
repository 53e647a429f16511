/* Fuzz target vtest: apir-server's vtest parser (serve_connection) reading
 * the input as the byte stream of a guest connection over a socketpair,
 * with libapir behind it (no backend library: FORWARD is answered "not
 * loaded"; the host is the other targets' part). One thread writes the
 * input and closes the write side, another drains the replies (blob fds
 * sent with them are dropped unread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "connection.h"
#include "fuzz.h"

#define CTX_ID 1u

struct feed {
    int sock;
    const uint8_t *data;
    size_t size;
};

static void *write_input(void *arg)
{
    struct feed *f = arg;
    size_t done = 0;
    ssize_t n;
    while (done < f->size && (n = send(f->sock, f->data + done, f->size - done, MSG_NOSIGNAL)) > 0) {
        done += (size_t)n;
    }
    shutdown(f->sock, SHUT_WR);
    return NULL;
}

static void *drain_replies(void *arg)
{
    const int sock = *(const int *)arg;
    char buf[4096];
    while (read(sock, buf, sizeof buf) > 0) {
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct server_options opts;
    /* the sandbox would confine the fuzzer itself */
    static char *argv[] = { "apir-server", "--no-sandbox", NULL };
    fuzz_setup();
    signal(SIGPIPE, SIG_IGN);
    if (server_parse_options(2, argv, &opts) != SERVER_OPTIONS_RUN) {
        abort();
    }
    int socks[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) != 0) {
        abort();
    }
    struct feed feed = { socks[1], data, size };
    pthread_t writer, drain;
    pthread_create(&writer, NULL, write_input, &feed);
    pthread_create(&drain, NULL, drain_replies, &socks[1]);
    serve_connection(socks[0], CTX_ID, &opts, false, NULL); /* closes socks[0] */
    pthread_join(writer, NULL);
    pthread_join(drain, NULL);
    close(socks[1]);
    return 0;
}
