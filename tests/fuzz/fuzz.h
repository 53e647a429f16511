/* What the fuzz targets share: reading an input, the guest's shared memory
 * of one input, the one-time setup, and a host context driven through the
 * host library's entry points. The input formats are in README.md. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point, also called by replay.c */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- reading an input --------------------------------------------------- */

struct fuzz_input {
    const uint8_t *cur;
    const uint8_t *end;
};

bool fuzz_u32(struct fuzz_input *in, uint32_t *v);
bool fuzz_u64(struct fuzz_input *in, uint64_t *v);
/* the next byte, 0 past the end (a recipe reads any input whole) */
uint8_t fuzz_byte(struct fuzz_input *in);
/* the next n bytes, or NULL when fewer are left */
const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t n);

/* ---- shared memory of one input ------------------------------------------ */

/* Each resource is a copy of exactly its size (ASan sees any access past
 * it), aligned as a guest's blob mapping is (FUZZ_RESOURCE_ALIGNMENT), kept
 * until fuzz_memory_free: a pinned one must outlive the context. The latest
 * resource with an id is the one found. */
#define FUZZ_RESOURCE_ALIGNMENT 32 /* ggml-cpu's tensor alignment */
#define FUZZ_MAX_RESOURCES 256

struct fuzz_resource {
    uint32_t res_id;
    uint8_t *ptr;
    size_t size;
    uint8_t *mapping; /* fenced: its pages (and mapped_size bytes), else NULL */
    size_t mapped_size;
};

struct fuzz_memory {
    struct fuzz_resource res[FUZZ_MAX_RESOURCES];
    size_t n;
};

/* NULL when the table is full or out of memory; data NULL: zeroed */
struct fuzz_resource *fuzz_memory_add(struct fuzz_memory *m, uint32_t res_id, const void *data, size_t size);
/* A zeroed resource followed by an inaccessible page (but for the bytes
 * that round its size up to FUZZ_RESOURCE_ALIGNMENT): code ASan does not
 * see (ggml's) faults reading or writing past it. */
struct fuzz_resource *fuzz_memory_add_fenced(struct fuzz_memory *m, uint32_t res_id, size_t size);
struct fuzz_resource *fuzz_memory_find(struct fuzz_memory *m, uint32_t res_id);
void fuzz_memory_free(struct fuzz_memory *m);

/* ---- sessions: APIR commands with the shared memory each one reads -------- */

/* The next record of a session: a copy of its command (freed by the
 * caller) and its resources, added to m; false at the end of the input. */
bool fuzz_next_command(struct fuzz_input *in, struct fuzz_memory *m, uint8_t **cmd, size_t *size);

/* The memory a context may allocate for one input: the harness stands in
 * for a per-context quota, so that what the fuzzer finds is not only "the
 * host allocated what the guest asked for". Returns false (the call is
 * skipped) when a forwarded allocation would go past it. */
#define FUZZ_MEMORY_QUOTA ((uint64_t)64 << 20)
bool fuzz_within_quota(uint32_t call, const uint8_t *args, size_t size, uint64_t *allocated);

/* ---- setup ---------------------------------------------------------------- */

/* Once per process: one CPU (so the CPU backend runs one thread), logs to
 * /dev/null, no gdb backtrace from ggml on abort. */
void fuzz_setup(void);

/* ---- a host context through the host library's entry points -------------- */

/* Starts host context ctx_id on the CPU backend; its shared memory is m. */
bool fuzz_host_start(uint32_t ctx_id, struct fuzz_memory *m);
/* Forwards one call as apir_backend_dispatcher does it; the reply lands in
 * a scratch page. */
uint32_t fuzz_host_call(uint32_t ctx_id, uint32_t call, const void *args, size_t size);
void fuzz_host_stop(uint32_t ctx_id);

/* Typed calls of the graph targets in host context ctx_id. A handle is 0
 * when the host gave none. */
uint64_t fuzz_host_buffer_type(uint32_t ctx_id);
uint64_t fuzz_host_alloc_buffer(uint32_t ctx_id, uint64_t buft, uint64_t size);
/* a buffer over the first `size` bytes of resource res_id (zero copy) */
uint64_t fuzz_host_buffer_from_ptr(uint32_t ctx_id, uint32_t res_id, uint64_t size);
void fuzz_host_clear_buffer(uint32_t ctx_id, uint64_t buffer);
/* bytes [0, size) of the buffer from the start of resource res_id (nothing
 * for 0 or more than 4 GiB) */
void fuzz_host_write_buffer(uint32_t ctx_id, uint64_t buffer, uint32_t res_id, uint64_t size);
/* backend_graph_compute of the graph in the first `size` bytes of resource
 * res_id; true when the host ran it */
bool fuzz_host_graph_compute(uint32_t ctx_id, uint32_t res_id, uint64_t size);

#endif
