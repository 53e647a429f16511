#include "wire-graph.h"

#include <string.h>

void wire_graph_begin(struct wire_graph_writer *w, void *buf, size_t cap, uint32_t n_nodes)
{
    wire_encoder_init(&w->enc, buf, cap);
    wire_encode_u32(&w->enc, n_nodes);
    w->tensor_count = NULL;
    w->n_tensors = 0;
}

void wire_graph_put_node(struct wire_graph_writer *w, uint64_t id)
{
    wire_encode_u64(&w->enc, id);
}

void wire_graph_put_tensor(struct wire_graph_writer *w, const struct wire_tensor *t)
{
    if (w->tensor_count == NULL && !w->enc.fatal) {
        w->tensor_count = wire_encode_reserve(&w->enc, sizeof(uint32_t));
    }
    wire_encode_bytes(&w->enc, t, sizeof *t);
    w->n_tensors++;
}

size_t wire_graph_end(struct wire_graph_writer *w)
{
    if (w->tensor_count == NULL && !w->enc.fatal) {
        w->tensor_count = wire_encode_reserve(&w->enc, sizeof(uint32_t));
    }
    if (w->enc.fatal || w->tensor_count == NULL) {
        return 0;
    }
    memcpy(w->tensor_count, &w->n_tensors, sizeof w->n_tensors);
    return wire_encoder_used(&w->enc);
}

bool wire_graph_read(struct wire_graph_reader *g, const void *data, size_t size, uint32_t max_count)
{
    struct wire_decoder dec;
    wire_decoder_init(&dec, data, size);
    g->n_nodes = wire_decode_u32(&dec);
    if (dec.fatal || g->n_nodes == 0 || g->n_nodes > max_count) {
        return false;
    }
    g->node_ids = wire_decode_inplace(&dec, sizeof(uint64_t) * g->n_nodes);
    g->n_tensors = wire_decode_u32(&dec);
    if (dec.fatal || g->n_tensors == 0 || g->n_tensors > max_count) {
        return false;
    }
    g->tensors = wire_decode_inplace(&dec, sizeof(struct wire_tensor) * g->n_tensors);
    return !dec.fatal;
}

uint64_t wire_graph_node_id(const struct wire_graph_reader *g, uint32_t i)
{
    uint64_t id;
    memcpy(&id, g->node_ids + sizeof id * i, sizeof id);
    return id;
}

void wire_graph_tensor(const struct wire_graph_reader *g, uint32_t i, struct wire_tensor *out)
{
    memcpy(out, g->tensors + sizeof *out * i, sizeof *out);
}
