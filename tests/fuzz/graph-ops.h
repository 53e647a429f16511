/* The ops of fuzz target graph_ops, each built by ggml's own constructor
 * from a recipe's choices (graph-ops-build.c; the recipe is in README.md). */
#ifndef GRAPH_OPS_H
#define GRAPH_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ggml.h"

#define OPS_DIMS 6
#define OPS_TYPES 3

/* A recipe's choices for one node: any bytes are a valid choice. */
struct ops_choice {
    uint8_t op;              /* the builder: ops_builders[op % ops_builder_count] */
    uint8_t variant;         /* its sub-op, mode, optional sources, views */
    uint8_t dim[OPS_DIMS];   /* extents, each an index into the edge values */
    uint8_t type[OPS_TYPES]; /* types, each an index into those the op takes */
};

struct ops_builder {
    const char *name;
    enum ggml_op op;
    struct ggml_tensor *(*build)(struct ggml_context *ctx, const struct ops_choice *c);
};

extern const struct ops_builder ops_builders[];
extern const size_t ops_builder_count;

/* the most nodes a builder makes (views of its sources included) */
#define OPS_MAX_NODES 16

/* The node ggml's constructor builds in ctx (no_alloc) from the choice,
 * with ggml_build_forward_expand's flags, or NULL when the constructor
 * aborted (an assert refused the choice). ctx needs room for a graph of
 * OPS_MAX_NODES. */
struct ggml_tensor *ops_build(struct ggml_context *ctx, const struct ops_choice *c);

#endif
