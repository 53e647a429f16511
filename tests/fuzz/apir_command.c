/* Fuzz target apir_command: the APIR component (libapir) as a VMM drives
 * it, apir_context_submit on every command of a session (README.md), with
 * the real host library behind it on the CPU backend: command headers,
 * HANDSHAKE, LOAD_LIBRARY, FORWARD with its reply resource and the shared
 * memory its call reads. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apir/apir.h"
#include "apir/names.h"
#include "fuzz.h"

#define CTX_ID 1u
/* the reply page of the captured sessions */
#define REPLY_RES 1u

/* The backend library stays loaded between inputs (each context loads and
 * unloads it): libFuzzer cannot follow a library that comes and goes. */
static void keep_backend_loaded(void)
{
    static void *library;
    if (library == NULL && (library = dlopen(FUZZ_BACKEND_LIBRARY, RTLD_NOW | RTLD_NODELETE)) == NULL) {
        fprintf(stderr, "fuzz: cannot open %s: %s\n", FUZZ_BACKEND_LIBRARY, dlerror());
        abort();
    }
}

static struct apir_context *start_context(void)
{
    char err[256];
    struct apir_context *ctx = apir_context_create(CTX_ID, APIR_CAPSET_ID_APIR, "fuzz", err, sizeof err);
    if (ctx == NULL || !apir_context_set_config(ctx, APIR_CFG_LOAD_LIBRARY_PATH, FUZZ_BACKEND_LIBRARY) ||
        !apir_context_set_config(ctx, APIR_CFG_GGML_LIBRARY_PATH, FUZZ_GGML_CPU_LIBRARY)) {
        fprintf(stderr, "fuzz: cannot create an APIR context: %s\n", ctx ? "out of memory" : err);
        abort();
    }
    return ctx;
}

/* the guest's blob res_id now holds r's bytes, unless the host pinned the old one */
static void set_resource(struct apir_context *ctx, const struct fuzz_resource *r)
{
    if (apir_context_remove_resource(ctx, r->res_id)) {
        apir_context_add_resource(ctx, r->res_id, r->ptr, r->size);
    }
}

/* a FORWARD past the quota is not submitted (fuzz.h) */
static bool within_quota(const uint8_t *cmd, size_t size, uint64_t *allocated)
{
    uint32_t header[3];
    if (size < sizeof header) {
        return true;
    }
    memcpy(header, cmd, sizeof header);
    return header[0] != APIR_CMD_FORWARD ||
           fuzz_within_quota(header[1], cmd + sizeof header, size - sizeof header, allocated);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memory memory;
    static const uint8_t empty_reply[APIR_REPLY_BLOB_SIZE];
    fuzz_setup();
    keep_backend_loaded();
    struct apir_context *ctx = start_context();
    set_resource(ctx, fuzz_memory_add(&memory, REPLY_RES, empty_reply, sizeof empty_reply));
    struct fuzz_input in = { data, data + size };
    uint64_t allocated = 0;
    size_t seen = memory.n;
    uint8_t *cmd;
    size_t cmd_size;
    while (fuzz_next_command(&in, &memory, &cmd, &cmd_size)) {
        for (; seen < memory.n; seen++) {
            set_resource(ctx, &memory.res[seen]);
        }
        if (within_quota(cmd, cmd_size, &allocated)) {
            apir_context_submit(ctx, cmd, cmd_size);
        }
        free(cmd);
    }
    apir_context_destroy(ctx);
    fuzz_memory_free(&memory);
    return 0;
}
