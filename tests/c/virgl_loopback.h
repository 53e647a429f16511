/* A transport that reaches libapir through our libvirglrenderer.so.1's
 * virglrenderer interface, called as QEMU's virtio-gpu-gl calls it: a
 * context on the Venus capset (routed to APIR), HOST3D blobs created and
 * mapped, commands submitted with a context fence each, fences polled. */
#ifndef VIRGL_LOOPBACK_H
#define VIRGL_LOOPBACK_H

#include <stdint.h>

#include "transport.h"

/* Starts the renderer (once) and a context ctx_id; NULL when refused. */
struct vgpu_transport *virgl_loopback_create(uint32_t ctx_id);

/* fences the renderer told of (write_context_fence), and the last one */
extern uint64_t virgl_loopback_fences_signalled;
extern uint64_t virgl_loopback_last_fence;

#endif
