/* Unit tests for clock: RFC 3339 formatting and parsing, and the monotonic clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"

static void
test_clock_format_times_rfc3339(void **unused)
{
    struct timespec ts = { .tv_sec = 1767323045, .tv_nsec = 5001000 };
    char buf[CLOCK_RFC3339_MICRO_MAX];

    (void) unused;
    clock_format_rfc3339(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    clock_format_rfc3339(1767323045, buf);
    assert_string_equal(buf, "2026-01-02T03:04:05Z");
    clock_format_rfc3339_micro(&ts, buf);
    assert_string_equal(buf, "2026-01-02T03:04:05.005001Z");
}

static void
test_clock_parse_reads_times_and_micro_times(void **unused)
{
    int64_t t = -1;

    (void) unused;
    assert_int_equal(clock_parse_rfc3339("2026-01-02T03:04:05Z", &t), 0);
    assert_int_equal(t, 1767323045);
    assert_int_equal(clock_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(clock_parse_rfc3339("2026-01-02T03:04:05.005001Z", &t), 0);
    assert_int_equal(t, 1767323045);
    assert_int_equal(clock_parse_rfc3339("2024-02-29T23:59:59.1Z", &t), 0);
    assert_int_equal(t, 1709251199);
}

static void
test_clock_parse_refuses_other_text(void **unused)
{
    static const char *const bad[] = {
        "", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05+01:00",
        "2026-01-02 03:04:05Z", "2026-13-02T03:04:05Z", "2026-02-31T03:04:05Z",
        "2026-01-02T24:04:05Z", "2026-01-02T03:60:05Z", "2026-01-02T03:04:60Z",
        "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567890Z", "2026-01-02T03:04:05Zx",
        "+026-01-02T03:04:05Z", "2026-01-0xT03:04:05Z", "1969-12-31T23:59:59Z",
    };
    int64_t t = 42;

    (void) unused;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (clock_parse_rfc3339(bad[i], &t) != -EINVAL) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
    assert_int_equal(clock_parse_rfc3339(NULL, &t), -EINVAL);
    assert_int_equal(t, 42);
}

static void
test_clock_monotonic_after_is_ahead(void **unused)
{
    struct timespec before, at;
    uint64_t ms = clock_monotonic_ms(), us = clock_monotonic_us();

    (void) unused;
    assert_true(us / 1000 >= ms);
    clock_gettime(CLOCK_MONOTONIC, &before);
    at = clock_monotonic_after(1999);
    assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000);
    assert_true((at.tv_sec - before.tv_sec) * 1000 + (at.tv_nsec - before.tv_nsec) / 1000000
                >= 1999);
}

static void
test_clock_realtime_now_is_the_wall_clock(void **unused)
{
    time_t before = time(NULL);
    struct timespec now = clock_realtime_now();
    time_t after = time(NULL);

    (void) unused;
    /* time() may read a coarser clock, a tick behind. */
    assert_true(now.tv_sec >= before && now.tv_sec <= after + 1);
    assert_true(now.tv_nsec >= 0 && now.tv_nsec < 1000000000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_format_times_rfc3339),
        cmocka_unit_test(test_clock_parse_reads_times_and_micro_times),
        cmocka_unit_test(test_clock_parse_refuses_other_text),
        cmocka_unit_test(test_clock_monotonic_after_is_ahead),
        cmocka_unit_test(test_clock_realtime_now_is_the_wall_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
