/* clock — see include/exportflows/base/clock.h. */
#include "exportflows/base/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "exportflows/base/numparse.h"

uint64_t
clock_monotonic_ms(void)
{
    struct timespec ts = clock_monotonic_now();

    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
clock_monotonic_us(void)
{
    struct timespec ts = clock_monotonic_now();

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

struct timespec
clock_monotonic_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

struct timespec
clock_realtime_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
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
    struct timespec at = clock_monotonic_now();

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

/* The 'n' digits at 's' as a number in [min, max]; false otherwise. */
static bool
digits(const char *s, size_t n, uint64_t min, uint64_t max, int *ret)
{
    uint64_t v;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    /* Fixed-width fields keep their leading zeros ("05"): numparse would refuse
     * them, so parse the digits after the zeros, all zeros being 0. */
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    if (numparse_u64_n(s, n, min, max, &v)) {
        return false;
    }
    *ret = (int) v;
    return true;
}

int
clock_parse_rfc3339(const char *text, int64_t *ret)
{
    struct tm tm = { 0 }, back;
    const char *p = text;
    time_t t;

    if (!text || strlen(text) < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T'
        || text[13] != ':' || text[16] != ':'
        || !digits(p, 4, 1970, 9999, &tm.tm_year) || !digits(p + 5, 2, 1, 12, &tm.tm_mon)
        || !digits(p + 8, 2, 1, 31, &tm.tm_mday) || !digits(p + 11, 2, 0, 23, &tm.tm_hour)
        || !digits(p + 14, 2, 0, 59, &tm.tm_min) || !digits(p + 17, 2, 0, 59, &tm.tm_sec)) {
        return -EINVAL;
    }
    p += 19;
    if (*p == '.') {
        size_t n = strspn(p + 1, "0123456789");

        if (n < 1 || n > 9) {
            return -EINVAL;
        }
        p += 1 + n;
    }
    if (strcmp(p, "Z")) {
        return -EINVAL;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    back = tm;
    t = timegm(&back);
    /* timegm() would make February 31 into March 3: refuse what it moved. */
    if (t == (time_t) -1 || back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon) {
        return -EINVAL;
    }
    *ret = (int64_t) t;
    return 0;
}
