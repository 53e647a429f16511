/* The group and the mode of apir-server's socket file. */
#define _GNU_SOURCE
#include "socket-access.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The group's id from its name or number; false (and says why) when there is none. */
static bool group_id(const char *group, gid_t *out)
{
    char *end;
    errno = 0;
    const unsigned long number = strtoul(group, &end, 10);
    if (*group != '\0' && *end == '\0' && errno == 0 && number == (gid_t)number) {
        *out = (gid_t)number;
        return true;
    }
    const struct group *entry = getgrnam(group);
    if (entry == NULL) {
        LOG_ERROR("--socket-group: there is no group '%s'; create it (e.g. groupadd %s) or name an existing one",
                  group, group);
        return false;
    }
    *out = entry->gr_gid;
    return true;
}

/* The mode's bits from octal, at most 0777; false (and says why) otherwise. */
static bool mode_bits(const char *mode, mode_t *out)
{
    char *end;
    errno = 0;
    const unsigned long bits = strtoul(mode, &end, 8);
    if (*mode == '\0' || *end != '\0' || errno != 0 || bits > 0777) {
        LOG_ERROR("--socket-mode: '%s' is not a file mode (octal, e.g. 0660)", mode);
        return false;
    }
    *out = (mode_t)bits;
    return true;
}

bool socket_set_access(const char *path, const char *group, const char *mode)
{
    gid_t gid = (gid_t)-1;
    mode_t bits = 0;
    if ((group != NULL && !group_id(group, &gid)) || (mode != NULL && !mode_bits(mode, &bits))) {
        return false;
    }
    if (group != NULL && chown(path, (uid_t)-1, gid) < 0) {
        LOG_ERROR("cannot give the socket to group '%s': %s (the server's user must be a member of it)", group,
                  strerror(errno));
        return false;
    }
    if (mode != NULL && chmod(path, bits) < 0) {
        LOG_ERROR("cannot set the socket's mode to %s: %s", mode, strerror(errno));
        return false;
    }
    return true;
}
