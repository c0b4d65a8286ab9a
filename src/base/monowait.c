/* monowait — see include/exportflows/base/monowait.h. */
#include "exportflows/base/monowait.h"

#include <errno.h>
#include <time.h>

#include "exportflows/base/clock.h"

int
monowait_init(pthread_mutex_t *lock, pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int r = pthread_condattr_init(&attr);

    if (!r) {
        r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (!r) {
            r = pthread_cond_init(cond, &attr);
        }
        pthread_condattr_destroy(&attr);
    }
    if (!r) {
        r = pthread_mutex_init(lock, NULL);
        if (r) {
            pthread_cond_destroy(cond);
        }
    }
    return -r;
}

void
monowait_release(pthread_mutex_t *lock, pthread_cond_t *cond)
{
    pthread_cond_destroy(cond);
    pthread_mutex_destroy(lock);
}

int
monowait_until(pthread_mutex_t *lock, pthread_cond_t *cond, uint64_t at_ms)
{
    struct timespec at;

    if (at_ms == UINT64_MAX) {
        return -pthread_cond_wait(cond, lock);
    }
    at.tv_sec = (time_t) (at_ms / 1000);
    at.tv_nsec = (long) (at_ms % 1000) * 1000000;
    return -pthread_cond_timedwait(cond, lock, &at);
}

void
monowait_sleep(pthread_mutex_t *lock, pthread_cond_t *cond, const atomic_bool *stop,
               unsigned ms)
{
    struct timespec until = clock_monotonic_after(ms);

    pthread_mutex_lock(lock);
    while (!atomic_load(stop) && pthread_cond_timedwait(cond, lock, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(lock);
}
