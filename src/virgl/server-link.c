/* The apir-server behind the VMM's APIR contexts (see server-link.h). */
#define _GNU_SOURCE
#include "server-link.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apir/names.h"
#include "fdpass.h"
#include "log.h"

extern char **environ;

/* the descriptor at which the private server finds its socket (--socket-fd) */
#define PRIVATE_SERVER_FD 3
/* how long cleanup waits for the private server to end before leaving it to end by itself */
#define PRIVATE_SERVER_EXIT_WAIT_MS 500

/* the private server: its pid and this end of its socket (-1: none runs) */
static struct {
    pid_t pid;
    int sock;
} private_server = { 0, -1 };

static int connect_service(const char *path, char *err, size_t err_size)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(err, err_size, ENV_SERVER_SOCKET "=%s: the path is too long for a Unix socket", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    const int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof addr) == 0) {
        return sock;
    }
    snprintf(err, err_size, "cannot connect to the apir-server at %s (" ENV_SERVER_SOCKET "): %s; start it (the "
             "apir-server service), or let the VMM's user reach its socket (its group)", path, strerror(errno));
    if (sock >= 0) {
        close(sock);
    }
    return -1;
}

/* The apir-server program: the variable's, else the one beside this
 * library (a build's bin/, or an install whose libdir is lib/), else the
 * installed one. False when it is not there. */
static bool server_program(char out[PATH_MAX])
{
    const size_t size = PATH_MAX;
    const char *named = getenv(ENV_SERVER_PROGRAM);
    if (named != NULL && named[0] != '\0') {
        snprintf(out, size, "%s", named);
        return access(out, X_OK) == 0;
    }
    Dl_info self;
    if (dladdr((void *)server_program, &self) != 0 && self.dli_fname != NULL && strrchr(self.dli_fname, '/')) {
        const int dir_length = (int)(strrchr(self.dli_fname, '/') - self.dli_fname);
        char beside[PATH_MAX];
        snprintf(beside, sizeof beside, "%.*s/../../bin/apir-server", dir_length, self.dli_fname);
        if (realpath(beside, out) != NULL && access(out, X_OK) == 0) {
            return true;
        }
    }
    snprintf(out, size, "%s", VIRGL_INSTALLED_SERVER);
    return access(out, X_OK) == 0;
}

/* Starts `program --socket-fd 3` with `theirs` at descriptor 3 and nothing
 * else of the VMM's open, the default signal handling, in a process group
 * of its own (a terminal's Ctrl-C reaches the VMM, whose exit then ends
 * it). Not a session of its own: the scheduler's autogroups would then
 * share the cores between the VMM and the server as two equal groups. */
static int spawn_server(const char *program, int theirs, pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs, PRIVATE_SERVER_FD);
    posix_spawn_file_actions_addclosefrom_np(&actions, PRIVATE_SERVER_FD + 1);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    char fd_text[16];
    snprintf(fd_text, sizeof fd_text, "%d", PRIVATE_SERVER_FD);
    char *const argv[] = { (char *)program, "--socket-fd", fd_text, NULL };
    const int rc = posix_spawn(pid, program, &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

static bool start_private_server(char *err, size_t err_size)
{
    char program[PATH_MAX];
    if (!server_program(program)) {
        snprintf(err, err_size, "no apir-server program at %s: set " ENV_SERVER_PROGRAM " to it, or "
                 ENV_SERVER_SOCKET " to the socket of a running apir-server", program);
        return false;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        snprintf(err, err_size, "cannot make a socket for a private apir-server: %s", strerror(errno));
        return false;
    }
    /* the server's end, away from the descriptor it is to have: a dup2 onto
     * itself would leave it close-on-exec */
    const int theirs = fcntl(pair[1], F_DUPFD_CLOEXEC, PRIVATE_SERVER_FD + 1);
    pid_t pid = 0;
    const int rc = theirs < 0 ? errno : spawn_server(program, theirs, &pid);
    close(pair[1]);
    if (theirs >= 0) {
        close(theirs);
    }
    if (rc != 0) {
        close(pair[0]);
        snprintf(err, err_size, "cannot start %s: %s (a VMM that may not start programs, e.g. QEMU's "
                 "-sandbox spawn=deny, needs " ENV_SERVER_SOCKET ")", program, strerror(rc));
        return false;
    }
    private_server.pid = pid;
    private_server.sock = pair[0];
    LOG_INFO("started a private apir-server (%s, pid %d) for this VMM's APIR contexts", program, (int)pid);
    return true;
}

/* Reaps the private server if it has ended, waiting up to wait_ms for it. */
static void reap_private_server(int wait_ms)
{
    for (int waited = 0;; waited++) {
        const pid_t reaped = waitpid(private_server.pid, NULL, WNOHANG);
        if (reaped != 0 || waited >= wait_ms) {
            return;
        }
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
}

/* Forgets a private server that cannot take contexts any more: the next context starts another. */
static void drop_private_server(void)
{
    close(private_server.sock);
    private_server.sock = -1;
    reap_private_server(0);
}

/* A new context's socket from the private server (started first if none runs). */
static int connect_private(char *err, size_t err_size)
{
    if (private_server.sock < 0 && !start_private_server(err, err_size)) {
        return -1;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
        snprintf(err, err_size, "cannot make a socket for a context: %s", strerror(errno));
        return -1;
    }
    const bool sent = fd_send(private_server.sock, pair[1]);
    close(pair[1]);
    if (!sent) {
        snprintf(err, err_size, "the private apir-server (pid %d) has ended (see its log); the next context "
                 "starts another", (int)private_server.pid);
        close(pair[0]);
        drop_private_server();
        return -1;
    }
    return pair[0];
}

int server_link_connect(char *err, size_t err_size)
{
    const char *service = getenv(ENV_SERVER_SOCKET);
    if (service != NULL && service[0] != '\0') {
        return connect_service(service, err, err_size);
    }
    return connect_private(err, err_size);
}

void server_link_close(void)
{
    if (private_server.sock < 0) {
        return;
    }
    close(private_server.sock); /* the server stops when it sees this */
    private_server.sock = -1;
    reap_private_server(PRIVATE_SERVER_EXIT_WAIT_MS);
}
