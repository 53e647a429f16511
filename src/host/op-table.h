/* The table of the ops the host runs, and the check of one tensor against it. */
#ifndef HOST_OP_TABLE_H
#define HOST_OP_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "ggml.h"

/* Room for a refusal's reason with the shapes it concerns. */
#define HOST_OP_WHY_SIZE 512
/* Whether the table of accepted ops takes tensor t, built by the decoder
 * (type and op in range) with its sources and view source linked: its op
 * is one the host runs, with the sources, types, shapes and op_params
 * ggml's constructor for that op gives. When not, `why` says what is
 * wrong, naming the tensor and its op. */
bool host_op_accepted(const struct ggml_tensor *t, char *why, size_t size);

#endif
