/* monotime — CLOCK_MONOTONIC as a struct timespec, and seconds elapsed since one.
 *
 * Private to the HTTP server modules, which keep timestamps per connection and
 * per request and compare them against whole-second deadlines. */
#ifndef EXPORTFLOWS_MONOTIME_H
#define EXPORTFLOWS_MONOTIME_H

#include <time.h>

static inline struct timespec
monotime_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static inline double
monotime_seconds_since(const struct timespec *t)
{
    struct timespec now = monotime_now();

    return (double) (now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

#endif
