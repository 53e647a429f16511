/* A transport that hands commands straight to libapir in the same process:
 * the guest protocol code, the APIR component and the host library meet in
 * one test binary (and under one sanitizer). */
#ifndef LOOPBACK_H
#define LOOPBACK_H

#include "apir/apir.h"
#include "transport.h"

struct vgpu_transport *loopback_create(struct apir_context *ctx);

#endif
