/* Unit tests for errmsg: formatting, prefixing, the fixed-size cut and NULL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/errmsg.h"

static void
test_errmsg_set_formats_and_returns_the_code(void **unused)
{
    struct errmsg err = { "old" };

    (void) unused;
    assert_int_equal(errmsg_set(&err, -EINVAL, "bad port '%s' (%d)", "x", 7), -EINVAL);
    assert_string_equal(err.text, "bad port 'x' (7)");
    assert_int_equal(errmsg_set(&err, 0, "%s", ""), 0);
    assert_string_equal(err.text, "");
}

static void
test_errmsg_prefix_puts_the_context_first(void **unused)
{
    struct errmsg err;

    (void) unused;
    errmsg_set(&err, -ENOENT, "no such file");
    assert_int_equal(errmsg_prefix(&err, -ENOENT, "cannot read '%s'", "a.yaml"), -ENOENT);
    assert_string_equal(err.text, "cannot read 'a.yaml': no such file");
    assert_int_equal(errmsg_prefix(&err, -EIO, "config"), -EIO);
    assert_string_equal(err.text, "config: cannot read 'a.yaml': no such file");
}

static void
test_errmsg_set_cuts_at_the_cap(void **unused)
{
    char big[2 * ERRMSG_MAX];
    struct errmsg err;

    (void) unused;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(errmsg_set(&err, -E2BIG, "%s", big), -E2BIG);
    assert_int_equal(strlen(err.text), ERRMSG_MAX - 1);
}

static void
test_errmsg_prefix_cuts_the_old_message_at_the_cap(void **unused)
{
    char big[ERRMSG_MAX];
    struct errmsg err;

    (void) unused;
    memset(big, 'o', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    errmsg_set(&err, -1, "%s", big);
    errmsg_prefix(&err, -1, "pre");
    assert_int_equal(strlen(err.text), ERRMSG_MAX - 1);
    assert_memory_equal(err.text, "pre: ooo", 8);
    /* A prefix that fills the whole struct leaves no room for ": old". */
    memset(big, 'p', sizeof big - 1);
    errmsg_set(&err, -1, "old");
    errmsg_prefix(&err, -1, "%s", big);
    assert_int_equal(strlen(err.text), ERRMSG_MAX - 1);
    assert_null(strstr(err.text, "old"));
    assert_null(strchr(err.text, ':'));
}

static void
test_errmsg_null_is_accepted(void **unused)
{
    (void) unused;
    assert_int_equal(errmsg_set(NULL, -EPERM, "ignored %d", 1), -EPERM);
    assert_int_equal(errmsg_prefix(NULL, -EPERM, "ignored"), -EPERM);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errmsg_set_formats_and_returns_the_code),
        cmocka_unit_test(test_errmsg_prefix_puts_the_context_first),
        cmocka_unit_test(test_errmsg_set_cuts_at_the_cap),
        cmocka_unit_test(test_errmsg_prefix_cuts_the_old_message_at_the_cap),
        cmocka_unit_test(test_errmsg_null_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
