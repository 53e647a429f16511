/* apir-server's live status: the shared table and the report (status.h).
 *
 * The server maps the table (MAP_SHARED, anonymous) before it forks any
 * connection's process, so every process sees the same memory. Each
 * connection's process is the only writer of its own slot, through relaxed
 * atomic stores (counters.h): no lock and no system call per command. The
 * server hands out and takes back the slots; any process reads them all. */
#define _GNU_SOURCE
#include "status.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "counters.h"
#include "log.h"

struct status_slot {
    uint64_t live; /* 1 while its context runs; set (release) once the rest is written */
    uint64_t ctx_id;
    uint64_t pid;       /* of the connection's process */
    uint64_t guest_pid; /* of the guest's, from its socket's credentials; 0: unknown */
    uint64_t guest_uid;
    uint64_t started_ns; /* CLOCK_MONOTONIC */
    uint64_t blobs;
    uint64_t blob_bytes;
    char name[64];
    struct apir_context_stats apir;
};
_Static_assert(sizeof(struct status_slot) % sizeof(uint64_t) == 0, "a slot is read as 64-bit words");

struct status_table {
    uint64_t server_pid;
    uint64_t started_ns;
    uint64_t contexts_served; /* added to by every connection's process */
    uint64_t n_slots;
    struct status_slot slots[];
};

/* the table, mapped before the first fork and so shared by every process,
 * and the server's own record of the slots it handed out */
static struct status_state {
    struct status_table *table;
    bool *slot_taken; /* the server's own record of the slots it handed out */
} status;

bool status_table_create(size_t slots)
{
    const size_t size = sizeof *status.table + slots * sizeof status.table->slots[0];
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    status.slot_taken = calloc(slots, sizeof *status.slot_taken);
    if (memory == MAP_FAILED || status.slot_taken == NULL) {
        LOG_WARN("no live status (--status, SIGUSR1): cannot map a table of %zu bytes", size);
        if (memory != MAP_FAILED) {
            munmap(memory, size);
        }
        free(status.slot_taken);
        status.slot_taken = NULL;
        return false;
    }
    status.table = memory; /* zeroed by mmap */
    status.table->server_pid = (uint64_t)getpid();
    status.table->started_ns = (uint64_t)monotonic_ns();
    status.table->n_slots = slots;
    return true;
}

int status_slot_reserve(void)
{
    for (uint64_t i = 0; status.table != NULL && i < status.table->n_slots; i++) {
        if (!status.slot_taken[i]) {
            status.slot_taken[i] = true;
            memset(&status.table->slots[i], 0, sizeof status.table->slots[i]);
            return (int)i;
        }
    }
    return -1;
}

void status_slot_release(int slot)
{
    if (slot >= 0) {
        status.slot_taken[slot] = false;
        counter_set(&status.table->slots[slot].live, 0); /* its process may have died before it said so */
    }
}

struct status_slot *status_slot_at(int slot)
{
    return slot >= 0 ? &status.table->slots[slot] : NULL;
}

/* ---- a connection's own slot ------------------------------------------- */

void status_context_started(struct status_slot *s, uint32_t ctx_id, const char *name, int sock)
{
    if (s == NULL) {
        return;
    }
    struct ucred guest;
    socklen_t size = sizeof guest;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &guest, &size) == 0) {
        counter_set(&s->guest_pid, (uint64_t)guest.pid);
        counter_set(&s->guest_uid, (uint64_t)guest.uid);
    }
    counter_set(&s->ctx_id, ctx_id);
    counter_set(&s->pid, (uint64_t)getpid());
    counter_set(&s->started_ns, (uint64_t)monotonic_ns());
    snprintf(s->name, sizeof s->name, "%s", name);
    atomic_fetch_add_explicit((_Atomic uint64_t *)&status.table->contexts_served, 1, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)&s->live, 1, memory_order_release);
}

void status_context_ended(struct status_slot *s)
{
    if (s != NULL) {
        counter_set(&s->live, 0);
    }
}

struct apir_context_stats *status_context_counters(struct status_slot *s)
{
    return s != NULL ? &s->apir : NULL;
}

void status_blob_added(struct status_slot *s, uint64_t bytes)
{
    if (s != NULL) {
        counter_add(&s->blobs, 1);
        counter_add(&s->blob_bytes, bytes);
    }
}

void status_blob_removed(struct status_slot *s, uint64_t bytes)
{
    if (s != NULL) {
        counter_add(&s->blobs, (uint64_t)-1);
        counter_add(&s->blob_bytes, (uint64_t)0 - bytes);
    }
}

/* ---- the report --------------------------------------------------------- */

/* A copy of a live slot, word by word; false when it is not live. */
static bool read_slot(const struct status_slot *s, struct status_slot *copy)
{
    if (atomic_load_explicit((_Atomic uint64_t *)&s->live, memory_order_acquire) == 0) {
        return false;
    }
    const uint64_t *from = (const uint64_t *)s;
    uint64_t *to = (uint64_t *)copy;
    for (size_t i = 0; i < sizeof *s / sizeof *from; i++) {
        to[i] = counter_get(&from[i]);
    }
    copy->name[sizeof copy->name - 1] = '\0';
    return true;
}

