/* The host's call table: a forwarded call's request decoded, handed to its
 * handler, its reply encoded. */
#ifndef HOST_DISPATCH_H
#define HOST_DISPATCH_H

#include <stdint.h>

#include "wire-codec.h"
#include "context.h"

uint32_t host_dispatch(struct host_ctx *ctx, uint32_t call, struct wire_decoder *dec, struct wire_encoder *enc);

#endif
