/* A computation graph on the wire, as the guest writes it into a shared
 * data blob and the host reads it:
 *
 *   u32 n_nodes, then n_nodes u64 node ids (graph order),
 *   u32 n_tensors, then n_tensors wire_tensor records,
 *
 * every tensor the nodes reach listed once, after its sources and its view
 * source; ids are the guest's and mean something only within one graph. */
#ifndef APIR_GRAPH_H
#define APIR_GRAPH_H

#include "wire-codec.h"
#include "apir/protocol.h"

/* ---- writing (guest) ------------------------------------------------------- */

struct wire_graph_writer {
    struct wire_encoder enc;
    uint32_t *tensor_count; /* the slot of n_tensors, written at the end */
    uint32_t n_tensors;
};

/* Starts a graph of n_nodes nodes in [buf, buf + cap); then exactly n_nodes
 * wire_graph_put_node, then the tensors. */
void wire_graph_begin(struct wire_graph_writer *w, void *buf, size_t cap, uint32_t n_nodes);
void wire_graph_put_node(struct wire_graph_writer *w, uint64_t id);
void wire_graph_put_tensor(struct wire_graph_writer *w, const struct wire_tensor *t);
/* The size of the graph, or 0 when it did not fit. */
size_t wire_graph_end(struct wire_graph_writer *w);

/* ---- reading (host, tests) ----------------------------------------------- */

struct wire_graph_reader {
    uint32_t n_nodes;
    uint32_t n_tensors;
    const uint8_t *node_ids; /* 8 bytes each, 4-byte aligned */
    const uint8_t *tensors;
};

/* Reads the counts of a graph of `size` bytes at `data` (once: the memory
 * may be shared with the guest) and checks that the ids and tensors they
 * announce lie within it; false when they do not, or when a count is 0 or
 * above max_count. */
bool wire_graph_read(struct wire_graph_reader *g, const void *data, size_t size, uint32_t max_count);
uint64_t wire_graph_node_id(const struct wire_graph_reader *g, uint32_t i);
/* copies tensor record i out of the graph */
void wire_graph_tensor(const struct wire_graph_reader *g, uint32_t i, struct wire_tensor *out);

#endif
