/* The VirtGPU backend registry: connects to the host(s) on first use and
 * registers one device per host device. When a host cannot be reached or
 * refuses, the reason is logged and its devices are missing; with no device
 * at all, llama.cpp carries on with its other backends.
 *
 * Hosts: the one transport GGML_VIRTGPU_TRANSPORT / VTEST_SOCKET_NAME
 * select, or every vtest socket of GGML_VIRTGPU_SOCKETS (a colon-separated
 * list). A host whose GGML library has several devices (a host of this
 * project; llama.cpp's own host shows one) gets one connection per device. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "ggml-virtgpu.h"
#include "transport-drm.h"
#include "transport-vtest.h"
#include "vtest-protocol.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_DEVICES 64

/* where a host is: the VM's virtio-gpu device, or a vtest socket */
struct endpoint {
    const char *socket_path; /* NULL: drm */
};

static struct {
    pthread_once_t once;
    struct vgpu_device *devices[MAX_DEVICES];
    int n_devices;
} state = { PTHREAD_ONCE_INIT, { NULL }, 0 };

static struct ggml_backend_reg registry;

static struct vgpu_transport *open_endpoint(const struct endpoint *e)
{
    const bool venus = getenv(ENV_USE_APIR_CAPSET) == NULL;
    return e->socket_path ? vgpu_transport_vtest_open(e->socket_path, venus) : vgpu_transport_drm_open(venus);
}

/* ---- host devices --------------------------------------------------------- */

/* the number of devices of the host's GGML library; 1 for a host without
 * the extension */
static int host_device_count(struct vgpu_remote *r)
{
    const struct apir_msg_none none = { 0 };
    struct apir_msg_i32 count = { .value = 1 };
    vgpu_lock(r);
    const uint32_t rc = vgpu_ext_device_count_locked(r, &none, &count);
    vgpu_unlock(r);
    return rc == APIR_CALL_OK && count.value >= 1 ? count.value : 1;
}

static bool bind_device(struct vgpu_remote *r, int index)
{
    const struct apir_msg_u32 req = { .value = (uint32_t)index };
    struct apir_msg_none none;
    return vgpu_ext_bind_device(r, &req, &none);
}

static void add_device(struct vgpu_remote *remote)
{
    struct vgpu_device *d = calloc(1, sizeof *d);
    if (d == NULL || state.n_devices == MAX_DEVICES || !vgpu_device_init(d, remote, state.n_devices, &registry)) {
        LOG_ERROR("a device of the host could not be described; it is left out");
        free(d);
        vgpu_remote_close(remote);
        return;
    }
    state.devices[state.n_devices++] = d;
}

/* Device 0 of the host on the first connection, device i on connection i. */
static void add_host(const struct endpoint *e)
{
    struct vgpu_transport *t = open_endpoint(e);
    struct vgpu_remote *first = t ? vgpu_remote_open(t) : NULL;
    if (first == NULL) {
        return;
    }
    const int n = host_device_count(first);
    add_device(first);
    for (int i = 1; i < n; i++) {
        t = open_endpoint(e);
        struct vgpu_remote *r = t ? vgpu_remote_open(t) : NULL;
        if (r != NULL && bind_device(r, i)) {
            add_device(r);
        } else if (r != NULL) {
            vgpu_remote_close(r);
        }
    }
}

/* ---- which hosts ---------------------------------------------------------- */

static void add_socket_list(const char *list)
{
    char *copy = strdup(list);
    char *save = NULL;
    for (char *path = copy ? strtok_r(copy, ":", &save) : NULL; path; path = strtok_r(NULL, ":", &save)) {
        const struct endpoint e = { path };
        add_host(&e);
    }
    free(copy);
}

/* GGML_VIRTGPU_TRANSPORT, or vtest when VTEST_SOCKET_NAME is set, else drm */
static void add_selected_host(void)
{
    const char *choice = getenv(ENV_TRANSPORT);
    const char *socket_path = getenv(ENV_VTEST_SOCKET);
    if (choice == NULL) {
        choice = socket_path != NULL ? "vtest" : "drm";
    }
    if (strcmp(choice, "vtest") != 0 && strcmp(choice, "drm") != 0) {
        LOG_ERROR(ENV_TRANSPORT "='%s' is neither 'drm' nor 'vtest'", choice);
        return;
    }
    const struct endpoint e = { strcmp(choice, "drm") == 0 ? NULL
                                : socket_path            ? socket_path
                                                         : VTEST_DEFAULT_SOCKET_NAME };
    add_host(&e);
}

static void connect_hosts(void)
{
    const char *list = getenv(ENV_SOCKETS);
    if (list != NULL && list[0] != '\0') {
        add_socket_list(list);
    } else {
        add_selected_host();
    }
    if (state.n_devices == 0) {
        LOG_ERROR("no VirtGPU device: the host is not available (reasons above)");
    }
}

/* ---- the registry ------------------------------------------------------- */

static const char *reg_get_name(ggml_backend_reg_t reg)
{
    (void)reg;
    return "VirtGPU";
}

static size_t reg_get_device_count(ggml_backend_reg_t reg)
{
    (void)reg;
    pthread_once(&state.once, connect_hosts);
    return (size_t)state.n_devices;
}

static ggml_backend_dev_t reg_get_device(ggml_backend_reg_t reg, size_t index)
{
    return index < reg_get_device_count(reg) ? &state.devices[index]->dev : NULL;
}

static struct ggml_backend_reg registry = {
    .api_version = GGML_BACKEND_API_VERSION,
    .iface = { reg_get_name, reg_get_device_count, reg_get_device, NULL },
    .context = NULL,
};

EXPORT ggml_backend_reg_t ggml_backend_virtgpu_reg(void)
{
    pthread_once(&state.once, connect_hosts);
    return &registry;
}

/* the entry point of ggml's dynamic backend loader (GGML_BACKEND_PATH) */
EXPORT ggml_backend_reg_t ggml_backend_init(void)
{
    return ggml_backend_virtgpu_reg();
}
