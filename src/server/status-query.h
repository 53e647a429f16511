/* apir-server's status query over its own socket: answering one, and
 * asking one (apir-server --status). */
#ifndef APIR_SERVER_STATUS_QUERY_H
#define APIR_SERVER_STATUS_QUERY_H

#include <stdbool.h>

/* Answers a status query that came on sock: the report to the server's own
 * user or root, a refusal to anyone else. false when it could not be sent. */
bool status_answer(int sock);
/* apir-server --status SOCKET: asks the server there and prints its
 * answer; the exit status (0: the report was printed). */
int status_query(const char *socket_path);

#endif
