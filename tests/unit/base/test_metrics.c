/* Tests of the metrics registry: exact text exposition for every type, and
 * updates from several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/metrics.h"

static void
test_metrics_render_counter_and_gauge(void **state)
{
    struct metrics *m = metrics_create();
    struct metrics_family *req, *gauge;
    char *text;

    assert_non_null(m);
    req = metrics_family(m, METRICS_COUNTER, "t_requests_total", "Requests by code.",
                         NULL, 0);
    gauge = metrics_family(m, METRICS_GAUGE, "t_in_flight", "In flight.", NULL, 0);
    metrics_add(metrics_series(req, "code=\"200\""), 3);
    metrics_add(metrics_series(req, "code=\"500\""), 1);
    metrics_add(metrics_series(req, "code=\"200\""), 2);
    metrics_set(metrics_series(gauge, ""), 2.5);
    metrics_add(metrics_series(gauge, ""), -1);

    text = metrics_render(m);
    assert_string_equal(text,
                        "# HELP t_requests_total Requests by code.\n"
                        "# TYPE t_requests_total counter\n"
                        "t_requests_total{code=\"200\"} 5\n"
                        "t_requests_total{code=\"500\"} 1\n"
                        "# HELP t_in_flight In flight.\n"
                        "# TYPE t_in_flight gauge\n"
                        "t_in_flight 1.5\n");
    free(text);
    metrics_destroy(m);
}

static void
test_metrics_render_histogram(void **state)
{
    static const double buckets[] = { 0.1, 1 };
    struct metrics *m = metrics_create();
    struct metrics_family *f;
    struct metrics_series *plain, *labelled;
    char *text;

    f = metrics_family(m, METRICS_HISTOGRAM, "t_duration_seconds", "Latency.",
                       buckets, 2);
    plain = metrics_series(f, "");
    labelled = metrics_series(f, "route=\"/validate\"");
    metrics_observe(plain, 0.0625);
    metrics_observe(plain, 0.5);
    metrics_observe(plain, 4);
    metrics_observe(labelled, 0.1);     /* a bound is inclusive */

    text = metrics_render(m);
    assert_string_equal(text,
                        "# HELP t_duration_seconds Latency.\n"
                        "# TYPE t_duration_seconds histogram\n"
                        "t_duration_seconds_bucket{le=\"0.1\"} 1\n"
                        "t_duration_seconds_bucket{le=\"1\"} 2\n"
                        "t_duration_seconds_bucket{le=\"+Inf\"} 3\n"
                        "t_duration_seconds_sum 4.5625\n"
                        "t_duration_seconds_count 3\n"
                        "t_duration_seconds_bucket{route=\"/validate\",le=\"0.1\"} 1\n"
                        "t_duration_seconds_bucket{route=\"/validate\",le=\"1\"} 1\n"
                        "t_duration_seconds_bucket{route=\"/validate\",le=\"+Inf\"} 1\n"
                        "t_duration_seconds_sum{route=\"/validate\"} 0.1\n"
                        "t_duration_seconds_count{route=\"/validate\"} 1\n");
    free(text);
    metrics_destroy(m);
}

static void
test_metrics_help_is_escaped(void **state)
{
    struct metrics *m = metrics_create();
    struct metrics_family *f;
    char *text;

    f = metrics_family(m, METRICS_GAUGE, "t_g", "Back\\slash and\nnewline.", NULL, 0);
    metrics_set(metrics_series(f, "reason=\"a \\\"quoted\\\" value\""), 1e-3);
    text = metrics_render(m);
    assert_string_equal(text,
                        "# HELP t_g Back\\\\slash and\\nnewline.\n"
                        "# TYPE t_g gauge\n"
                        "t_g{reason=\"a \\\"quoted\\\" value\"} 0.001\n");
    free(text);
    metrics_destroy(m);
}

static void
test_metrics_family_rules(void **state)
{
    static const double descending[] = { 1, 0.5 };
    struct metrics *m = metrics_create();
    struct metrics_family *f;

    f = metrics_family(m, METRICS_COUNTER, "t_total", "x", NULL, 0);
    assert_non_null(f);
    /* Registering again finds the same family; another type is refused. */
    assert_ptr_equal(metrics_family(m, METRICS_COUNTER, "t_total", "y", NULL, 0), f);
    assert_null(metrics_family(m, METRICS_GAUGE, "t_total", "x", NULL, 0));
    assert_null(metrics_family(m, METRICS_GAUGE, "0bad", "x", NULL, 0));
    assert_null(metrics_family(m, METRICS_GAUGE, "bad-name", "x", NULL, 0));
    assert_null(metrics_family(m, METRICS_HISTOGRAM, "t_h", "x", descending, 2));
    /* Same labels, same series; a raw line break could forge a sample. */
    assert_ptr_equal(metrics_series(f, "a=\"1\""), metrics_series(f, "a=\"1\""));
    assert_null(metrics_series(f, "a=\"1\"} 99\nforged{b=\"2\""));
    assert_null(metrics_series(NULL, ""));
    /* NULL series are accepted and ignored. */
    metrics_add(NULL, 1);
    metrics_set(NULL, 1);
    metrics_observe(NULL, 1);
    metrics_destroy(m);
    metrics_destroy(NULL);
}

static void
test_metrics_empty_registry_renders_empty(void **state)
{
    struct metrics *m = metrics_create();
    char *text = metrics_render(m);

    assert_string_equal(text, "");
    free(text);
    metrics_destroy(m);
}

#define THREADS 4
#define ROUNDS 20000

struct worker {
    struct metrics_family *counter;
    struct metrics_family *histogram;
};

static void *
worker_main(void *aux)
{
    struct worker *w = aux;

    for (int i = 0; i < ROUNDS; i++) {
        /* Series are looked up on every round to race their creation too. */
        metrics_add(metrics_series(w->counter, "code=\"200\""), 1);
        metrics_observe(metrics_series(w->histogram, ""), 0.5);
    }
    return NULL;
}

static void
test_metrics_concurrent_updates(void **state)
{
    static const double buckets[] = { 1 };
    struct metrics *m = metrics_create();
    struct worker w = {
        metrics_family(m, METRICS_COUNTER, "t_c_total", "c", NULL, 0),
        metrics_family(m, METRICS_HISTOGRAM, "t_h", "h", buckets, 1),
    };
    pthread_t threads[THREADS];
    char *text;

    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &w), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    text = metrics_render(m);
    assert_non_null(strstr(text, "t_c_total{code=\"200\"} 80000\n"));
    assert_non_null(strstr(text, "t_h_bucket{le=\"1\"} 80000\n"));
    assert_non_null(strstr(text, "t_h_sum 40000\n"));
    assert_non_null(strstr(text, "t_h_count 80000\n"));
    free(text);
    metrics_destroy(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_counter_and_gauge),
        cmocka_unit_test(test_metrics_render_histogram),
        cmocka_unit_test(test_metrics_help_is_escaped),
        cmocka_unit_test(test_metrics_family_rules),
        cmocka_unit_test(test_metrics_empty_registry_renders_empty),
        cmocka_unit_test(test_metrics_concurrent_updates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
