/* The writes that ride with the next call: small set_tensor writes wait in
 * the end of the data blob until a graph run carries them, or until any
 * other call sends them first (ext_set_tensors, or one set_tensor each to a
 * host without it). All of it under the connection's lock. */
#ifndef VGPU_QUEUED_WRITES_H
#define VGPU_QUEUED_WRITES_H

#include "remote.h"

/* the end of the data blob that holds the bytes of queued writes; a call's
 * own data uses the rest (vgpu_data_capacity) */
#define VGPU_QUEUE_BYTES (4u << 20)
/* a set_tensor of at most this many bytes may be queued */
#define VGPU_QUEUE_MAX_WRITE (64u << 10)

/* the bytes of the data blob a call may use for its own data */
size_t vgpu_data_capacity(const struct vgpu_remote *r);

/* Queues a write of bytes [offset, offset + size) of the tensor (in host
 * buffer `buffer`) from src. False when it is not queued (too large, the
 * host lacks the extension): write it with set_tensor. */
bool vgpu_queue_write(struct vgpu_remote *r, uint64_t buffer, const struct wire_tensor *tensor,
                      uint64_t offset, const void *src, size_t size);
/* Moves the queued writes into *out (for a call that carries them); the
 * queue is empty after it. */
void vgpu_take_writes(struct vgpu_remote *r, struct wire_tensor_writes *out);
/* Sends writes taken from the queue now (ext_set_tensors, or one
 * set_tensor each to a host without it); false (logged) when the host
 * refused one. */
bool vgpu_send_writes(struct vgpu_remote *r, const struct wire_tensor_writes *writes);
/* Sends the queued writes now; a failure is logged. */
void vgpu_flush_writes(struct vgpu_remote *r);

#endif
