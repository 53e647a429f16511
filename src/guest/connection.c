/* Opening and closing a connection (connection.h). */
#include "connection.h"

#include <stdlib.h>

#include "apir/names.h"
#include "apir/protocol.h"
#include "calls.h"
#include "graph-run.h"
#include "remote.h"

#define HANDSHAKE_TIMEOUT_MS 2000
#define LOAD_LIBRARY_TIMEOUT_MS 60000

static bool handshake(struct vgpu_remote *r)
{
    vgpu_begin_command(r, APIR_CMD_HANDSHAKE, 0);
    wire_encode_u32(&r->enc, APIR_PROTOCOL_MAJOR);
    wire_encode_u32(&r->enc, APIR_PROTOCOL_MINOR);
    uint32_t ret;
    if (!vgpu_round_trip(r, HANDSHAKE_TIMEOUT_MS, &ret)) {
        LOG_ERROR("the host did not answer the APIR handshake: it does not serve APIR contexts "
                       "(wrong hypervisor or server, or " ENV_ROUTE_VENUS " unset on the host "
                       "while the guest uses the Venus capset)");
        return false;
    }
    if (ret != APIR_HANDSHAKE_MAGIC) {
        LOG_ERROR("the APIR handshake failed: the host answered 0x%x instead of 0x%x", ret,
                       APIR_HANDSHAKE_MAGIC);
        return false;
    }
    struct wire_decoder dec;
    vgpu_reply_decoder(r, &dec);
    r->host_major = wire_decode_u32(&dec);
    r->host_minor = wire_decode_u32(&dec);
    if (r->host_major != APIR_PROTOCOL_MAJOR) {
        LOG_ERROR("the host speaks APIR protocol %u.%u, this guest %u.%u: major versions differ", r->host_major,
                       r->host_minor, APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR);
        return false;
    }
    if (r->host_minor != APIR_PROTOCOL_MINOR) {
        LOG_INFO("the host speaks APIR protocol %u.%u, this guest %u.%u", r->host_major, r->host_minor,
                      APIR_PROTOCOL_MAJOR, APIR_PROTOCOL_MINOR);
    }
    return true;
}

static const char *backend_init_failure(uint32_t code)
{
    switch (code) {
    case APIR_BACKEND_INIT_BACKEND_REG_FAILED: return "the GGML library's registration function failed";
    case APIR_BACKEND_INIT_ALREADY_INITED: return "the context was already initialized";
    case APIR_BACKEND_INIT_NO_DEVICE: return "the GGML library has no device";
    case APIR_BACKEND_INIT_BACKEND_INIT_FAILED: return "the GGML backend failed to start on its device";
    default: return "it failed";
    }
}

