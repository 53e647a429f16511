/* apir-server's live status over its own socket: the answer a connection's
 * process gives to a status query, and the client, apir-server --status. */
#define _GNU_SOURCE
#include "status-query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "status.h"
#include "vtest-protocol.h"

/* the longest report the client reads */
#define MAX_STATUS_BYTES (64u << 20)

/* ---- the answer ---------------------------------------------------------- */

static bool send_answer(int sock, uint32_t answer, const char *text, size_t size)
{
    const size_t dwords = VCMD_APIR_STATUS_REPLY_TEXT + (size + 3) / 4;
    uint32_t *msg = calloc(VTEST_HDR_DWORDS + dwords, sizeof *msg);
    if (msg == NULL) {
        return false;
    }
    msg[VTEST_HDR_LEN] = (uint32_t)dwords;
    msg[VTEST_HDR_CMD] = VCMD_APIR_STATUS;
    uint32_t *payload = msg + VTEST_HDR_DWORDS;
    payload[VCMD_APIR_STATUS_REPLY_ANSWER] = answer;
    payload[VCMD_APIR_STATUS_REPLY_TEXT_BYTES] = (uint32_t)size;
    memcpy(payload + VCMD_APIR_STATUS_REPLY_TEXT, text, size);
    const bool sent = write_all(sock, msg, sizeof *msg * (VTEST_HDR_DWORDS + dwords));
    free(msg);
    return sent;
}

/* Whether the peer is the server's own user or root; why not in `why`. */
static bool may_ask(int sock, char *why, size_t size)
{
    struct ucred peer;
    socklen_t length = sizeof peer;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
        snprintf(why, size, "refused: the server cannot tell who asks (%s)", strerror(errno));
        return false;
    }
    if (peer.uid == geteuid() || peer.uid == 0) {
        return true;
    }
    snprintf(why, size, "refused: the status is answered only to the server's user (uid %u) or root, not to "
             "uid %u; ask as one of them", (unsigned)geteuid(), (unsigned)peer.uid);
    return false;
}

bool status_answer(int sock)
{
    char why[256];
    if (!may_ask(sock, why, sizeof why)) {
        LOG_WARN("a status query was %s", why);
        return send_answer(sock, VTEST_STATUS_REFUSED, why, strlen(why));
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL) {
        LOG_ERROR("cannot answer a status query: out of memory");
        return false;
    }
    status_report_write(out);
    fclose(out);
    const bool sent = send_answer(sock, VTEST_STATUS_REPORT, text, size);
    free(text);
    return sent;
}

/* ---- the client ---------------------------------------------------------- */
/* apir-server --status is a command whose output is its answer: the report
 * on stdout, or on stderr why there is none (fprintf, not the server's log:
 * whoever ran the command reads it there). */

static int connect_to(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    const int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
        const int error = errno;
        close(sock);
        errno = error;
        return -1;
    }
    return sock;
}

/* Reads the answer's payload (dwords long) and prints it; the exit status. */
static int print_answer(int sock, const char *path, uint32_t dwords)
{
    uint32_t *payload = malloc(sizeof *payload * dwords);
    if (payload == NULL || !read_all(sock, payload, sizeof *payload * dwords)) {
        fprintf(stderr, "apir-server --status: the answer of %s broke off\n", path);
        free(payload);
        return 1;
    }
    const uint32_t answer = payload[VCMD_APIR_STATUS_REPLY_ANSWER];
    uint32_t size = payload[VCMD_APIR_STATUS_REPLY_TEXT_BYTES];
    const uint32_t room = 4 * (dwords - VCMD_APIR_STATUS_REPLY_TEXT);
    size = size < room ? size : room;
    const char *text = (const char *)(payload + VCMD_APIR_STATUS_REPLY_TEXT);
    if (answer == VTEST_STATUS_REPORT) {
        fwrite(text, 1, size, stdout);
    } else {
        fprintf(stderr, "apir-server --status: %s %.*s\n", path, (int)size, text);
    }
    free(payload);
    return answer == VTEST_STATUS_REPORT ? 0 : 1;
}

int status_query(const char *socket_path)
{
    const int sock = connect_to(socket_path);
    if (sock < 0) {
        fprintf(stderr, "apir-server --status: cannot connect to %s: %s (is apir-server listening there?)\n",
                socket_path, strerror(errno));
        return 1;
    }
    const uint32_t query[VTEST_HDR_DWORDS] = { [VTEST_HDR_LEN] = 0, [VTEST_HDR_CMD] = VCMD_APIR_STATUS };
    uint32_t hdr[VTEST_HDR_DWORDS];
    int status = 1;
    if (!write_all(sock, query, sizeof query) || !read_all(sock, hdr, sizeof hdr)) {
        fprintf(stderr, "apir-server --status: %s closed the connection without answering (a server without "
                "--status, or not an apir-server)\n", socket_path);
    } else if (hdr[VTEST_HDR_CMD] != VCMD_APIR_STATUS || hdr[VTEST_HDR_LEN] < VCMD_APIR_STATUS_REPLY_TEXT ||
               hdr[VTEST_HDR_LEN] > MAX_STATUS_BYTES / 4) {
        fprintf(stderr, "apir-server --status: %s answered something other than a status (command %u, %u dwords)\n",
                socket_path, hdr[VTEST_HDR_CMD], hdr[VTEST_HDR_LEN]);
    } else {
        status = print_answer(sock, socket_path, hdr[VTEST_HDR_LEN]);
    }
    close(sock);
    return status;
}
