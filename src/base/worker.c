/* worker — see include/exportflows/base/worker.h. */
#include "exportflows/base/worker.h"

#include <errno.h>
#include <string.h>

#include "exportflows/base/monowait.h"

int
worker_init(struct worker *w)
{
    memset(w, 0, sizeof *w);
    atomic_init(&w->stopping, false);
    return monowait_init(&w->lock, &w->wake);
}

void
worker_release(struct worker *w)
{
    monowait_release(&w->lock, &w->wake);
}

static void *
trampoline(void *arg)
{
    struct worker *w = arg;

    w->run(w->arg);
    return NULL;
}

int
worker_start(struct worker *w, worker_fn *run, void *arg, worker_fn *interrupt,
             void *interrupt_arg, struct errmsg *err)
{
    int r;

    if (w->started) {
        return errmsg_set(err, -EALREADY, "already started");
    }
    w->run = run;
    w->interrupt = interrupt;
    w->arg = arg;
    w->interrupt_arg = interrupt_arg;
    r = pthread_create(&w->thread, NULL, trampoline, w);
    if (r) {
        return errmsg_set(err, -r, "cannot start a thread: %s", strerror(r));
    }
    w->started = true;
    return 0;
}

bool
worker_stop(struct worker *w)
{
    if (!w->started || w->joined) {
        return false;
    }
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stopping, true);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->interrupt) {
        w->interrupt(w->interrupt_arg);
    }
    pthread_join(w->thread, NULL);
    w->joined = true;
    return true;
}

bool
worker_stopping(const struct worker *w)
{
    return atomic_load(&((struct worker *) w)->stopping);
}

void
worker_wake(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    worker_wake_locked(w);
    pthread_mutex_unlock(&w->lock);
}

void
worker_wake_locked(struct worker *w)
{
    pthread_cond_broadcast(&w->wake);
}

int
worker_wait_until(struct worker *w, uint64_t at_ms)
{
    if (worker_stopping(w)) {
        return -ECANCELED;
    }
    return monowait_until(&w->lock, &w->wake, at_ms);
}

void
worker_sleep(struct worker *w, unsigned ms)
{
    monowait_sleep(&w->lock, &w->wake, &w->stopping, ms);
}
