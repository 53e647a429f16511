#include "apir/protocol.h"

const char *apir_call_name(uint32_t call)
{
    static const char *const names[APIR_CALL_COUNT] = {
        "device_get_device_count", "device_get_count", "device_get_name",
        "device_get_description", "device_get_type", "device_get_memory",
        "device_supports_op", "device_get_buffer_type", "device_get_props",
        "device_buffer_from_ptr", "buffer_type_get_name", "buffer_type_get_alignment",
        "buffer_type_get_max_size", "buffer_type_is_host", "buffer_type_alloc_buffer",
        "buffer_type_get_alloc_size", "buffer_get_base", "buffer_set_tensor",
        "buffer_get_tensor", "buffer_cpy_tensor", "buffer_clear", "buffer_free_buffer",
        "backend_graph_compute",
    };
    if (call == APIR_CALL_EXT_DEVICE_COUNT) {
        return "ext_device_count";
    }
    if (call == APIR_CALL_EXT_BIND_DEVICE) {
        return "ext_bind_device";
    }
    return call < APIR_CALL_COUNT ? names[call] : "unknown";
}
