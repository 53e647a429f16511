/* libapir: contexts, their configuration table and shared-memory resources,
 * and the callbacks through which the backend library reaches them. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "context.h"
#include "ctx-table.h"
#include "limit-value.h"

/* ---- registry of live contexts, for the callbacks (which get an id) ---- */

static struct ctx_table registry = CTX_TABLE_INIT;

static struct apir_context *lookup_context(uint32_t ctx_id)
{
    return ctx_table_find(&registry, ctx_id);
}

/* ---- callbacks ---------------------------------------------------------- */

static const char *cb_get_config(uint32_t ctx_id, const char *key)
{
    struct apir_context *ctx = lookup_context(ctx_id);
    return ctx ? apir_context_get_config(ctx, key) : NULL;
}

static void *cb_get_shmem_ptr(uint32_t ctx_id, uint32_t res_id)
{
    struct apir_context *ctx = lookup_context(ctx_id);
    struct hv_resource *r = ctx ? hv_find_resource(ctx, res_id) : NULL;
    return r ? r->ptr : NULL;
}

static size_t cb_get_shmem_size(uint32_t ctx_id, uint32_t res_id)
{
    struct apir_context *ctx = lookup_context(ctx_id);
    struct hv_resource *r = ctx ? hv_find_resource(ctx, res_id) : NULL;
    return r ? r->size : 0;
}

static bool cb_pin_shmem(uint32_t ctx_id, uint32_t res_id)
{
    struct apir_context *ctx = lookup_context(ctx_id);
    struct hv_resource *r = ctx ? hv_find_resource(ctx, res_id) : NULL;
    if (r != NULL) {
        r->pinned = true;
    }
    return r != NULL;
}

struct apir_backend_callbacks hv_callbacks = {
    .get_config = cb_get_config,
    .get_shmem_ptr = cb_get_shmem_ptr,
    .get_shmem_size = cb_get_shmem_size,
    .pin_shmem = cb_pin_shmem,
};

/* ---- capsets ------------------------------------------------------------ */

bool apir_venus_routed(void)
{
    return getenv(ENV_ROUTE_VENUS) != NULL;
}

bool apir_capset_get(uint32_t capset_id, struct wire_capset *out)
{
    return wire_capset_fill(capset_id, apir_venus_routed(), out);
}

/* ---- contexts ----------------------------------------------------------- */

/* Frees a context that holds no backend library and is not (or no longer)
 * in the registry: its id may belong to another context. */
static void free_context(struct apir_context *ctx)
{
    for (size_t i = 0; i < ctx->n_config; i++) {
        free(ctx->config[i].key);
        free(ctx->config[i].value);
    }
    free(ctx->config);
    while (ctx->n_resources > 0) { /* empties the index, which frees its storage */
        ctx_table_remove(&ctx->resource_index, ctx->resources[--ctx->n_resources].res_id);
    }
    free(ctx->resources);
    LOG_INFO("context %u ('%s') destroyed", ctx->ctx_id, ctx->debug_name ? ctx->debug_name : "unknown");
    free(ctx->debug_name);
    free(ctx);
}

/* Step 2 of the configuration flow: the table starts from the environment. */
static bool config_from_environment(struct apir_context *ctx)
{
#define CONFIG_ENTRY(key, variable, ...) { key, variable },
    static const char *const keys_and_vars[][2] = { APIR_CONFIG_FROM_ENVIRONMENT(CONFIG_ENTRY) };
#undef CONFIG_ENTRY
    for (size_t i = 0; i < sizeof keys_and_vars / sizeof keys_and_vars[0]; i++) {
        const char *value = getenv(keys_and_vars[i][1]);
        if (value != NULL && !apir_context_set_config(ctx, keys_and_vars[i][0], value)) {
            return false;
        }
    }
    /* our callbacks struct has get_shmem_size: host libraries may use it */
    return apir_context_set_config(ctx, APIR_CFG_CALLBACKS_SHMEM_SIZE, "1");
}

struct apir_context *apir_context_create(uint32_t ctx_id, uint32_t capset_id, const char *debug_name,
                                         char *err, size_t err_size)
{
    struct wire_capset caps;
    if (!apir_capset_get(capset_id, &caps)) {
        if (capset_id == APIR_CAPSET_ID_VENUS) {
            snprintf(err, err_size, "a context on the Venus capset (%u) is not served by APIR unless "
                     ENV_ROUTE_VENUS " is set in the host's environment", capset_id);
        } else {
            snprintf(err, err_size, "capset %u is not the APIR capset (%u)", capset_id, APIR_CAPSET_ID_APIR);
        }
        return NULL;
    }
    struct apir_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ctx->resource_index = (struct ctx_table)CTX_TABLE_INIT;
    ctx->ctx_id = ctx_id;
    ctx->capset_id = capset_id;
    ctx->max_command_bytes = DEFAULT_MAX_COMMAND_BYTES;
    ctx->max_blob_bytes = DEFAULT_MAX_BLOB_MEMORY;
    ctx->debug_name = strdup(debug_name ? debug_name : "unknown");
    if (ctx->debug_name == NULL || !config_from_environment(ctx) || !ctx_table_add(&registry, ctx_id, ctx)) {
        snprintf(err, err_size, "context id %u is already in use, a configuration value is invalid (logged), "
                 "or out of memory", ctx_id);
        free_context(ctx);
        return NULL;
    }
    LOG_INFO("context %u created for '%s' on capset %u", ctx_id, ctx->debug_name, capset_id);
    return ctx;
}

