/* Loading the real virglrenderer (see real.h). */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apir/names.h"
#include "log.h"

static struct virgl_real real;
static bool real_loaded; /* real's functions are set */
static bool real_tried;

/* Where the real library is: the variable, else the system's own copy. */
static const char *real_library_path(void)
{
    const char *path = getenv(ENV_REAL_VIRGLRENDERER);
    if (path != NULL) {
        return strcmp(path, "none") == 0 || path[0] == '\0' ? NULL : path;
    }
    return access(VIRGL_SYSTEM_LIBRARY, F_OK) == 0 ? VIRGL_SYSTEM_LIBRARY : NULL;
}

static void *resolve_function(void *library, const char *name, const char *path)
{
    void *function = dlsym(library, name);
    if (function == NULL) {
        LOG_ERROR("the virglrenderer at %s has no %s (too old?): virgl 3D and Venus are off; set "
                  ENV_REAL_VIRGLRENDERER " to a virglrenderer 1.x library", path, name);
    }
    return function;
}

/* Resolves every function; false (logged) when one is missing. */
static bool resolve_functions(void *library, const char *path)
{
#define VIRGL_RESOLVE(ret, name, params, args)                             \
    if ((*(void **)&real.name = resolve_function(library, #name, path)) == NULL) { \
        return false;                                                      \
    }
    VIRGL_FUNCTIONS(VIRGL_RESOLVE)
#undef VIRGL_RESOLVE
    return true;
}

/* Whether symbol lies in this library (the path names this library). */
static bool is_this_library(void *symbol)
{
    Dl_info theirs, ours;
    return symbol != NULL && dladdr(symbol, &theirs) != 0 && dladdr((void *)&real, &ours) != 0 &&
           theirs.dli_fbase == ours.dli_fbase;
}

static void load_real(void)
{
    const char *path = real_library_path();
    if (path == NULL) {
        LOG_INFO("no real virglrenderer to forward to (" ENV_REAL_VIRGLRENDERER " unset and none at "
                 VIRGL_SYSTEM_LIBRARY ", or set to none): only APIR contexts are served");
        return;
    }
    /* DEEPBIND: the real library's calls to its own exported functions must
     * reach its own, not this library's functions of the same names. */
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (library == NULL) {
        LOG_ERROR("cannot load the real virglrenderer %s: %s; virgl 3D and Venus are off (set "
                  ENV_REAL_VIRGLRENDERER " to its path, or to none)", path, dlerror());
        return;
    }
    if (is_this_library(dlsym(library, "virgl_renderer_init"))) {
        LOG_ERROR("%s is this APIR library itself, not the real virglrenderer: set "
                  ENV_REAL_VIRGLRENDERER " to the real one's path (or to none)", path);
        dlclose(library);
        return;
    }
    if (!resolve_functions(library, path)) {
        dlclose(library);
        return;
    }
    real_loaded = true;
    LOG_INFO("forwarding what is not APIR to the virglrenderer at %s", path);
}

const struct virgl_real *virgl_real(void)
{
    if (!real_tried) {
        real_tried = true;
        load_real();
    }
    return real_loaded ? &real : NULL;
}

void virgl_real_disable(void)
{
    real_loaded = false;
}
