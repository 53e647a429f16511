/* apir-server's live status: a table in memory shared by the server and
 * every connection's process, one slot per connection, which each
 * connection's process keeps up to date for its own context (status.c);
 * the report made from it. The query over the server's own socket is
 * status-query.h's. */
#ifndef APIR_SERVER_STATUS_H
#define APIR_SERVER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apir/apir.h"

struct status_slot;

/* ---- the server ---- */
/* Makes the table, room for `slots` connections, before the first fork;
 * false (logged) when it cannot: there is no status then. */
bool status_table_create(size_t slots);
/* A cleared slot for the connection about to be forked, or -1 (no table,
 * or every slot taken: that connection is left out of the report). */
int status_slot_reserve(void);
/* its connection's process has ended */
void status_slot_release(int slot);
/* slot's place in the table, or NULL for -1 */
struct status_slot *status_slot_at(int slot);

/* ---- a connection's process, for its own slot (each takes NULL) ---- */
/* Its APIR context runs: shown from now on. sock is the guest's
 * connection, whose credentials name the guest's process. */
void status_context_started(struct status_slot *s, uint32_t ctx_id, const char *name, int sock);
void status_context_ended(struct status_slot *s);
/* where libapir counts the context's commands (apir_context_count_into) */
struct apir_context_stats *status_context_counters(struct status_slot *s);
void status_blob_added(struct status_slot *s, uint64_t bytes);
void status_blob_removed(struct status_slot *s, uint64_t bytes);

/* ---- the report ---- */
/* the server's totals, then every live context */
void status_report_write(FILE *out);
/* SIGUSR1: the report into the server's log */
void status_report_log(void);

#endif