/* Turns a LOADLIBRARY return code into what the user must do. */
static void explain_load_failure(uint32_t code)
{
    const uint32_t base = APIR_LOAD_LIBRARY_INIT_BASE_INDEX;
    switch (code) {
    case APIR_LOAD_LIBRARY_ENV_VAR_MISSING:
        LOG_ERROR("the hypervisor has no APIR backend library configured: set " ENV_BACKEND_LIBRARY " "
                       "(config key " APIR_CFG_LOAD_LIBRARY_PATH ") on the host to libggml-virtgpu-backend.so");
        return;
    case APIR_LOAD_LIBRARY_CANNOT_OPEN:
        LOG_ERROR("the hypervisor cannot open the APIR backend library named by " ENV_BACKEND_LIBRARY "; "
                       "check that path on the host");
        return;
    case APIR_LOAD_LIBRARY_SYMBOL_MISSING:
        LOG_ERROR("the library named by " ENV_BACKEND_LIBRARY " on the host is not an APIR backend library");
        return;
    case APIR_LOAD_LIBRARY_ALREADY_LOADED:
    case APIR_LOAD_LIBRARY_HYPERCALL_INITIALIZATION_ERROR:
        LOG_ERROR("the hypervisor's APIR component could not load the backend library (code %u)", code);
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_ENV_VAR_MISSING:
        LOG_ERROR("the host cannot open the GGML library: env var '" ENV_GGML_LIBRARY_PATH "' not defined "
                  "(set it, or the config key " APIR_CFG_GGML_LIBRARY_PATH ", on the host to the GGML backend "
                  "library to run on, e.g. libggml-cuda.so)");
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_CANNOT_OPEN:
        LOG_ERROR("the host library cannot open the GGML library named by " ENV_GGML_LIBRARY_PATH "; "
                       "check that path on the host");
        return;
    case APIR_LOAD_LIBRARY_INIT_BASE_INDEX + APIR_LOAD_LIBRARY_SYMBOL_MISSING:
        LOG_ERROR("the host library cannot find the GGML library's registration function: set "
                       ENV_GGML_LIBRARY_REG " on the host (e.g. ggml_backend_cuda_reg)");
        return;
    default:
        if (code >= 2 * base) {
            LOG_ERROR("the host library could not start the GGML backend: %s (see the host's log)",
                           backend_init_failure(code - 2 * base));
        } else {
            LOG_ERROR("the host could not load its libraries (code %u; see the host's log)", code);
        }
    }
}

static bool load_library(struct vgpu_remote *r)
{
    vgpu_begin_command(r, APIR_CMD_LOAD_LIBRARY, 0);
    uint32_t ret;
    if (!vgpu_round_trip(r, LOAD_LIBRARY_TIMEOUT_MS, &ret)) {
        LOG_ERROR("the host did not answer the request to load its libraries");
        return false;
    }
    if (ret != APIR_LOAD_LIBRARY_SUCCESS) {
        explain_load_failure(ret);
        return false;
    }
    return true;
}

/* From now on the host answers a refused call with why (an APIR_CALL_ERRORS
 * code); an older host does not know the extension and answers
 * APIR_CALL_FAILED, as before. */
static void ask_for_error_codes(struct vgpu_remote *r)
{
    struct wire_msg_none none = { 0 };
    r->error_codes = vgpu_ext_error_codes_locked(r, &none, &none) == APIR_CALL_OK;
    if (!r->error_codes) {
        LOG_DEBUG("the host does not say why it refuses a call: its own log will");
    }
}

struct vgpu_remote *vgpu_remote_open(struct vgpu_transport *transport)
{
    struct vgpu_remote *r = calloc(1, sizeof *r);
    if (r == NULL) {
        vgpu_transport_destroy(transport);
        return NULL;
    }
    r->transport = transport;
    r->debug = log_debug_enabled(&component_log);
    pthread_mutex_init(&r->lock, NULL);
    if (!vgpu_transport_create_blob(transport, APIR_REPLY_BLOB_SIZE, &r->reply) ||
        !vgpu_transport_create_blob(transport, APIR_DATA_BLOB_SIZE, &r->data)) {
        LOG_ERROR("cannot create the shared-memory blobs with the host (%s transport)", transport->name);
        vgpu_remote_close(r);
        return NULL;
    }
    r->accept_at = wire_accept_word_offset(r->reply.size - APIR_REPLY_PAYLOAD_OFFSET);
    r->no_async_run = r->accept_at == 0; /* no room for the acceptance word */
    if (!handshake(r) || !load_library(r)) {
        vgpu_remote_close(r);
        return NULL;
    }
    ask_for_error_codes(r);
    return r;
}

void vgpu_remote_close(struct vgpu_remote *r)
{
    struct vgpu_transport *t = r->transport;
    vgpu_await_pending_run(r); /* the host may still write into the blobs */
    if (r->data.ptr != NULL) {
        vgpu_transport_destroy_blob(t, &r->data);
    }
    if (r->reply.ptr != NULL) {
        vgpu_transport_destroy_blob(t, &r->reply);
    }
    vgpu_transport_destroy(t);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
