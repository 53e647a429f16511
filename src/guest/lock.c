/* The connection's lock (lock.h). */
#include "lock.h"

#include "graph-run.h"
#include "remote.h"

void vgpu_lock(struct vgpu_remote *r)
{
    pthread_mutex_lock(&r->lock);
    vgpu_await_pending_run(r); /* the blobs and the outputs are the holder's only then */
}

void vgpu_unlock(struct vgpu_remote *r)
{
    pthread_mutex_unlock(&r->lock);
}
