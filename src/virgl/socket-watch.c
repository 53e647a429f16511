/* The hang-up watch (see socket-watch.h). */
#define _GNU_SOURCE
#include "socket-watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct watched {
    int sock;
    uint64_t key;
};

static struct {
    pthread_mutex_t lock; /* the set, the thread's state */
    struct watched *set;
    size_t n, cap;
    socket_hangup_fn on_hangup;
    int wake; /* eventfd: the set changed, or the thread is to end */
    bool running, stopping;
    pthread_t thread;
} watch = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1 };

static void wake_thread(void)
{
    const uint64_t one = 1;
    if (write(watch.wake, &one, sizeof one) < 0) {
        LOG_DEBUG("waking the watch failed: %s", strerror(errno));
    }
}

/* The poll set: the wake-up first, then every watched socket (keys[i] for
 * fds[i + 1]); NULL when out of memory. */
static struct pollfd *poll_set(size_t *n, uint64_t **keys)
{
    pthread_mutex_lock(&watch.lock);
    *n = watch.n + 1;
    struct pollfd *fds = calloc(*n, sizeof *fds);
    *keys = calloc(*n, sizeof **keys);
    if (fds != NULL && *keys != NULL) {
        fds[0] = (struct pollfd){ .fd = watch.wake, .events = POLLIN };
        for (size_t i = 0; i < watch.n; i++) {
            fds[i + 1] = (struct pollfd){ .fd = watch.set[i].sock, .events = POLLRDHUP };
            (*keys)[i] = watch.set[i].key;
        }
    }
    pthread_mutex_unlock(&watch.lock);
    return fds;
}

/* Removes sock's watch under key from the set; whether it was there. */
static bool forget(int sock, uint64_t key)
{
    for (size_t i = 0; i < watch.n; i++) {
        if (watch.set[i].sock == sock && watch.set[i].key == key) {
            watch.set[i] = watch.set[--watch.n];
            return true;
        }
    }
    return false;
}

/* Tells of each socket that hung up and is still watched. */
static void tell_hangups(const struct pollfd *fds, const uint64_t *keys, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if ((fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) {
            continue;
        }
        pthread_mutex_lock(&watch.lock);
        if (forget(fds[i].fd, keys[i - 1])) {
            watch.on_hangup(keys[i - 1]); /* under the lock: remove() waits for it */
        }
        pthread_mutex_unlock(&watch.lock);
    }
}

static void *watch_thread(void *arg)
{
    (void)arg;
    for (;;) {
        size_t n;
        uint64_t *keys = NULL;
        struct pollfd *fds = poll_set(&n, &keys);
        const int ready = fds != NULL && keys != NULL ? poll(fds, n, -1) : -1;
        if (ready < 0 && errno != EINTR) {
            LOG_ERROR("the watch on apir-server's processes failed (%s); a guest whose process ends is not told "
                      "until its next command", fds == NULL || keys == NULL ? "out of memory" : strerror(errno));
            free(fds);
            free(keys);
            return NULL;
        }
        uint64_t drained;
        if (ready > 0 && fds[0].revents != 0 && read(watch.wake, &drained, sizeof drained) < 0) {
            LOG_DEBUG("draining the watch's wake-up failed: %s", strerror(errno));
        }
        if (ready > 0) {
            tell_hangups(fds, keys, n);
        }
        free(fds);
        free(keys);
        pthread_mutex_lock(&watch.lock);
        const bool stopping = watch.stopping;
        pthread_mutex_unlock(&watch.lock);
        if (stopping) {
            return NULL;
        }
    }
}

/* Starts the thread, unless it runs; with watch.lock held. */
static bool start_locked(void)
{
    if (watch.running) {
        return true;
    }
    watch.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    watch.stopping = false;
    if (watch.wake < 0 || pthread_create(&watch.thread, NULL, watch_thread, NULL) != 0) {
        LOG_ERROR("cannot start the watch on apir-server's processes: a guest whose process ends is not told "
                  "until its next command");
        if (watch.wake >= 0) {
            close(watch.wake);
            watch.wake = -1;
        }
        return false;
    }
    watch.running = true;
    return true;
}

bool socket_watch_add(int sock, uint64_t key, socket_hangup_fn on_hangup)
{
    pthread_mutex_lock(&watch.lock);
    bool ok = start_locked();
    if (ok && watch.n == watch.cap) {
        const size_t cap = watch.cap ? 2 * watch.cap : 16;
        struct watched *grown = realloc(watch.set, sizeof *grown * cap);
        ok = grown != NULL;
        if (ok) {
            watch.set = grown;
            watch.cap = cap;
        }
    }
    if (ok) {
        watch.set[watch.n++] = (struct watched){ sock, key };
        watch.on_hangup = on_hangup;
        wake_thread();
    }
    pthread_mutex_unlock(&watch.lock);
    return ok;
}

void socket_watch_remove(int sock, uint64_t key)
{
    pthread_mutex_lock(&watch.lock);
    if (forget(sock, key)) {
        wake_thread();
    }
    pthread_mutex_unlock(&watch.lock);
}

void socket_watch_stop(void)
{
    pthread_mutex_lock(&watch.lock);
    const bool running = watch.running;
    watch.stopping = true;
    watch.n = 0;
    if (running) {
        wake_thread();
    }
    pthread_mutex_unlock(&watch.lock);
    if (running) {
        pthread_join(watch.thread, NULL);
        close(watch.wake);
        watch.wake = -1;
        watch.running = false;
    }
    free(watch.set);
    watch.set = NULL;
    watch.cap = 0;
}
