/* The vtest transport: a Unix socket to apir-server, or any vtest server
 * hosting APIR contexts. */
#ifndef VGPU_TRANSPORT_VTEST_H
#define VGPU_TRANSPORT_VTEST_H

#include <stdbool.h>

#include "transport.h"

/* Connects to a vtest server and starts an APIR context on the APIR capset
 * (or the Venus capset); NULL with the reason logged. */
struct vgpu_transport *vgpu_transport_vtest_open(const char *socket_path, bool venus_capset);

#endif
