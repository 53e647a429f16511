/* Answers of the host that depend only on a tensor's shape and op, kept. */
#ifndef VGPU_OP_CACHE_H
#define VGPU_OP_CACHE_H

#include "frontend.h"

void vgpu_cache_init(struct vgpu_cache *c);
bool vgpu_cache_get(struct vgpu_cache *c, uint64_t key, uint64_t *value);
void vgpu_cache_put(struct vgpu_cache *c, uint64_t key, uint64_t value);
/* a key over what such answers depend on: op, parameters, types, layouts */
uint64_t vgpu_op_key(const struct ggml_tensor *t, uint64_t salt);

#endif
