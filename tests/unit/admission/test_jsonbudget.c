/* Tests of the jsonbudget module: jansson's allocations counted per thread and
 * in all, refused past either cap, and uncounted outside begin/end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>

#include "exportflows/admission/jsonbudget.h"

static int
setup(void **state)
{
    jsonbudget_install(0);
    return 0;
}

static int
teardown(void **state)
{
    json_set_alloc_funcs(malloc, free);
    return 0;
}

/* An array of 'n' strings: n + 1 values, n + 2 blocks and more. */
static json_t *
strings(size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; array && i < n; i++) {
        if (json_array_append_new(array, json_string("some text"))) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static void
test_jsonbudget_counts_and_refuses_past_limit(void **state)
{
    struct jsonbudget_usage usage;
    json_t *small, *big;

    assert_true(jsonbudget_installed());
    jsonbudget_begin(64 * 1024);
    small = strings(10);
    assert_non_null(small);
    json_decref(small);
    assert_int_equal(jsonbudget_refused(), JSONBUDGET_OK);
    big = strings(100000);
    assert_null(big);
    assert_int_equal(jsonbudget_refused(), JSONBUDGET_OVER_LIMIT);
    /* Once refused, every allocation is, until the end. */
    assert_null(json_string("x"));
    jsonbudget_end(&usage);
    assert_int_equal(usage.refusal, JSONBUDGET_OVER_LIMIT);
    assert_true(usage.peak > 60 * 1024 && usage.peak <= 64 * 1024);
    /* Outside begin/end nothing counts. */
    big = strings(100000);
    assert_non_null(big);
    json_decref(big);
    assert_int_equal(jsonbudget_refused(), JSONBUDGET_OK);
}

static void
test_jsonbudget_peak_follows_memory(void **state)
{
    struct jsonbudget_usage usage;
    json_t *a;

    jsonbudget_begin(0);
    a = strings(1000);
    json_decref(a);
    a = strings(10);
    json_decref(a);
    jsonbudget_end(&usage);
    assert_int_equal(usage.refusal, JSONBUDGET_OK);
    /* 1000 strings of at least two blocks of 24 usable bytes each. */
    assert_true(usage.peak >= 1000 * 2 * 32);
    assert_true(usage.peak < 1000 * 200);
}

/* A block made before counting and freed during it gives nothing back. */
static void
test_jsonbudget_old_blocks_do_not_underflow(void **state)
{
    struct jsonbudget_usage usage;
    json_t *old = strings(1000), *fresh;

    jsonbudget_begin(16 * 1024);
    json_decref(old);
    fresh = strings(1000);
    assert_null(fresh);
    jsonbudget_end(&usage);
    assert_int_equal(usage.refusal, JSONBUDGET_OVER_LIMIT);
}

struct holder {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stage;
};

/* Holds 48 KiB of the total until told to let go. */
static void *
hold_total(void *aux)
{
    struct holder *h = aux;
    json_t *held;

    jsonbudget_begin(0);
    held = strings(600);
    pthread_mutex_lock(&h->lock);
    h->stage = held ? 1 : -1;
    pthread_cond_broadcast(&h->cond);
    while (h->stage != 2) {
        pthread_cond_wait(&h->cond, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    json_decref(held);
    jsonbudget_end(NULL);
    return NULL;
}

static void
test_jsonbudget_total_shared_by_threads(void **state)
{
    struct holder h = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct jsonbudget_usage usage;
    pthread_t thread;
    json_t *mine;

    jsonbudget_install(96 * 1024);
    assert_int_equal(pthread_create(&thread, NULL, hold_total, &h), 0);
    pthread_mutex_lock(&h.lock);
    while (h.stage == 0) {
        pthread_cond_wait(&h.cond, &h.lock);
    }
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(h.stage, 1);
    /* The other thread holds about half the total: 1000 more strings do not fit. */
    jsonbudget_begin(0);
    mine = strings(1000);
    assert_null(mine);
    jsonbudget_end(&usage);
    assert_int_equal(usage.refusal, JSONBUDGET_OVER_TOTAL);
    pthread_mutex_lock(&h.lock);
    h.stage = 2;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    pthread_join(thread, NULL);
    /* Given back: they fit now. */
    jsonbudget_begin(0);
    mine = strings(1000);
    assert_non_null(mine);
    json_decref(mine);
    jsonbudget_end(&usage);
    assert_int_equal(usage.refusal, JSONBUDGET_OK);
    jsonbudget_install(0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jsonbudget_counts_and_refuses_past_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jsonbudget_peak_follows_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonbudget_old_blocks_do_not_underflow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jsonbudget_total_shared_by_threads, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
