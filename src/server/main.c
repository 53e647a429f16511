/* apir-server: listens on a Unix socket and serves each guest connection in
 * a process of its own, hosting one APIR context per connection. SIGINT or
 * SIGTERM stops it: every connection's context is released, the socket
 * file removed. SIGUSR1 writes the live status report to its log;
 * --status SOCKET asks a running server for it. With --socket-fd it serves
 * one VMM instead (our libvirglrenderer.so.1 starts it so): the contexts'
 * sockets come over that connection, and its end stops the server. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apir/names.h"
#include "config.h"
#include "connection.h"
#include "fdpass.h"
#include "log.h"
#include "socket-access.h"
#include "status-query.h"
#include "status.h"

#define EXIT_USAGE 2
/* guests over --max-contexts being told so at once; more are just closed */
#define MAX_REFUSING 16
/* status slots beyond the contexts and refused guests: for status queries */
#define STATUS_QUERY_SLOTS 16
/* the most contexts the status shows (without --max-contexts, or past it) */
#define MAX_STATUS_CONTEXTS 4096

/* Set by the signal handlers. These two flags are the only file globals:
 * a handler gets no argument through which to reach a struct server. */
static volatile sig_atomic_t stopping, report_asked;

struct child {
    pid_t pid;
    uint32_t ctx_id;
    bool refusing; /* tells its guest it is refused, serves no context */
    int status_slot; /* -1: none */
};

/* the serving loop's state */
struct server {
    const struct server_options *opts;
    int listener;
    struct child *children; /* a connection's process each */
    size_t n_children, cap_children, n_refusing;
    sigset_t serving_mask; /* the signal mask outside ppoll() (and in each connection's process) */
};

/* A socket listening at the temporary path; -1 (said why) when it cannot. */
static int bind_listening(const char *temporary, const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, temporary);
    const int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(temporary);
    if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(sock, 64) < 0) {
        LOG_ERROR("cannot listen on %s: %s", path, strerror(errno));
        if (sock >= 0) {
            close(sock);
        }
        return -1;
    }
    return sock;
}

/* Listens on the socket at path. The socket is bound under a temporary
 * name and renamed into place once it listens and has its group and mode:
 * a client that sees the file can connect. */
static int listen_on(const char *path, const struct server_options *opts)
{
    char temporary[sizeof((struct sockaddr_un *)NULL)->sun_path];
    if (snprintf(temporary, sizeof temporary, "%s.%d", path, (int)getpid()) >= (int)sizeof temporary) {
        LOG_ERROR("socket path '%s' is too long", path);
        return -1;
    }
    const int sock = bind_listening(temporary, path);
    if (sock < 0) {
        return -1;
    }
    if (!socket_set_access(temporary, opts->socket_group, opts->socket_mode)) {
        unlink(temporary);
        close(sock);
        return -1;
    }
    if (rename(temporary, path) < 0) {
        LOG_ERROR("cannot listen on %s: %s", path, strerror(errno));
        unlink(temporary);
        close(sock);
        return -1;
    }
    return sock;
}

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on_report(int sig)
{
    (void)sig;
    report_asked = 1;
}

/* a child ended: ppoll() returns, and the loop reaps it */
static void on_child(int sig)
{
    (void)sig;
}

static void log_exit(const struct child *child, int status)
{
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        LOG_ERROR("client %u (pid %d) was killed by signal %d (%s)%s", child->ctx_id, (int)child->pid, sig,
                  strsignal(sig), sig == SIGSYS ? ": its sandbox stopped a system call it forbids" : "");
    } else if (WEXITSTATUS(status) != 0) {
        LOG_ERROR("client %u (pid %d) exited with status %d", child->ctx_id, (int)child->pid,
                  WEXITSTATUS(status));
    } else {
        LOG_INFO("client %u (pid %d) exited with status 0", child->ctx_id, (int)child->pid);
    }
}

