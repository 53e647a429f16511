#define _GNU_SOURCE
#include "fuzz.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wire-calls.h"
#include "apir/names.h"
#include "apir/protocol.h"

/* ---- reading -------------------------------------------------------------- */

const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t n)
{
    if ((size_t)(in->end - in->cur) < n) {
        return NULL;
    }
    const uint8_t *p = in->cur;
    in->cur += n;
    return p;
}

bool fuzz_u32(struct fuzz_input *in, uint32_t *v)
{
    const uint8_t *p = fuzz_bytes(in, sizeof *v);
    if (p != NULL) {
        memcpy(v, p, sizeof *v);
    }
    return p != NULL;
}

uint8_t fuzz_byte(struct fuzz_input *in)
{
    const uint8_t *p = fuzz_bytes(in, 1);
    return p != NULL ? *p : 0;
}

bool fuzz_u64(struct fuzz_input *in, uint64_t *v)
{
    const uint8_t *p = fuzz_bytes(in, sizeof *v);
    if (p != NULL) {
        memcpy(v, p, sizeof *v);
    }
    return p != NULL;
}

/* ---- shared memory ---------------------------------------------------------- */

struct fuzz_resource *fuzz_memory_add(struct fuzz_memory *m, uint32_t res_id, const void *data, size_t size)
{
    void *copy = NULL;
    if (m->n >= FUZZ_MAX_RESOURCES || posix_memalign(&copy, FUZZ_RESOURCE_ALIGNMENT, size ? size : 1) != 0) {
        return NULL;
    }
    if (data != NULL) {
        memcpy(copy, data, size);
    } else {
        memset(copy, 0, size);
    }
    m->res[m->n] = (struct fuzz_resource){ res_id, copy, size, NULL, 0 };
    return &m->res[m->n++];
}

struct fuzz_resource *fuzz_memory_add_fenced(struct fuzz_memory *m, uint32_t res_id, size_t size)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t span = (size + FUZZ_RESOURCE_ALIGNMENT - 1) / FUZZ_RESOURCE_ALIGNMENT * FUZZ_RESOURCE_ALIGNMENT;
    const size_t pages = (span + page - 1) / page * page;
    uint8_t *mapping = m->n < FUZZ_MAX_RESOURCES ? mmap(NULL, pages + page, PROT_READ | PROT_WRITE,
                                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                                                 : MAP_FAILED;
    if (mapping == MAP_FAILED) {
        return NULL;
    }
    mprotect(mapping + pages, page, PROT_NONE);
    m->res[m->n] = (struct fuzz_resource){ res_id, mapping + pages - span, size, mapping, pages + page };
    return &m->res[m->n++];
}

struct fuzz_resource *fuzz_memory_find(struct fuzz_memory *m, uint32_t res_id)
{
    for (size_t i = m->n; i-- > 0;) {
        if (m->res[i].res_id == res_id) {
            return &m->res[i];
        }
    }
    return NULL;
}

void fuzz_memory_free(struct fuzz_memory *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->res[i].mapping != NULL) {
            munmap(m->res[i].mapping, m->res[i].mapped_size);
        } else {
            free(m->res[i].ptr);
        }
    }
    m->n = 0;
}

/* ---- sessions --------------------------------------------------------------- */

/* a command is at most what one vtest message carries */
#define MAX_COMMAND_BYTES (64u << 20)

bool fuzz_next_command(struct fuzz_input *in, struct fuzz_memory *m, uint8_t **cmd, size_t *size)
{
    uint32_t cmd_size, n_res;
    const uint8_t *bytes;
    if (!fuzz_u32(in, &cmd_size) || cmd_size > MAX_COMMAND_BYTES || (bytes = fuzz_bytes(in, cmd_size)) == NULL ||
        !fuzz_u32(in, &n_res)) {
        return false;
    }
    for (uint32_t i = 0; i < n_res; i++) {
        uint32_t res_id, res_size;
        const uint8_t *res_bytes;
        if (!fuzz_u32(in, &res_id) || !fuzz_u32(in, &res_size) || (res_bytes = fuzz_bytes(in, res_size)) == NULL ||
            fuzz_memory_add(m, res_id, res_bytes, res_size) == NULL) {
            return false;
        }
    }
    /* a copy of exactly its size, 4-byte aligned as a real command buffer */
    if ((*cmd = malloc(cmd_size ? cmd_size : 1)) == NULL) {
        return false;
    }
    memcpy(*cmd, bytes, cmd_size);
    *size = cmd_size;
    return true;
}

bool fuzz_within_quota(uint32_t call, const uint8_t *args, size_t size, uint64_t *allocated)
{
    if (call != APIR_CALL_BUFFER_TYPE_ALLOC_BUFFER) {
        return true;
    }
    struct wire_decoder dec;
    struct wire_msg_alloc req;
    wire_decoder_init(&dec, args, size);
    wire_decode_msg_alloc(&dec, &req);
    if (!dec.fatal && req.size > FUZZ_MEMORY_QUOTA - *allocated) {
        return false;
    }
    *allocated += dec.fatal ? 0 : req.size;
    return true;
}

/* ---- setup ------------------------------------------------------------------ */

/* huge requests return NULL, as glibc's malloc does, rather than ASan's report */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

void fuzz_setup(void)
{
    static bool done;
    if (done) {
        return;
    }
    done = true;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
        int first = 0;
        while (first < CPU_SETSIZE && !CPU_ISSET(first, &cpus)) {
            first++;
        }
        CPU_ZERO(&cpus);
        CPU_SET(first, &cpus);
        sched_setaffinity(0, sizeof cpus, &cpus);
    }
    if (getenv("FUZZ_LOG") == NULL) { /* FUZZ_LOG=1 keeps the components' logs on stderr */
        setenv(ENV_APIR_LOG_FILE, "/dev/null", 1);
        setenv(ENV_BACKEND_LOG_FILE, "/dev/null", 1);
    }
    setenv("GGML_NO_BACKTRACE", "1", 1);
    unsetenv(ENV_CAPTURE_DIR);
}