uint64_t apir_context_max_command_bytes(const struct apir_context *ctx)
{
    return ctx->max_command_bytes;
}

bool apir_context_set_config(struct apir_context *ctx, const char *key, const char *value)
{
    /* the limits this component applies itself */
    if ((strcmp(key, APIR_CFG_MAX_COMMAND_BYTES) == 0 &&
         !limit_from_config(key, value, DEFAULT_MAX_COMMAND_BYTES, UINT64_MAX, &ctx->max_command_bytes)) ||
        (strcmp(key, APIR_CFG_MAX_BLOB_MEMORY) == 0 &&
         !limit_from_config(key, value, DEFAULT_MAX_BLOB_MEMORY, UINT64_MAX, &ctx->max_blob_bytes))) {
        return false;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        return false;
    }
    for (size_t i = 0; i < ctx->n_config; i++) {
        if (strcmp(ctx->config[i].key, key) == 0) {
            free(ctx->config[i].value);
            ctx->config[i].value = copy;
            return true;
        }
    }
    struct hv_config_entry *grown = realloc(ctx->config, sizeof *grown * (ctx->n_config + 1));
    char *key_copy = strdup(key);
    if (grown == NULL || key_copy == NULL) {
        ctx->config = grown ? grown : ctx->config;
        free(copy);
        free(key_copy);
        return false;
    }
    ctx->config = grown;
    ctx->config[ctx->n_config].key = key_copy;
    ctx->config[ctx->n_config].value = copy;
    ctx->n_config++;
    return true;
}

const char *apir_context_get_config(struct apir_context *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->n_config; i++) {
        if (strcmp(ctx->config[i].key, key) == 0) {
            return ctx->config[i].value;
        }
    }
    return NULL;
}

struct hv_resource *hv_find_resource(struct apir_context *ctx, uint32_t res_id)
{
    const uintptr_t position = (uintptr_t)ctx_table_find(&ctx->resource_index, res_id);
    return position != 0 ? &ctx->resources[position - 1] : NULL;
}

bool apir_context_add_resource(struct apir_context *ctx, uint32_t res_id, void *ptr, size_t size)
{
    if (res_id == 0 || ptr == NULL || hv_find_resource(ctx, res_id) != NULL) {
        CTX_ERROR(ctx->ctx_id, "cannot add resource %u (null, or already there)", res_id);
        return false;
    }
    if (ctx->max_blob_bytes != 0 && size > ctx->max_blob_bytes - ctx->blob_bytes) {
        CTX_ERROR(ctx->ctx_id, "refused blob %u of %zu bytes: the context holds %llu bytes of blobs, the limit is "
                  "%llu; raise it with " APIR_LIMIT_KNOBS(OPT_MAX_BLOB_MEMORY, ENV_MAX_BLOB_MEMORY,
                                                          APIR_CFG_MAX_BLOB_MEMORY), res_id, size,
                  (unsigned long long)ctx->blob_bytes, (unsigned long long)ctx->max_blob_bytes);
        return false;
    }
    if (ctx->n_resources == ctx->cap_resources) {
        const size_t cap = ctx->cap_resources ? ctx->cap_resources * 2 : 8;
        struct hv_resource *grown = realloc(ctx->resources, sizeof *grown * cap);
        if (grown == NULL) {
            return false;
        }
        ctx->resources = grown;
        ctx->cap_resources = cap;
    }
    if (!ctx_table_add(&ctx->resource_index, res_id, (void *)(uintptr_t)(ctx->n_resources + 1))) {
        return false;
    }
    ctx->resources[ctx->n_resources++] = (struct hv_resource){ res_id, ptr, size, false };
    ctx->blob_bytes += size;
    return true;
}

bool apir_context_remove_resource(struct apir_context *ctx, uint32_t res_id)
{
    struct hv_resource *r = hv_find_resource(ctx, res_id);
    if (r != NULL && r->pinned) {
        CTX_DEBUG(ctx->ctx_id, "resource %u is pinned by the host library: kept until the context goes", res_id);
        return false;
    }
    if (r != NULL) {
        ctx_table_remove(&ctx->resource_index, res_id);
        ctx->blob_bytes -= r->size;
        *r = ctx->resources[--ctx->n_resources];
        if (r != &ctx->resources[ctx->n_resources]) { /* the last one moved into its place */
            ctx_table_remove(&ctx->resource_index, r->res_id);
            ctx_table_add(&ctx->resource_index, r->res_id, (void *)(uintptr_t)(r - ctx->resources + 1));
        }
    }
    return true;
}

bool apir_context_library_loaded(const struct apir_context *ctx)
{
    return ctx->backend.library != NULL;
}

void apir_context_destroy(struct apir_context *ctx)
{
    if (ctx == NULL) {
        return;
    }
    /* the backend may still call back with the id while it releases */
    hv_backend_unload(&ctx->backend, ctx->ctx_id);
    ctx_table_remove(&registry, ctx->ctx_id);
    free_context(ctx);
}
