/* Unit tests for httpmetrics (private to httpserver): the families it
 * registers with and without TLS, the requests series by status code, and the
 * server going on without a registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../src/http/httpmetrics.h"

static void
test_httpmetrics_register_plain_has_no_tls_families(void **unused)
{
    struct metrics *m = metrics_create();
    struct httpmetrics hm = { 0 };
    char *text;

    (void) unused;
    assert_non_null(m);
    httpmetrics_register(&hm, m, "t", false);
    assert_non_null(hm.requests);
    assert_non_null(hm.duration);
    assert_non_null(hm.in_flight);
    assert_null(hm.not_after);
    assert_null(hm.reloads_ok);
    assert_null(hm.reloads_failed);
    metrics_observe(hm.duration, 0.003);
    metrics_add(hm.in_flight, 2);
    text = metrics_render(m);
    assert_non_null(strstr(text, "# TYPE t_http_request_duration_seconds histogram"));
    assert_non_null(strstr(text, "t_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
    assert_non_null(strstr(text, "t_http_request_duration_seconds_bucket{le=\"0.0025\"} 0"));
    assert_non_null(strstr(text, "t_http_requests_in_flight 2"));
    assert_null(strstr(text, "tls_"));
    free(text);
    metrics_destroy(m);
}

static void
test_httpmetrics_register_tls_adds_expiry_and_reloads(void **unused)
{
    struct metrics *m = metrics_create();
    struct httpmetrics hm = { 0 };
    char *text;

    (void) unused;
    httpmetrics_register(&hm, m, "w", true);
    assert_non_null(hm.not_after);
    assert_non_null(hm.reloads_ok);
    assert_non_null(hm.reloads_failed);
    assert_ptr_not_equal(hm.reloads_ok, hm.reloads_failed);
    metrics_set(hm.not_after, 1767323045);
    metrics_add(hm.reloads_failed, 1);
    text = metrics_render(m);
    assert_non_null(strstr(text, "w_tls_certificate_not_after_seconds 1767323045"));
    assert_non_null(strstr(text, "w_tls_reloads_total{result=\"failure\"} 1"));
    assert_non_null(strstr(text, "w_tls_reloads_total{result=\"success\"} 0"));
    free(text);
    metrics_destroy(m);
}

static void
test_httpmetrics_requests_one_series_per_code(void **unused)
{
    struct metrics *m = metrics_create();
    struct httpmetrics hm = { 0 };
    struct metrics_series *ok, *missing;
    char *text;

    (void) unused;
    httpmetrics_register(&hm, m, "t", false);
    ok = httpmetrics_requests(&hm, 200);
    assert_non_null(ok);
    assert_ptr_equal(httpmetrics_requests(&hm, 200), ok);      /* kept */
    missing = httpmetrics_requests(&hm, 404);
    assert_non_null(missing);
    assert_ptr_not_equal(missing, ok);
    assert_ptr_equal(httpmetrics_requests(&hm, 404), missing);
    metrics_add(ok, 1);
    metrics_add(httpmetrics_requests(&hm, 200), 1);
    metrics_add(missing, 1);
    text = metrics_render(m);
    assert_non_null(strstr(text, "t_http_requests_total{code=\"200\"} 2"));
    assert_non_null(strstr(text, "t_http_requests_total{code=\"404\"} 1"));
    free(text);
    metrics_destroy(m);
}

static void
test_httpmetrics_without_registry_everything_is_null(void **unused)
{
    struct httpmetrics hm = { 0 };

    (void) unused;
    httpmetrics_register(&hm, NULL, "t", true);
    assert_null(hm.requests);
    assert_null(hm.not_after);
    assert_null(httpmetrics_requests(&hm, 200));
    assert_null(httpmetrics_requests(&hm, 500));
    metrics_add(httpmetrics_requests(&hm, 200), 1);     /* accepted, does nothing */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpmetrics_register_plain_has_no_tls_families),
        cmocka_unit_test(test_httpmetrics_register_tls_adds_expiry_and_reloads),
        cmocka_unit_test(test_httpmetrics_requests_one_series_per_code),
        cmocka_unit_test(test_httpmetrics_without_registry_everything_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
