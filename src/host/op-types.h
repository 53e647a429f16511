/* The sets of tensor types the op table and its checks speak of. */
#ifndef HOST_OP_TYPES_H
#define HOST_OP_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "ggml.h"

/* a set of types is a bit mask over enum ggml_type */
_Static_assert(GGML_TYPE_COUNT <= 64, "a type set is 64 bits");
#define TYPE(t) (UINT64_C(1) << GGML_TYPE_##t)
#define TYPES_F32 TYPE(F32)
#define TYPES_F16 TYPE(F16)
#define TYPES_I32 TYPE(I32)
#define TYPES_F16_F32 (TYPE(F16) | TYPE(F32))
#define TYPES_FLOAT (TYPE(F32) | TYPE(F16) | TYPE(BF16))
#define TYPES_INDEX (TYPE(I32) | TYPE(I64))
/* quantized types that store weights: each has a dequantization and a CPU
 * dot product (Q8_1 and Q8_K are only the CPU's intermediate types) */
#define TYPES_QUANT                                                                                             \
    (TYPE(Q1_0) | TYPE(Q2_0) | TYPE(Q4_0) | TYPE(Q4_1) | TYPE(Q5_0) | TYPE(Q5_1) | TYPE(Q8_0) | TYPE(MXFP4) |     \
     TYPE(NVFP4) | TYPE(Q2_K) | TYPE(Q3_K) | TYPE(Q4_K) | TYPE(Q5_K) | TYPE(Q6_K) | TYPE(IQ2_XXS) | TYPE(IQ2_XS) | \
     TYPE(IQ3_XXS) | TYPE(IQ3_S) | TYPE(IQ2_S) | TYPE(IQ1_S) | TYPE(IQ1_M) | TYPE(IQ4_NL) | TYPE(IQ4_XS) |        \
     TYPE(TQ1_0) | TYPE(TQ2_0))
/* quantized types the CPU cannot quantize to (they need an importance matrix) */
#define TYPES_NEED_IMATRIX \
    (TYPE(IQ2_XXS) | TYPE(IQ2_XS) | TYPE(IQ3_XXS) | TYPE(IQ3_S) | TYPE(IQ2_S) | TYPE(IQ1_S) | TYPE(IQ1_M))
#define TYPES_WEIGHT (TYPES_FLOAT | TYPES_QUANT)
/* the types a float row can be converted to (the CPU's from_float) */
#define TYPES_FROM_FLOAT (TYPES_FLOAT | TYPES_I32 | (TYPES_QUANT & ~TYPES_NEED_IMATRIX))
#define TYPES_ANY ((UINT64_C(1) << GGML_TYPE_COUNT) - 1)

static inline bool type_in(enum ggml_type type, uint64_t types)
{
    return (types >> type) & 1;
}

#endif
