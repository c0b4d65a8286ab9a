/* Unit tests for clock: RFC 3339 formatting and the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "exportflows/clock.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_format_times_rfc3339),
        cmocka_unit_test(test_clock_monotonic_after_is_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