static void reap_children(struct server *s, bool block)
{
    pid_t pid;
    int status;
    while (s->n_children > 0 && (pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
        for (size_t i = 0; i < s->n_children; i++) {
            if (s->children[i].pid == pid) {
                log_exit(&s->children[i], status);
                s->n_refusing -= s->children[i].refusing;
                status_slot_release(s->children[i].status_slot);
                s->children[i] = s->children[--s->n_children];
                break;
            }
        }
    }
}

/* How long a connection's process may take to stop once asked */
#define STOP_GRACE_MS 3000

/* Asks every connection's process to stop, and kills those still running after STOP_GRACE_MS:
 * one in a long graph compute does not look at its stop flag. */
static void stop_children(struct server *s)
{
    for (size_t i = 0; i < s->n_children; i++) {
        kill(s->children[i].pid, SIGTERM);
    }
    for (int waited = 0; s->n_children > 0 && waited < STOP_GRACE_MS; waited += 10) {
        reap_children(s, false);
        usleep(10000);
    }
    for (size_t i = 0; i < s->n_children; i++) {
        LOG_WARN("client %u (pid %d) did not stop within %d ms; killing it", s->children[i].ctx_id,
                 (int)s->children[i].pid, STOP_GRACE_MS);
        kill(s->children[i].pid, SIGKILL);
    }
    reap_children(s, true);
}

/* Whether a new guest is refused, over --max-contexts; logged. */
static bool over_max_contexts(const struct server *s, uint32_t ctx_id)
{
    const size_t contexts = s->n_children - s->n_refusing;
    if (s->opts->max_contexts == 0 || contexts < s->opts->max_contexts) {
        return false;
    }
    LOG_ERROR("client %u refused: %zu contexts are running, the limit; raise it with apir-server "
              OPT_MAX_CONTEXTS " (env " ENV_MAX_CONTEXTS ")", ctx_id, contexts);
    return true;
}

static bool room_for_child(struct server *s)
{
    if (s->n_children < s->cap_children) {
        return true;
    }
    const size_t cap = s->cap_children ? 2 * s->cap_children : 64;
    struct child *grown = realloc(s->children, sizeof *grown * cap);
    if (grown == NULL) {
        return false;
    }
    s->children = grown;
    s->cap_children = cap;
    return true;
}

static void spawn_connection(struct server *s, int sock, uint32_t ctx_id)
{
    const bool refused = over_max_contexts(s, ctx_id);
    if ((refused && s->n_refusing == MAX_REFUSING) || !room_for_child(s)) {
        LOG_ERROR("client %u: closing its connection (%d refused guests are being told so already, or out of "
                  "memory)", ctx_id, MAX_REFUSING);
        close(sock);
        return;
    }
    const int slot = status_slot_reserve();
    const pid_t pid = fork();
    if (pid == 0) {
        close(s->listener);
        signal(SIGUSR1, SIG_IGN); /* the report is the server's to write */
        sigprocmask(SIG_SETMASK, &s->serving_mask, NULL);
        exit(serve_connection(sock, ctx_id, s->opts, refused, status_slot_at(slot)));
    }
    if (pid < 0) {
        LOG_ERROR("cannot fork for a new connection: %s", strerror(errno));
        status_slot_release(slot);
    } else {
        s->children[s->n_children++] = (struct child){ pid, ctx_id, refused, slot };
        s->n_refusing += refused;
    }
    close(sock);
}

/* --socket-fd's descriptor, if it is a connected stream socket; -1 (said why) otherwise */
static int vmm_socket(const char *value)
{
    char *end;
    errno = 0;
    const long fd = strtol(value, &end, 10);
    int type = 0;
    socklen_t size = sizeof type;
    if (errno != 0 || *end != '\0' || fd < 0 || fd > INT32_MAX ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &size) < 0 || type != SOCK_STREAM) {
        LOG_ERROR("--socket-fd %s: not a connected Unix stream socket", value);
        return -1;
    }
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

/* The next guest's socket, or -1: accepted on the listening socket, or, with --socket-fd,
 * received from the VMM, whose hang-up stops the server (its contexts' processes with it). */
static int next_guest(struct server *s)
{
    if (s->opts->socket_fd == NULL) {
        const int sock = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
        if (sock < 0 && errno != EINTR && errno != EAGAIN) {
            LOG_ERROR("waiting for guests failed: %s", strerror(errno));
        }
        return sock;
    }
    const int sock = fd_receive(s->listener);
    char byte;
    const ssize_t peeked = sock < 0 ? recv(s->listener, &byte, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
    if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EINTR)) {
        LOG_INFO("the VMM closed its socket; stopping");
        stopping = 1;
    }
    return sock;
}

