/* Graph runs: one the host has taken and runs on (ext_graph_run_async),
 * whose end is waited for before the connection is used again, and the
 * outputs the last run brought back in the data blob, which get_tensor
 * reads without a call. All of it under the connection's lock. */
#ifndef VGPU_GRAPH_RUN_H
#define VGPU_GRAPH_RUN_H

#include "remote.h"

/* The return code of an ext_graph_run_async the host took: it runs on. */
#define VGPU_ACCEPTED (UINT32_MAX - 1)

/* Submits an ext_graph_run_async and waits until the host has taken the
 * work (VGPU_ACCEPTED: the run's end is waited for when the lock is next
 * taken, and its outputs are then those of `outputs` that the reply
 * counts) or has answered (its return code, *result filled, as from
 * vgpu_ext_graph_run_locked). */
uint32_t vgpu_graph_run_async_locked(struct vgpu_remote *r, const struct wire_msg_graph_run *req,
                                     const struct vgpu_run_outputs *outputs, struct wire_msg_graph_result *result);
/* Waits for the end of the graph run the host took, if one runs; its
 * outputs are then where they were said to be. */
void vgpu_await_pending_run(struct vgpu_remote *r);
/* The first n outputs of `layout` are those the last graph run brought
 * back (its reply counts them), for get_tensor to find. */
void vgpu_note_run_outputs(struct vgpu_remote *r, const struct vgpu_run_outputs *layout, uint32_t n);
/* Bytes [start, start + size) of a tensor in host buffer `buffer`, from the
 * outputs of the last graph run, into dst; false when they are not among
 * them. */
bool vgpu_read_run_output(struct vgpu_remote *r, uint64_t buffer, uintptr_t start, size_t size, void *dst);

#endif
