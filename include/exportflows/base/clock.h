/* clock — reading the clocks and writing times the way Kubernetes wants them.
 *
 * Timeouts, deadlines and durations use CLOCK_MONOTONIC, which the wall clock's
 * steps do not move; only timestamps meant for people or for the API server
 * (Lease renewTime, annotations) use the wall clock, in RFC 3339 UTC. */
#ifndef EXPORTFLOWS_CLOCK_H
#define EXPORTFLOWS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Sizes of the buffers the formatters below fill, NUL included. */
#define CLOCK_RFC3339_MAX 32
#define CLOCK_RFC3339_MICRO_MAX 40

/* CLOCK_MONOTONIC in milliseconds and microseconds, since an arbitrary point. */
uint64_t clock_monotonic_ms(void);
uint64_t clock_monotonic_us(void);

/* CLOCK_MONOTONIC now, and the seconds elapsed since an earlier reading 't'. */
struct timespec clock_monotonic_now(void);
double clock_seconds_since(const struct timespec *t);

/* CLOCK_REALTIME now: for timestamps only, never for measuring time. */
struct timespec clock_realtime_now(void);

/* The CLOCK_MONOTONIC time 'ms' milliseconds from now, to the nanosecond: an
 * absolute deadline for pthread_cond_timedwait() on a monotonic condition
 * variable (see monowait.h). */
struct timespec clock_monotonic_after(unsigned ms);

/* 'unix_s' as RFC 3339 in UTC to the second, "2026-01-02T03:04:05Z" (a
 * Kubernetes Time).  Writes "" when the time cannot be represented. */
void clock_format_rfc3339(int64_t unix_s, char buf[CLOCK_RFC3339_MAX]);

/* '*ts' as RFC 3339 in UTC to the microsecond, "2026-01-02T03:04:05.123456Z" (a
 * Kubernetes MicroTime).  Writes "" when the time cannot be represented. */
void clock_format_rfc3339_micro(const struct timespec *ts,
                                char buf[CLOCK_RFC3339_MICRO_MAX]);

/* Parses a Kubernetes Time or MicroTime in UTC, "2026-01-02T03:04:05Z" with an
 * optional fraction of up to 9 digits before the 'Z' (dropped), into Unix
 * seconds.  0, or -EINVAL for anything else (another zone, a field out of
 * range, trailing text). */
int clock_parse_rfc3339(const char *text, int64_t *ret);

#endif
