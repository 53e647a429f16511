/* libapir's contexts: what commands need of one besides the public API. */
#ifndef HV_CONTEXT_H
#define HV_CONTEXT_H

#include "hv-internal.h"

/* the resource res_id of the context, or NULL */
struct hv_resource *hv_find_resource(struct apir_context *ctx, uint32_t res_id);

#endif
