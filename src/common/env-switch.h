/* A switch of this project's environment (GGML_VIRTGPU_NO_PIN,
 * GGML_VIRTGPU_NO_HOST_BUFFER): on when the variable is set, not empty and
 * not "0". */
#ifndef ENV_SWITCH_H
#define ENV_SWITCH_H

#include <stdbool.h>
#include <stdlib.h>

static inline bool env_switch_on(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && *value != '\0' && *value != '0';
}

#endif
