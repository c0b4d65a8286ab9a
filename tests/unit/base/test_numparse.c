/* Unit tests for numparse: strict decimal parsing and range checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exportflows/base/numparse.h"

static void
test_numparse_accepts_plain_decimals(void **state)
{
    uint64_t v = 0;

    assert_int_equal(numparse_u64("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(numparse_u64("65535", 1, 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(numparse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
}

static void
test_numparse_refuses_malformed_text(void **state)
{
    static const char *const bad[] = { "", "+1", "-1", " 1", "1 ", "01", "1x", "0x10", "1.0" };
    uint64_t v = 42;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(numparse_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
    }
    assert_int_equal(v, 42);
}

static void
test_numparse_checks_range_and_overflow(void **state)
{
    uint64_t v = 42;

    assert_int_equal(numparse_u64("0", 1, 65535, &v), -ERANGE);
    assert_int_equal(numparse_u64("65536", 1, 65535, &v), -ERANGE);
    assert_int_equal(numparse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
    assert_int_equal(numparse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
    assert_int_equal(v, 42);
}

static void
test_numparse_n_reads_only_the_prefix(void **state)
{
    uint64_t v = 0;

    assert_int_equal(numparse_u64_n("2055]", 4, 1, 65535, &v), 0);
    assert_int_equal(v, 2055);
    assert_int_equal(numparse_u64_n("", 0, 0, 1, &v), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numparse_accepts_plain_decimals),
        cmocka_unit_test(test_numparse_refuses_malformed_text),
        cmocka_unit_test(test_numparse_checks_range_and_overflow),
        cmocka_unit_test(test_numparse_n_reads_only_the_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
