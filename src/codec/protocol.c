#include "apir/protocol.h"

#include <stddef.h>
#include <string.h>

const char *wire_call_name(uint32_t call)
{
#define APIR_CALL_NAME_CASE(NAME, number, name, request, reply) \
    case APIR_CALL_##NAME: return #name;
    switch (call) {
    APIR_CALLS(APIR_CALL_NAME_CASE)
    default: return "unknown";
    }
#undef APIR_CALL_NAME_CASE
}

int wire_call_index(uint32_t call)
{
#define APIR_CALL_INDEX_CASE(NAME, number, name, request, reply) \
    case APIR_CALL_##NAME: return APIR_CALL_INDEX_##NAME;
    switch (call) {
    APIR_CALLS(APIR_CALL_INDEX_CASE)
    default: return -1;
    }
#undef APIR_CALL_INDEX_CASE
}

bool wire_capset_valid(const struct wire_capset *caps)
{
    return caps->wire_version == 1 && caps->supports_blob_resources <= 1;
}

bool wire_capset_fill(uint32_t capset_id, bool venus_routed, struct wire_capset *out)
{
    if (capset_id != APIR_CAPSET_ID_APIR && !(capset_id == APIR_CAPSET_ID_VENUS && venus_routed)) {
        return false;
    }
    memset(out, 0, sizeof *out);
    out->wire_version = 1;
    out->supports_blob_resources = 1;
    return true;
}

const char *wire_call_error_text(uint32_t code)
{
#define APIR_CALL_ERROR_CASE(NAME, number, what) \
    case APIR_CALL_##NAME: return what;
    switch (code) {
    APIR_CALL_ERRORS(APIR_CALL_ERROR_CASE)
    default: return NULL;
    }
#undef APIR_CALL_ERROR_CASE
}

_Static_assert(APIR_CALL_BACKEND_GRAPH_COMPUTE + 1 == APIR_CALL_COUNT, "the base protocol has 23 calls");
