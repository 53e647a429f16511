/* libapir: the hypervisor's APIR component, for a VMM (or apir-server) to
 * embed. It is what virglrenderer's APIR component is to QEMU/crosvm.
 *
 * Flow for one guest context:
 *  1. apir_context_create() when the guest creates a context with the APIR
 *     capset (or the Venus capset with VIRGL_ROUTE_VENUS_TO_APIR set). The
 *     configuration table is filled from the environment:
 *       apir.load_library.path <- VIRGL_APIR_BACKEND_LIBRARY
 *       ggml.library.path      <- APIR_LLAMA_CPP_GGML_LIBRARY_PATH
 *       ggml.library.reg       <- APIR_LLAMA_CPP_GGML_LIBRARY_REG
 *     apir_context_set_config() sets or overrides a key afterwards (e.g.
 *     from the VMM's command line).
 *  2. apir_context_add_resource() for every shared-memory blob the guest
 *     creates (the memory stays the caller's; it must stay mapped until
 *     apir_context_remove_resource() or apir_context_destroy()).
 *  3. apir_context_submit() for every command buffer the guest submits. The
 *     reply and the notification word go into the reply resource the
 *     command names; a waiter blocked on the word with FUTEX_WAIT is woken.
 *  4. apir_context_destroy() when the guest goes away: the backend library
 *     releases everything the context held.
 *
 * Calls on one context must not run concurrently; different contexts are
 * independent. Logging goes to VIRGL_APIR_LOG_TO_FILE, or stderr. */
#ifndef APIR_APIR_H
#define APIR_APIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apir/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define APIR_API __attribute__((visibility("default")))

struct apir_context;

/* Whether contexts on the Venus capset are routed to APIR
 * (VIRGL_ROUTE_VENUS_TO_APIR is set). */
APIR_API bool apir_venus_routed(void);

/* Fills the capability set reported for capset_id. Returns false when this
 * component does not serve that capset (Venus without routing, others). */
APIR_API bool apir_capset_get(uint32_t capset_id, struct wire_capset *out);

/* Creates context ctx_id (unique in the process). On failure returns NULL
 * and writes why to err (which names the variable to set, if that is it). */
APIR_API struct apir_context *apir_context_create(uint32_t ctx_id, uint32_t capset_id, const char *debug_name,
                                         char *err, size_t err_size);

/* Sets a configuration key; returns false when out of memory, or when the
 * value of a limit's key is not a limit (logged). */
APIR_API bool apir_context_set_config(struct apir_context *ctx, const char *key, const char *value);
APIR_API const char *apir_context_get_config(struct apir_context *ctx, const char *key);

/* Registers guest-shared memory as resource res_id of the context. */
APIR_API bool apir_context_add_resource(struct apir_context *ctx, uint32_t res_id, void *ptr, size_t size);
/* Returns false when the backend library pinned the resource (host memory
 * wraps it): it stays registered, and its memory must stay mapped until
 * apir_context_destroy(). */
APIR_API bool apir_context_remove_resource(struct apir_context *ctx, uint32_t res_id);

/* Executes one command buffer (which the backend library may decode in
 * place, and so modify). Returns false (and logs why) when the command
 * could not be answered at all: too short, or its reply resource unknown. */
APIR_API bool apir_context_submit(struct apir_context *ctx, void *cmd, size_t size);

/* The largest command apir_context_submit takes (apir.limits.command_bytes;
 * 0: no limit). A larger one is refused, its reply telling the guest it
 * was over a limit. */
APIR_API uint64_t apir_context_max_command_bytes(const struct apir_context *ctx);
/* Refuses a command of `size` bytes, over that limit, which the caller did
 * not keep whole: head holds its first head_size bytes, its header at
 * least. Its reply tells the guest so. False when even its header is
 * missing or its reply resource is unknown (logged). */
APIR_API bool apir_context_refuse_command(struct apir_context *ctx, const void *head, size_t head_size, size_t size);

/* Whether a LOADLIBRARY command loaded and initialized the backend library:
 * the context's GGML library and device are started. */
APIR_API bool apir_context_library_loaded(const struct apir_context *ctx);

APIR_API void apir_context_destroy(struct apir_context *ctx);

/* ---- counters ------------------------------------------------------------ */

/* quarter-octave buckets of nanoseconds: 0..7 ns one each, then bucket b
 * counts [(4 + b % 4) << (b / 4 - 1), the next bucket's start); the last
 * one also every longer time */
#define APIR_LATENCY_BUCKETS 160

/* What a context served, counted as it goes. Each field has one writer,
 * the thread that calls apir_context_submit(): another thread or process
 * (through shared memory) reads it meanwhile with relaxed atomic loads of
 * whole 64-bit words. */
struct apir_context_stats {
    uint64_t calls[APIR_CALL_INDEX_COUNT]; /* forwarded calls, by wire_call_index() */
    uint64_t other_commands;               /* handshakes, library loads, unknown calls */
    uint64_t command_bytes;                /* in: the commands' bytes */
    uint64_t reply_bytes;                  /* out: their replies' payload bytes */
    uint64_t latency[APIR_LATENCY_BUCKETS]; /* the commands by handling time */
    /* the backend library's apir_backend_usage (0 without it), after each call */
    uint64_t buffers;
    uint64_t buffer_bytes;
    uint64_t tensor_bytes_in;
    uint64_t tensor_bytes_out;
};

/* From now on the context counts into *stats (NULL: stops counting), which
 * the caller keeps until then. Counting costs a clock read before and after
 * each command and a few stores, no system call. */
APIR_API void apir_context_count_into(struct apir_context *ctx, struct apir_context_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
