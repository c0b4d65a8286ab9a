/* Unit tests for monowait: timed waits end at their monotonic deadline, a
 * signal or a stop flag ends them early, and UINT64_MAX waits for a signal. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "exportflows/base/monowait.h"
#include "../../lib/testutil.h"

struct pair {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stop;
    bool flag;                  /* under 'lock' */
};

static int
setup(void **state)
{
    static struct pair p;

    assert_int_equal(monowait_init(&p.lock, &p.cond), 0);
    atomic_store(&p.stop, false);
    p.flag = false;
    *state = &p;
    return 0;
}

static int
teardown(void **state)
{
    struct pair *p = *state;

    monowait_release(&p->lock, &p->cond);
    return 0;
}

static void
test_monowait_until_times_out_at_the_deadline(void **state)
{
    struct pair *p = *state;
    uint64_t start = clock_monotonic_ms();
    int r;

    pthread_mutex_lock(&p->lock);
    do {
        r = monowait_until(&p->lock, &p->cond, start + 80);
    } while (r == 0);
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(clock_monotonic_ms() >= start + 80);
    /* A deadline already past returns at once. */
    pthread_mutex_lock(&p->lock);
    assert_int_equal(monowait_until(&p->lock, &p->cond, start), -ETIMEDOUT);
    pthread_mutex_unlock(&p->lock);
}

/* Sets the flag (or the stop flag) and signals, from another thread. */
static void *
waker(void *aux)
{
    struct pair *p = aux;

    testutil_nap(50);
    pthread_mutex_lock(&p->lock);
    p->flag = true;
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void
test_monowait_until_wakes_on_a_signal(void **state)
{
    struct pair *p = *state;
    uint64_t start = clock_monotonic_ms();
    pthread_t t;
    int r = 0;

    assert_int_equal(pthread_create(&t, NULL, waker, p), 0);
    pthread_mutex_lock(&p->lock);
    while (!p->flag && r == 0) {
        r = monowait_until(&p->lock, &p->cond, UINT64_MAX);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_join(t, NULL);
    assert_int_equal(r, 0);
    assert_true(p->flag);
    assert_true(clock_monotonic_ms() - start < 20000);
}

static void
test_monowait_sleep_sleeps_the_time_asked(void **state)
{
    struct pair *p = *state;
    uint64_t start = clock_monotonic_ms();

    monowait_sleep(&p->lock, &p->cond, &p->stop, 60);
    assert_true(clock_monotonic_ms() - start >= 60);
}

static void
test_monowait_sleep_ends_when_stopped(void **state)
{
    struct pair *p = *state;
    uint64_t start = clock_monotonic_ms();
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, waker, p), 0);
    monowait_sleep(&p->lock, &p->cond, &p->stop, 60000);
    pthread_join(t, NULL);
    assert_true(atomic_load(&p->stop));
    assert_true(clock_monotonic_ms() - start < 30000);
    /* Already stopped: no sleep at all. */
    start = clock_monotonic_ms();
    monowait_sleep(&p->lock, &p->cond, &p->stop, 60000);
    assert_true(clock_monotonic_ms() - start < 30000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_monowait_until_times_out_at_the_deadline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_monowait_until_wakes_on_a_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_monowait_sleep_sleeps_the_time_asked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_monowait_sleep_ends_when_stopped, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
