/* The APIR backend library a context loads (VIRGL_APIR_BACKEND_LIBRARY). */
#ifndef HV_BACKEND_H
#define HV_BACKEND_H

#include <stdint.h>

#include "hv-internal.h"

/* Loads the library at path (NULL: none configured) and
 * initializes it for context ctx_id; returns an APIR_LOAD_LIBRARY_ code. */
uint32_t hv_backend_load(struct hv_backend *backend, const char *path, uint32_t ctx_id,
                         struct apir_backend_callbacks *callbacks);
/* Releases what the library holds for ctx_id and unloads it, if loaded. */
void hv_backend_unload(struct hv_backend *backend, uint32_t ctx_id);

#endif
