/* libapir internals: a context's configuration, resources and the backend
 * library it loaded. */
#ifndef APIR_INTERNAL_H
#define APIR_INTERNAL_H

#include "apir/apir.h"
#include "apir/backend-abi.h"
#include "log.h"

struct apir_config_entry {
    char *key;
    char *value;
};

struct apir_resource {
    uint32_t res_id;
    void *ptr;
    size_t size;
};

struct apir_context {
    uint32_t ctx_id;
    uint32_t capset_id;
    char *debug_name;

    struct apir_config_entry *config;
    size_t n_config;

    struct apir_resource *resources;
    size_t n_resources;
    size_t cap_resources;

    void *backend_library;
    apir_backend_dispatcher_fn dispatch;
    apir_backend_deinit_fn deinit;
};

/* the callbacks handed to the backend library (context.c) */
extern struct apir_callbacks apir_backend_callbacks;

struct apir_resource *apir_find_resource(struct apir_context *ctx, uint32_t res_id);

/* commands.c: executes one decoded command; returns false when no reply
 * could be written */
bool apir_execute(struct apir_context *ctx, uint8_t *cmd, size_t size);
void apir_unload_backend(struct apir_context *ctx);

#endif
