/* httpwatch — see src/http/httpwatch.h. */
#include "httpwatch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "exportflows/base/clock.h"

/* How often the thread wakes for the reaper; files are also looked at every
 * HTTPWATCH_STAT_PERIOD_S in case inotify missed a change (a directory
 * replaced under us, a bind mount updated from the outside). */
#define HTTPWATCH_TICK_MS 500
#define HTTPWATCH_STAT_PERIOD_S 10
/* Quiet time after a burst of file events before reading: a writer that replaces
 * the certificate and the key one after the other is seen once, whole. */
#define HTTPWATCH_DEBOUNCE_MS 100

void
httpwatch_init(struct httpwatch *w)
{
    *w = (struct httpwatch) { .wake_fd = -1, .inotify_fd = -1 };
}

static void
dirname_of(const char *file, char *buf, size_t size)
{
    const char *slash = strrchr(file, '/');

    if (!slash) {
        snprintf(buf, size, ".");
    } else if (slash == file) {
        snprintf(buf, size, "/");
    } else {
        snprintf(buf, size, "%.*s", (int) (slash - file), file);
    }
}

int
httpwatch_files(struct httpwatch *w, const char *cert_file, const char *key_file,
                struct errmsg *err)
{
    const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE
                          | IN_DELETE | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF;
    char dir[PATH_MAX];
    const char *files[] = { cert_file, key_file };

    w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->inotify_fd < 0) {
        int r = -errno;

        return errmsg_set(err, r, "cannot watch the certificate files: %s", strerror(-r));
    }
    for (size_t i = 0; i < 2; i++) {
        dirname_of(files[i], dir, sizeof dir);
        if (inotify_add_watch(w->inotify_fd, dir, mask) < 0) {
            int r = -errno;

            return errmsg_set(err, r, "cannot watch '%s': %s", dir, strerror(-r));
        }
    }
    return 0;
}

int
httpwatch_open(struct httpwatch *w, struct errmsg *err)
{
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wake_fd < 0) {
        return errmsg_set(err, -errno, "cannot create an eventfd: %s", strerror(errno));
    }
    return 0;
}

/* Reads and drops pending inotify events; true when there were some. */
static bool
drain_inotify(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool any = false;

    while (read(fd, buf, sizeof buf) > 0) {
        any = true;
    }
    return any;
}

/* Waits until the files have been quiet for a moment; false when told to stop. */
static bool
wait_for_quiet(struct httpwatch *w)
{
    struct pollfd fds[2] = {
        { .fd = w->wake_fd, .events = POLLIN },
        { .fd = w->inotify_fd, .events = POLLIN },
    };

    for (;;) {
        int n = poll(fds, 2, HTTPWATCH_DEBOUNCE_MS);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return true;
        }
        if (fds[0].revents) {
            return false;
        }
        drain_inotify(w->inotify_fd);
    }
}

/* This thread does not use the worker module (worker.h) that the other
 * background threads share: it sleeps in poll() on the inotify descriptor and
 * is stopped through an eventfd, where a worker sleeps on a condition variable
 * that no descriptor can wake.  Only pthread_create() and pthread_join() would
 * be shared, at the price of a lock and a condition variable never used. */
static void *
watch_main(void *aux)
{
    struct httpwatch *w = aux;
    struct timespec last_stat = clock_monotonic_now();
    struct pollfd fds[2] = {
        { .fd = w->wake_fd, .events = POLLIN },
        { .fd = w->inotify_fd, .events = POLLIN },
    };

    for (;;) {
        int n = poll(fds, w->inotify_fd >= 0 ? 2 : 1, HTTPWATCH_TICK_MS);
        bool check = false;

        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n > 0 && fds[0].revents) {
            break;
        }
        if (n > 0 && w->inotify_fd >= 0 && fds[1].revents && drain_inotify(w->inotify_fd)) {
            if (!wait_for_quiet(w)) {
                break;
            }
            check = true;
        }
        if (w->inotify_fd >= 0
            && clock_seconds_since(&last_stat) >= HTTPWATCH_STAT_PERIOD_S) {
            last_stat = clock_monotonic_now();
            check = true;
        }
        w->tick(w->aux, check);
    }
    return NULL;
}

int
httpwatch_start(struct httpwatch *w, httpwatch_tick_fn *tick, void *aux,
                struct errmsg *err)
{
    int r;

    w->tick = tick;
    w->aux = aux;
    if ((r = -pthread_create(&w->thread, NULL, watch_main, w)) < 0) {
        return errmsg_set(err, r, "cannot start a thread: %s", strerror(-r));
    }
    w->running = true;
    return 0;
}

void
httpwatch_stop(struct httpwatch *w)
{
    uint64_t one = 1;

    if (!w->running) {
        return;
    }
    if (write(w->wake_fd, &one, sizeof one) < 0) {
        /* an eventfd write only fails when the counter would overflow */
    }
    pthread_join(w->thread, NULL);
    w->running = false;
}

void
httpwatch_close(struct httpwatch *w)
{
    if (w->wake_fd >= 0) {
        close(w->wake_fd);
        w->wake_fd = -1;
    }
    if (w->inotify_fd >= 0) {
        close(w->inotify_fd);
        w->inotify_fd = -1;
    }
}
