/* test_report — report_send() hands the level, code and message over as one
 * struct report, and does nothing without a callback. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "exportflows/base/report.h"

struct seen {
    unsigned calls;
    struct report last;
};

static void
record(void *aux, const struct report *r)
{
    struct seen *s = aux;

    s->calls++;
    s->last = *r;
}

static void
test_report_send_delivers_one_report(void **unused)
{
    struct seen s = { 0 };

    (void) unused;
    report_send(record, &s, REPORT_WARN, -ECONNREFUSED, "cannot connect");
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.last.level, REPORT_WARN);
    assert_int_equal(s.last.code, -ECONNREFUSED);
    assert_string_equal(s.last.message, "cannot connect");
    report_send(record, &s, REPORT_INFO, 0, "watching again");
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.last.level, REPORT_INFO);
    assert_int_equal(s.last.code, 0);
}

static void
test_report_send_without_callback_does_nothing(void **unused)
{
    (void) unused;
    report_send(NULL, NULL, REPORT_ERROR, -EIO, "nobody listens");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_send_delivers_one_report),
        cmocka_unit_test(test_report_send_without_callback_does_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
