/* ggml tensors and graphs on the wire. */
#ifndef VGPU_WIRE_H
#define VGPU_WIRE_H

#include <stddef.h>

#include "frontend.h"

bool vgpu_wire_tensor(const struct ggml_tensor *t, struct wire_tensor *out);
/* the tensor of supports_op / get_alloc_size, with its sources */
void vgpu_inline_op(const struct ggml_tensor *t, struct wire_inline_op *out);
/* serializes the graph into [out, out + cap); the size written, 0 on failure */
size_t vgpu_serialize_graph(struct vgpu_tensor_set *set, const struct ggml_cgraph *graph, void *out, size_t cap);

#endif
