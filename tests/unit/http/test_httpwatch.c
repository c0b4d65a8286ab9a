/* Unit tests for httpwatch (private to httpserver): the background thread
 * ticks by itself, reports a change of the watched files once they settle, and
 * stops at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "../../../src/http/httpwatch.h"
#include "../../lib/testutil.h"

struct ticks {
    atomic_uint all, due;
};

static void
count_tick(void *aux, bool files_due)
{
    struct ticks *t = aux;

    atomic_fetch_add(&t->all, 1);
    if (files_due) {
        atomic_fetch_add(&t->due, 1);
    }
}

static void
test_httpwatch_ticks_without_files(void **unused)
{
    struct ticks t = { 0 };
    struct errmsg err = { "" };
    struct httpwatch w;
    uint64_t start;

    (void) unused;
    httpwatch_init(&w);
    assert_int_equal(httpwatch_open(&w, &err), 0);
    assert_int_equal(httpwatch_start(&w, count_tick, &t, &err), 0);
    assert_true(testutil_wait_count(&t.all, 2, 20000));
    assert_int_equal(atomic_load(&t.due), 0);   /* never without files */
    start = clock_monotonic_ms();
    httpwatch_stop(&w);
    assert_true(clock_monotonic_ms() - start < 5000);   /* not a tick period away */
    httpwatch_stop(&w);                         /* again: nothing to do */
    httpwatch_close(&w);
}

static void
test_httpwatch_reports_a_changed_file(void **unused)
{
    struct ticks t = { 0 };
    struct errmsg err = { "" };
    char *dir = testutil_tempdir("httpwatch");
    char *cert = testutil_path(dir, "tls.crt"), *key = testutil_path(dir, "tls.key");
    struct httpwatch w;

    (void) unused;
    assert_int_equal(testutil_write_text(cert, "c1"), 0);
    assert_int_equal(testutil_write_text(key, "k1"), 0);
    httpwatch_init(&w);
    if (httpwatch_files(&w, cert, key, &err) < 0 || httpwatch_open(&w, &err) < 0
        || httpwatch_start(&w, count_tick, &t, &err) < 0) {
        fail_msg("httpwatch: %s", err.text);
    }
    assert_true(testutil_wait_count(&t.all, 1, 20000));
    assert_int_equal(atomic_load(&t.due), 0);
    assert_int_equal(testutil_write_text(cert, "c2"), 0);
    assert_int_equal(testutil_write_text(key, "k2"), 0);
    assert_true(testutil_wait_count(&t.due, 1, 20000));
    httpwatch_stop(&w);
    httpwatch_close(&w);
    testutil_rmtree(dir);
    free(dir);
    free(cert);
    free(key);
}

static void
test_httpwatch_files_in_a_missing_directory_is_an_error(void **unused)
{
    struct errmsg err = { "" };
    struct httpwatch w;

    (void) unused;
    httpwatch_init(&w);
    assert_int_equal(httpwatch_files(&w, "/nonexistent-exportflows/tls.crt",
                                     "/nonexistent-exportflows/tls.key", &err), -ENOENT);
    assert_non_null(strstr(err.text, "/nonexistent-exportflows"));
    httpwatch_stop(&w);                         /* never started: safe */
    httpwatch_close(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpwatch_ticks_without_files),
        cmocka_unit_test(test_httpwatch_reports_a_changed_file),
        cmocka_unit_test(test_httpwatch_files_in_a_missing_directory_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
