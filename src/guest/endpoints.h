/* The choice of transport, in one place: which hosts the environment names,
 * and opening a connection to one of them. */
#ifndef VGPU_ENDPOINTS_H
#define VGPU_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

/* where a host is, and the capset to ask it for */
struct vgpu_endpoint {
    const char *socket_path; /* a vtest socket; NULL: the VM's virtio-gpu device (drm) */
    bool venus_capset;       /* the Venus capset (the default), else the APIR capset */
};

struct vgpu_endpoints {
    struct vgpu_endpoint *items;
    size_t count;
    char *paths; /* the socket paths of GGML_VIRTGPU_SOCKETS, which items point into */
};

/* Every vtest socket of GGML_VIRTGPU_SOCKETS (a colon-separated list), or
 * else the one host GGML_VIRTGPU_TRANSPORT / VTEST_SOCKET_NAME select; the
 * capset is Venus's unless GGML_REMOTING_USE_APIR_CAPSET is set. No
 * endpoint when the choice is invalid, with the reason logged. */
void vgpu_endpoints_from_env(struct vgpu_endpoints *out);
void vgpu_endpoints_release(struct vgpu_endpoints *endpoints);

/* A new connection to the endpoint's host; NULL with the reason logged. */
struct vgpu_transport *vgpu_transport_open(const struct vgpu_endpoint *endpoint);

#endif