/* a slot for every guest served or refused at once, and a few status queries */
static size_t status_slots(const struct server_options *opts)
{
    const uint64_t contexts = opts->max_contexts;
    return (contexts == 0 || contexts > MAX_STATUS_CONTEXTS ? MAX_STATUS_CONTEXTS : (size_t)contexts) + MAX_REFUSING +
           STATUS_QUERY_SLOTS;
}

int main(int argc, char **argv)
{
    struct server_options opts;
    switch (server_parse_options(argc, argv, &opts)) {
    case SERVER_OPTIONS_RUN:
        break;
    case SERVER_OPTIONS_HELP:
        return 0;
    case SERVER_OPTIONS_STATUS:
        return status_query(opts.status_socket);
    case SERVER_OPTIONS_INVALID:
        return EXIT_USAGE;
    }
    if (opts.log_file != NULL) {
        setenv(ENV_APIR_LOG_FILE, opts.log_file, 1); /* for libapir's log too */
    }
    /* ggml's abort handler would fork gdb for a backtrace: a sandboxed
     * context may not fork, and a guest must not make the host run gdb */
    setenv(ENV_GGML_NO_BACKTRACE, "1", 1);
    /* the loop's signals arrive only while it waits in ppoll(), so none is
     * missed between a check and the wait */
    sigset_t loop_signals;
    sigemptyset(&loop_signals);
    sigaddset(&loop_signals, SIGINT);
    sigaddset(&loop_signals, SIGTERM);
    sigaddset(&loop_signals, SIGCHLD);
    sigaddset(&loop_signals, SIGUSR1);
    struct server server = { .opts = &opts };
    sigprocmask(SIG_BLOCK, &loop_signals, &server.serving_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_report;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    server.listener = opts.socket_fd != NULL ? vmm_socket(opts.socket_fd) : listen_on(opts.socket_path, &opts);
    if (server.listener < 0) {
        return 1;
    }
    server_warn_unconfigured(&opts);
    status_table_create(status_slots(&opts));
    if (opts.socket_fd != NULL) {
        LOG_INFO("serving the VMM (pid %d) on its socket", (int)getppid());
    } else {
        LOG_INFO("listening on %s", opts.socket_path);
    }
    uint32_t next_ctx_id = 1;
    while (!stopping) {
        struct pollfd incoming = { .fd = server.listener, .events = POLLIN };
        const int ready = ppoll(&incoming, 1, NULL, &server.serving_mask);
        reap_children(&server, false);
        if (report_asked) {
            report_asked = 0;
            status_report_log();
        }
        const int sock = ready > 0 ? next_guest(&server) : -1;
        if (sock >= 0) {
            spawn_connection(&server, sock, next_ctx_id++);
        } else if (ready < 0 && errno != EINTR) {
            LOG_ERROR("waiting for guests failed: %s", strerror(errno));
        }
    }
    close(server.listener);
    if (opts.socket_fd == NULL) {
        unlink(opts.socket_path);
    }
    stop_children(&server);
    free(server.children);
    LOG_INFO("stopped");
    return 0;
}
