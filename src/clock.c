/* clock — see include/exportflows/clock.h. */
#include "exportflows/clock.h"

#include <stdio.h>

uint64_t
clock_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
clock_monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

struct timespec
clock_monotonic_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

double
clock_seconds_since(const struct timespec *t)
{
    struct timespec now = clock_monotonic_now();

    return (double) (now.tv_sec - t->tv_sec) + (double) (now.tv_nsec - t->tv_nsec) / 1e9;
}

struct timespec
clock_monotonic_after(unsigned ms)
{
    struct timespec at;

    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += ms / 1000;
    at.tv_nsec += (long) (ms % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    return at;
}

void
clock_format_rfc3339(int64_t unix_s, char buf[CLOCK_RFC3339_MAX])
{
    time_t t = (time_t) unix_s;
    struct tm tm;

    if (!gmtime_r(&t, &tm)
        || !strftime(buf, CLOCK_RFC3339_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        buf[0] = '\0';
    }
}

void
clock_format_rfc3339_micro(const struct timespec *ts, char buf[CLOCK_RFC3339_MICRO_MAX])
{
    char secs[24];
    struct tm tm;

    if (!gmtime_r(&ts->tv_sec, &tm)
        || !strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm)) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, CLOCK_RFC3339_MICRO_MAX, "%s.%06uZ", secs,
             (unsigned) (ts->tv_nsec / 1000) % 1000000u);
}
