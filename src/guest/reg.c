/* The VirtGPU backend registry: connects to the host(s) on first use and
 * registers one device per host device. When a host cannot be reached or
 * refuses, the reason is logged and its devices are missing; with no device
 * at all, llama.cpp carries on with its other backends.
 *
 * Hosts: the endpoints the environment names (endpoints.c). A host whose
 * GGML library has several devices (a host of this project; llama.cpp's own
 * host shows one) gets one connection per device. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "connection.h"
#include "device.h"
#include "frontend.h"
#include "ggml-virtgpu.h"
#include "lock.h"
#include "log.h"
#include "remote.h"
#include "endpoints.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_DEVICES 64

static struct {
    pthread_once_t once;
    struct vgpu_device *devices[MAX_DEVICES];
    int n_devices;
} state = { PTHREAD_ONCE_INIT, { NULL }, 0 };

static struct ggml_backend_reg registry;

/* ---- host devices --------------------------------------------------------- */

/* the number of devices of the host's GGML library; 1 for a host without
 * the extension */
static int host_device_count(struct vgpu_remote *r)
{
    const struct wire_msg_none none = { 0 };
    struct wire_msg_i32 count = { .value = 1 };
    vgpu_lock(r);
    const uint32_t rc = vgpu_ext_device_count_locked(r, &none, &count);
    vgpu_unlock(r);
    return rc == APIR_CALL_OK && count.value >= 1 ? count.value : 1;
}

static bool bind_device(struct vgpu_remote *r, int index)
{
    const struct wire_msg_u32 req = { .value = (uint32_t)index };
    struct wire_msg_none none;
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
static void add_host(const struct vgpu_endpoint *e)
{
    struct vgpu_transport *t = vgpu_transport_open(e);
    struct vgpu_remote *first = t ? vgpu_remote_open(t) : NULL;
    if (first == NULL) {
        return;
    }
    const int n = host_device_count(first);
    add_device(first);
    for (int i = 1; i < n; i++) {
        t = vgpu_transport_open(e);
        struct vgpu_remote *r = t ? vgpu_remote_open(t) : NULL;
        if (r != NULL && bind_device(r, i)) {
            add_device(r);
        } else if (r != NULL) {
            vgpu_remote_close(r);
        }
    }
}

/* With GGML_VIRTGPU_DEBUG: what each device's connection did, at exit.
 * Written to stderr, not through ggml's logger: by now the application's
 * logger may print nothing more (llama.cpp's hands lines to a thread whose
 * queue is not flushed when the process ends, so under load the summary
 * was lost). */
static void log_call_stats(void)
{
    component_log.emit = NULL;
    for (int i = 0; i < state.n_devices; i++) {
        vgpu_stats_log(&state.devices[i]->remote->stats, state.devices[i]->name);
    }
}

static void connect_hosts(void)
{
    struct vgpu_endpoints endpoints;
    vgpu_endpoints_from_env(&endpoints);
    for (size_t i = 0; i < endpoints.count; i++) {
        add_host(&endpoints.items[i]);
    }
    vgpu_endpoints_release(&endpoints);
    if (state.n_devices == 0) {
        LOG_ERROR("no VirtGPU device: the host is not available (reasons above)");
    } else if (log_debug_enabled(&component_log)) {
        atexit(log_call_stats);
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

/* llama.cpp asks a device's registry for its extra buffer types by name */
static void *reg_get_proc_address(ggml_backend_reg_t reg, const char *name)
{
    (void)reg;
    if (strcmp(name, "ggml_backend_dev_get_extra_bufts") == 0) {
        ggml_backend_dev_get_extra_bufts_t get_extra_bufts = vgpu_device_extra_bufts;
        return (void *)get_extra_bufts;
    }
    return NULL;
}

static struct ggml_backend_reg registry = {
    .api_version = GGML_BACKEND_API_VERSION,
    .iface = {
        .get_name = reg_get_name,
        .get_device_count = reg_get_device_count,
        .get_device = reg_get_device,
        .get_proc_address = reg_get_proc_address,
    },
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
