/* test_goduration — Go's time.ParseDuration: the values and refusals of Go's
 * own tests, so that a duration means here what it means to Go. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/goduration.h"

#define S GODURATION_NS_PER_SECOND

static void
check(const char *text, int want_error, int64_t want_ns)
{
    int64_t ns = 42;
    int error = goduration_parse(text, strlen(text), &ns);

    if (error != want_error || (!error && ns != want_ns)) {
        fail_msg("'%s': got %d, %lld; want %d, %lld", text, error, (long long) ns,
                 want_error, (long long) want_ns);
    }
    if (error) {
        assert_int_equal(ns, 42);       /* untouched on failure */
    }
}

static void
test_goduration_values(void **state)
{
    static const struct { const char *text; int64_t ns; } cases[] = {
        { "0", 0 }, { "-0", 0 }, { "+0", 0 }, { "0s", 0 },
        { "5s", 5 * S }, { "30s", 30 * S }, { "1478s", 1478 * S },
        { "-5s", -5 * S }, { "+5s", 5 * S }, { "-0s", 0 }, { "+0s", 0 },
        { "5.0s", 5 * S }, { "5.6s", 5 * S + 600000000 }, { "5.s", 5 * S },
        { ".5s", S / 2 }, { "1.0s", S }, { "1.00s", S }, { "1.004s", 1004000000 },
        { "1.0040s", 1004000000 }, { "100.00100s", 100 * S + 1000000 },
        { "10ns", 10 }, { "11us", 11000 }, { "12\xc2\xb5s", 12000 },
        { "12\xce\xbcs", 12000 }, { "13ms", 13000000 }, { "14s", 14 * S },
        { "15m", 15 * 60 * S }, { "16h", 16 * 3600 * S },
        { "3h30m", 12600 * S }, { "10.5s4m", 250 * S + S / 2 },
        { "-2m3.4s", -(123 * S + 400000000) },
        { "1h2m3s4ms5us6ns", 3723 * S + 4005006 },
        { "39h9m14.425s", 140954425000000 }, { "52763797000ns", 52763797000 },
        { "0.3333333333333333333h", 1200 * S },
        { "9007199254740993ns", 9007199254740993 },
        { "9223372036854775807ns", INT64_MAX },
        { "9223372036854775.807us", INT64_MAX },
        { "9223372036s854ms775us807ns", INT64_MAX },
        { "-9223372036854775808ns", INT64_MIN },
        { "-9223372036854775.808us", INT64_MIN },
        { "0.100000000000000000000h", 360 * S },
        { "0.830103483285477580700h", 2988372539827 },
        { "1m30s", 90 * S }, { "60s", 60 * S }, { "1.5s", S + S / 2 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check(cases[i].text, 0, cases[i].ns);
    }
}

static void
test_goduration_refusals(void **state)
{
    static const char *const malformed[] = {
        "", "3", "-", "+", "s", ".", "-.", ".s", "+.s", "1d", "\x85\x85", "\xff" "ff",
        "hello \xff" "ff world", "1sx", "1 s", " 1s", "1s ", "1e3s", "1,5s", "5S",
        "--5s", "1h-5m", "00", "0.",
    };
    static const char *const too_big[] = {
        "9223372036854775810ns", "9223372036854775808ns", "-9223372036854775809ns",
        "9223372036854776us", "3000000h", "9223372036854775.808us",
        "9223372036854ms775us808ns", "99999999999999999999s",
    };

    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        check(malformed[i], -EINVAL, 0);
    }
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        check(too_big[i], -ERANGE, 0);
    }
}

/* Only 'len' bytes are read: a NUL inside is text like any other. */
static void
test_goduration_reads_len_bytes(void **state)
{
    int64_t ns = 0;

    assert_int_equal(goduration_parse("10s20s", 3, &ns), 0);
    assert_int_equal(ns, 10 * S);
    assert_int_equal(goduration_parse("1s\0", 3, &ns), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goduration_values),
        cmocka_unit_test(test_goduration_refusals),
        cmocka_unit_test(test_goduration_reads_len_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
