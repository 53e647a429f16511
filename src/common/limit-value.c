#include "limit-value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"

/* the power of 1024 a suffix stands for, or -1 */
static int suffix_power(char c)
{
    switch (toupper((unsigned char)c)) {
    case '\0': return 0;
    case 'K': return 1;
    case 'M': return 2;
    case 'G': return 3;
    case 'T': return 4;
    default: return -1;
    }
}

bool limit_parse(const char *text, uint64_t max, uint64_t *out)
{
    if (text == NULL || !isdigit((unsigned char)text[0])) {
        return false;
    }
    errno = 0;
    char *end;
    const unsigned long long n = strtoull(text, &end, 10);
    const int power = suffix_power(end[0]);
    if (errno != 0 || power < 0 || (end[0] != '\0' && end[1] != '\0')) {
        return false;
    }
    uint64_t value = n;
    for (int i = 0; i < power; i++) {
        if (value > UINT64_MAX / 1024) {
            return false;
        }
        value *= 1024;
    }
    if (value > max) {
        return false;
    }
    *out = value;
    return true;
}

bool limit_from_config(const char *key, const char *value, uint64_t default_value, uint64_t max, uint64_t *out)
{
    if (value == NULL) {
        *out = default_value;
        return true;
    }
    if (!limit_parse(value, max, out)) {
        LOG_ERROR("configuration key %s: '%s' is not a limit (a number up to %llu, with an optional K, M, G or "
                  "T suffix; 0 for none)", key, value, (unsigned long long)max);
        return false;
    }
    return true;
}
