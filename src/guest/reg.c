/* The VirtGPU backend registry: connects to the host on first use and
 * registers one device per host device. When the host cannot be reached or
 * refuses, the reason is logged and the registry has no device, so
 * llama.cpp carries on with its other backends. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "ggml-virtgpu.h"
#include "transport-drm.h"
#include "transport-vtest.h"
#include "vtest-protocol.h"

#define EXPORT __attribute__((visibility("default")))

static struct {
    pthread_once_t once;
    struct vgpu_device *devices;
    int n_devices;
} state = { PTHREAD_ONCE_INIT, NULL, 0 };

static struct ggml_backend_reg registry;

/* GGML_VIRTGPU_TRANSPORT, or vtest when VTEST_SOCKET_NAME is set, else drm */
static struct vgpu_transport *open_transport(void)
{
    const bool venus = getenv("GGML_REMOTING_USE_APIR_CAPSET") == NULL;
    const char *choice = getenv("GGML_VIRTGPU_TRANSPORT");
    const char *socket_path = getenv("VTEST_SOCKET_NAME");
    if (choice == NULL) {
        choice = socket_path != NULL ? "vtest" : "drm";
    }
    if (strcmp(choice, "vtest") == 0) {
        return vgpu_transport_vtest_open(socket_path ? socket_path : VTEST_DEFAULT_SOCKET_NAME, venus);
    }
    if (strcmp(choice, "drm") == 0) {
        return vgpu_transport_drm_open(venus);
    }
    vgpu_log_error("GGML_VIRTGPU_TRANSPORT='%s' is neither 'drm' nor 'vtest'", choice);
    return NULL;
}

static void connect_host(void)
{
    struct vgpu_transport *transport = open_transport();
    struct vgpu_remote *remote = transport ? vgpu_remote_open(transport) : NULL;
    if (remote == NULL) {
        vgpu_log_error("no VirtGPU device: the host is not available (reasons above)");
        return;
    }
    state.devices = calloc(1, sizeof *state.devices);
    if (state.devices == NULL || !vgpu_device_init(&state.devices[0], remote, 0, &registry)) {
        free(state.devices);
        state.devices = NULL;
        vgpu_remote_close(remote);
        vgpu_log_error("no VirtGPU device: the host's device could not be described");
        return;
    }
    state.n_devices = 1;
}

static const char *reg_get_name(ggml_backend_reg_t reg)
{
    (void)reg;
    return "VirtGPU";
}

static size_t reg_get_device_count(ggml_backend_reg_t reg)
{
    (void)reg;
    pthread_once(&state.once, connect_host);
    return (size_t)state.n_devices;
}

static ggml_backend_dev_t reg_get_device(ggml_backend_reg_t reg, size_t index)
{
    return index < reg_get_device_count(reg) ? &state.devices[index].dev : NULL;
}

static struct ggml_backend_reg registry = {
    .api_version = GGML_BACKEND_API_VERSION,
    .iface = { reg_get_name, reg_get_device_count, reg_get_device, NULL },
    .context = NULL,
};

EXPORT ggml_backend_reg_t ggml_backend_virtgpu_reg(void)
{
    pthread_once(&state.once, connect_host);
    return &registry;
}

/* the entry point of ggml's dynamic backend loader (GGML_BACKEND_PATH) */
EXPORT ggml_backend_reg_t ggml_backend_init(void)
{
    return ggml_backend_virtgpu_reg();
}
