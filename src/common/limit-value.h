/* The value of a limit (apir-server's --max-* options, the APIR_MAX_*
 * variables, the apir.limits.* configuration keys): a decimal number with
 * an optional K, M, G or T suffix (powers of 1024), e.g. 512M or 8G. */
#ifndef LIMIT_VALUE_H
#define LIMIT_VALUE_H

#include <stdbool.h>
#include <stdint.h>

/* False when text is not such a number, or it is above max. */
bool limit_parse(const char *text, uint64_t max, uint64_t *out);

/* The limit a configuration value sets: default_value when value is NULL.
 * False (logged, naming key) when the value is invalid. */
bool limit_from_config(const char *key, const char *value, uint64_t default_value, uint64_t max, uint64_t *out);

#endif
