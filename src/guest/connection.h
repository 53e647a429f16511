/* Opening a connection to one APIR host over a transport: its reply and
 * data blobs, the handshake, the loading of the host library; and closing
 * it. */
#ifndef VGPU_CONNECTION_H
#define VGPU_CONNECTION_H

struct vgpu_remote;
struct vgpu_transport;

/* Connects over the transport (which the remote then owns): blobs,
 * handshake, loading of the host library. NULL on failure, with the reason
 * logged. */
struct vgpu_remote *vgpu_remote_open(struct vgpu_transport *transport);
void vgpu_remote_close(struct vgpu_remote *r);

#endif
