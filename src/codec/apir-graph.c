#include "apir-graph.h"

#include <string.h>

void apir_graph_begin(struct apir_graph_writer *w, void *buf, size_t cap, uint32_t n_nodes)
{
    apir_encoder_init(&w->enc, buf, cap);
    apir_encode_u32(&w->enc, n_nodes);
    w->tensor_count = NULL;
    w->n_tensors = 0;
}

void apir_graph_put_node(struct apir_graph_writer *w, uint64_t id)
{
    apir_encode_u64(&w->enc, id);
}

void apir_graph_put_tensor(struct apir_graph_writer *w, const struct apir_wire_tensor *t)
{
    if (w->tensor_count == NULL && !w->enc.fatal) {
        w->tensor_count = apir_encode_reserve(&w->enc, sizeof(uint32_t));
    }
    apir_encode_bytes(&w->enc, t, sizeof *t);
    w->n_tensors++;
}

size_t apir_graph_end(struct apir_graph_writer *w)
{
    if (w->tensor_count == NULL && !w->enc.fatal) {
        w->tensor_count = apir_encode_reserve(&w->enc, sizeof(uint32_t));
    }
    if (w->enc.fatal || w->tensor_count == NULL) {
        return 0;
    }
    memcpy(w->tensor_count, &w->n_tensors, sizeof w->n_tensors);
    return apir_encoder_used(&w->enc);
}

bool apir_graph_read(struct apir_graph_reader *g, const void *data, size_t size, uint32_t max_count)
{
    struct apir_decoder dec;
    apir_decoder_init(&dec, data, size);
    g->n_nodes = apir_decode_u32(&dec);
    if (dec.fatal || g->n_nodes == 0 || g->n_nodes > max_count) {
        return false;
    }
    g->node_ids = apir_decode_inplace(&dec, sizeof(uint64_t) * g->n_nodes);
    g->n_tensors = apir_decode_u32(&dec);
    if (dec.fatal || g->n_tensors == 0 || g->n_tensors > max_count) {
        return false;
    }
    g->tensors = apir_decode_inplace(&dec, sizeof(struct apir_wire_tensor) * g->n_tensors);
    return !dec.fatal;
}

uint64_t apir_graph_node_id(const struct apir_graph_reader *g, uint32_t i)
{
    uint64_t id;
    memcpy(&id, g->node_ids + sizeof id * i, sizeof id);
    return id;
}

void apir_graph_tensor(const struct apir_graph_reader *g, uint32_t i, struct apir_wire_tensor *out)
{
    memcpy(out, g->tensors + sizeof *out * i, sizeof *out);
}