static const char *human_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024;
        unit++;
    }
    snprintf(buf, size, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    return buf;
}

static const char *human_ns(uint64_t ns, char *buf, size_t size)
{
    const unsigned long long s = ns / 1000000000;
    if (ns < 1000000) {
        snprintf(buf, size, "%.1f us", (double)ns / 1e3);
    } else if (ns < 1000000000) {
        snprintf(buf, size, "%.1f ms", (double)ns / 1e6);
    } else if (s < 60) {
        snprintf(buf, size, "%.1f s", (double)ns / 1e9);
    } else if (s < 3600) {
        snprintf(buf, size, "%llum%02llus", s / 60, s % 60);
    } else {
        snprintf(buf, size, "%lluh%02llum%02llus", s / 3600, s / 60 % 60, s % 60);
    }
    return buf;
}

static void write_memory(FILE *out, const struct status_slot *s)
{
    char device[32], blobs[32];
    fprintf(out, "  memory held: %s in %llu buffers on the device, %s in %llu shared blobs\n",
            human_bytes(s->apir.buffer_bytes, device, sizeof device), (unsigned long long)s->apir.buffers,
            human_bytes(s->blob_bytes, blobs, sizeof blobs), (unsigned long long)s->blobs);
}

static void write_traffic(FILE *out, const struct status_slot *s)
{
    char in[32], out_bytes[32], data_in[32], data_out[32];
    fprintf(out, "  bytes moved: commands %s in, replies %s out; tensor data %s in, %s out\n",
            human_bytes(s->apir.command_bytes, in, sizeof in), human_bytes(s->apir.reply_bytes, out_bytes, sizeof out_bytes),
            human_bytes(s->apir.tensor_bytes_in, data_in, sizeof data_in),
            human_bytes(s->apir.tensor_bytes_out, data_out, sizeof data_out));
}

static void write_latency(FILE *out, const struct status_slot *s)
{
    uint64_t commands = 0;
    for (unsigned b = 0; b < LATENCY_BUCKETS; b++) {
        commands += s->apir.latency[b];
    }
    char p50[32], p90[32], p99[32];
    fprintf(out, "  commands: %llu, host handling time p50 %s, p90 %s, p99 %s\n", (unsigned long long)commands,
            human_ns(latency_percentile_ns(s->apir.latency, 0.50), p50, sizeof p50),
            human_ns(latency_percentile_ns(s->apir.latency, 0.90), p90, sizeof p90),
            human_ns(latency_percentile_ns(s->apir.latency, 0.99), p99, sizeof p99));
}

static void write_calls(FILE *out, const struct status_slot *s)
{
    fprintf(out, "  calls by command:\n");
#define WRITE_CALL(NAME, number, name, request, reply)                                                   \
    if (s->apir.calls[APIR_CALL_INDEX_##NAME] > 0) {                                                     \
        fprintf(out, "    %-28s %llu\n", #name, (unsigned long long)s->apir.calls[APIR_CALL_INDEX_##NAME]); \
    }
    APIR_CALLS(WRITE_CALL)
#undef WRITE_CALL
    if (s->apir.other_commands > 0) {
        fprintf(out, "    %-28s %llu\n", "(handshake, library load)", (unsigned long long)s->apir.other_commands);
    }
}

static void write_context(FILE *out, const struct status_slot *s, uint64_t now)
{
    char up[32];
    fprintf(out, "context %llu '%s': process %llu", (unsigned long long)s->ctx_id, s->name, (unsigned long long)s->pid);
    if (s->guest_pid != 0) {
        fprintf(out, ", guest pid %llu (uid %llu)", (unsigned long long)s->guest_pid, (unsigned long long)s->guest_uid);
    }
    fprintf(out, ", up %s\n", human_ns(now - s->started_ns, up, sizeof up));
    write_memory(out, s);
    write_traffic(out, s);
    write_latency(out, s);
    write_calls(out, s);
}

void status_report_write(FILE *out)
{
    if (status.table == NULL) {
        fprintf(out, "apir-server keeps no live status (its table could not be made; see its log)\n");
        return;
    }
    const uint64_t now = (uint64_t)monotonic_ns();
    struct status_slot copy;
    size_t live = 0;
    for (uint64_t i = 0; i < status.table->n_slots; i++) {
        live += read_slot(&status.table->slots[i], &copy);
    }
    char up[32];
    fprintf(out, "apir-server pid %llu: up %s; contexts: %zu live, %llu served in all\n",
            (unsigned long long)status.table->server_pid, human_ns(now - status.table->started_ns, up, sizeof up), live,
            (unsigned long long)counter_get(&status.table->contexts_served));
    for (uint64_t i = 0; i < status.table->n_slots; i++) {
        if (read_slot(&status.table->slots[i], &copy)) {
            write_context(out, &copy, now);
        }
    }
}

void status_report_log(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (out == NULL) {
        LOG_ERROR("cannot write the status report (SIGUSR1): out of memory");
        return;
    }
    status_report_write(out);
    fclose(out);
    log_lines(&component_log, "status", text);
    free(text);
}
