/* The choice of transport, in one place: which hosts the environment names,
 * and opening a connection to one of them. */
#define _GNU_SOURCE
#include "endpoints.h"

#include <stdlib.h>
#include <string.h>

#include "apir/names.h"
#include "log.h"
#include "transport-drm.h"
#include "transport-vtest.h"
#include "vtest-protocol.h"

static bool add_endpoint(struct vgpu_endpoints *list, const char *socket_path, bool venus_capset)
{
    struct vgpu_endpoint *grown = realloc(list->items, sizeof *grown * (list->count + 1));
    if (grown == NULL) {
        return false;
    }
    list->items = grown;
    list->items[list->count++] = (struct vgpu_endpoint){ socket_path, venus_capset };
    return true;
}

static void add_socket_list(struct vgpu_endpoints *list, const char *sockets, bool venus_capset)
{
    list->paths = strdup(sockets);
    char *save = NULL;
    for (char *path = list->paths ? strtok_r(list->paths, ":", &save) : NULL; path;
         path = strtok_r(NULL, ":", &save)) {
        if (!add_endpoint(list, path, venus_capset)) {
            return;
        }
    }
}

/* GGML_VIRTGPU_TRANSPORT, or vtest when VTEST_SOCKET_NAME is set, else drm */
static void add_selected_host(struct vgpu_endpoints *list, bool venus_capset)
{
    const char *choice = getenv(ENV_TRANSPORT);
    const char *socket_path = getenv(ENV_VTEST_SOCKET);
    if (choice == NULL) {
        choice = socket_path != NULL ? "vtest" : "drm";
    }
    if (strcmp(choice, "vtest") != 0 && strcmp(choice, "drm") != 0) {
        LOG_ERROR(ENV_TRANSPORT "='%s' is neither 'drm' nor 'vtest'", choice);
        return;
    }
    add_endpoint(list,
                 strcmp(choice, "drm") == 0 ? NULL
                 : socket_path              ? socket_path
                                            : VTEST_DEFAULT_SOCKET_NAME,
                 venus_capset);
}

void vgpu_endpoints_from_env(struct vgpu_endpoints *out)
{
    *out = (struct vgpu_endpoints){ .items = NULL };
    const bool venus_capset = getenv(ENV_USE_APIR_CAPSET) == NULL;
    const char *sockets = getenv(ENV_SOCKETS);
    if (sockets != NULL && sockets[0] != '\0') {
        add_socket_list(out, sockets, venus_capset);
    } else {
        add_selected_host(out, venus_capset);
    }
}

void vgpu_endpoints_release(struct vgpu_endpoints *endpoints)
{
    free(endpoints->items);
    free(endpoints->paths);
    *endpoints = (struct vgpu_endpoints){ .items = NULL };
}

struct vgpu_transport *vgpu_transport_open(const struct vgpu_endpoint *endpoint)
{
    return endpoint->socket_path ? vgpu_transport_vtest_open(endpoint->socket_path, endpoint->venus_capset)
                                 : vgpu_transport_drm_open(endpoint->venus_capset);
}
