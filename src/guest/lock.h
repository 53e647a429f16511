/* The connection's lock: one call at a time, and the shared data blob
 * belongs to the holder (fill it before a call, read it after). Taking it
 * waits for the end of a graph run the host still runs. */
#ifndef VGPU_LOCK_H
#define VGPU_LOCK_H

struct vgpu_remote;

void vgpu_lock(struct vgpu_remote *r);
void vgpu_unlock(struct vgpu_remote *r);

#endif
