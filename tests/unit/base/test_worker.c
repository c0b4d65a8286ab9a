/* Unit tests for worker: start once, stop (idempotent, interrupting, joining),
 * wake, and the two waits, with real threads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "exportflows/base/worker.h"
#include "../../lib/testutil.h"

#define POLL_MS 10000           /* generous: the machine is shared */

/* The owner of a worker, as lease or nodestatus are. */
struct owner {
    struct worker w;
    /* Guarded by w.lock. */
    unsigned asked, served;     /* requests made by the test, handled by the thread */
    bool waiting;               /* the thread is about to wait */
    /* Written by the thread, read after the join or polled. */
    atomic_int result;          /* of the last wait */
    atomic_ullong elapsed_ms;
    atomic_bool done;
    atomic_int interrupts;
};

static void
owner_init(struct owner *o)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(worker_init(&o->w), 0);
}

/* Gets its own argument, the counter, not the owner. */
static void
interrupt(void *arg)
{
    atomic_fetch_add((atomic_int *) arg, 1);
}

/* Serves each request as it comes, waiting without a deadline in between. */
static void
serve(void *arg)
{
    struct owner *o = arg;

    pthread_mutex_lock(&o->w.lock);
    while (!worker_stopping(&o->w)) {
        if (o->served < o->asked) {
            o->served = o->asked;
        } else {
            o->waiting = true;
            worker_wait_until(&o->w, UINT64_MAX);
        }
    }
    pthread_mutex_unlock(&o->w.lock);
    atomic_store(&o->done, true);
}

/* Waits 150 ms on the deadline, then once more after being told to stop. */
static void
wait_deadline(void *arg)
{
    struct owner *o = arg;
    uint64_t start = clock_monotonic_ms(), at = start + 150;
    int r;

    pthread_mutex_lock(&o->w.lock);
    do {
        r = worker_wait_until(&o->w, at);
    } while (r == 0);
    atomic_store(&o->result, r);
    atomic_store(&o->elapsed_ms, clock_monotonic_ms() - start);
    atomic_store(&o->done, true);
    while (!worker_stopping(&o->w)) {
        worker_wait_until(&o->w, UINT64_MAX);
    }
    /* Stopping: a wait, even a long one, returns at once. */
    atomic_store(&o->result, worker_wait_until(&o->w, clock_monotonic_ms() + 60000));
    pthread_mutex_unlock(&o->w.lock);
}

/* Sleeps a long time, as a backoff does. */
static void
sleep_long(void *arg)
{
    struct owner *o = arg;

    pthread_mutex_lock(&o->w.lock);
    o->waiting = true;
    pthread_mutex_unlock(&o->w.lock);
    worker_sleep(&o->w, 60000);
    atomic_store(&o->done, true);
}

/* Sleeps 200 ms, which wakes must not cut short. */
static void
sleep_short(void *arg)
{
    struct owner *o = arg;
    uint64_t start = clock_monotonic_ms();

    worker_sleep(&o->w, 200);
    atomic_store(&o->elapsed_ms, clock_monotonic_ms() - start);
    atomic_store(&o->done, true);
}

static bool
is_waiting(struct owner *o)
{
    bool waiting;

    pthread_mutex_lock(&o->w.lock);
    waiting = o->waiting;
    pthread_mutex_unlock(&o->w.lock);
    return waiting;
}

static void
poll_until_waiting(struct owner *o)
{
    struct testutil_deadline d = testutil_deadline_ms(POLL_MS);

    while (!is_waiting(o)) {
        assert_false(testutil_deadline_passed(&d));
        testutil_nap(2);
    }
}

static void
test_worker_start_stop_idempotent(void **unused)
{
    struct owner o;

    (void) unused;
    owner_init(&o);
    assert_false(worker_stop(&o.w));            /* never started: nothing to do */
    assert_false(worker_stopping(&o.w));
    assert_int_equal(worker_start(&o.w, serve, &o, interrupt, &o.interrupts, NULL), 0);
    assert_true(worker_stop(&o.w));
    assert_true(worker_stopping(&o.w));
    assert_true(atomic_load(&o.done));          /* joined: the body has returned */
    assert_int_equal(atomic_load(&o.interrupts), 1);
    assert_false(worker_stop(&o.w));            /* once only */
    assert_int_equal(atomic_load(&o.interrupts), 1);
    worker_release(&o.w);
}

static void
test_worker_double_start_refused(void **unused)
{
    struct errmsg err = { "" };
    struct owner o;

    (void) unused;
    owner_init(&o);
    assert_int_equal(worker_start(&o.w, serve, &o, NULL, NULL, &err), 0);
    assert_int_equal(worker_start(&o.w, serve, &o, NULL, NULL, &err), -EALREADY);
    assert_string_equal(err.text, "already started");
    assert_true(worker_stop(&o.w));
    /* A worker runs at most once. */
    assert_int_equal(worker_start(&o.w, serve, &o, NULL, NULL, NULL), -EALREADY);
    assert_false(worker_stop(&o.w));
    worker_release(&o.w);
}

/* A thread waiting without a deadline sees each request: only a wake can
 * make it look. */
static void
test_worker_wake_reaches_waiting_thread(void **unused)
{
    struct owner o;

    (void) unused;
    owner_init(&o);
    assert_int_equal(worker_start(&o.w, serve, &o, NULL, NULL, NULL), 0);
    for (unsigned i = 1; i <= 20; i++) {
        struct testutil_deadline d = testutil_deadline_ms(POLL_MS);
        unsigned served;

        pthread_mutex_lock(&o.w.lock);
        o.asked = i;
        if (i % 2) {
            worker_wake_locked(&o.w);
        }
        pthread_mutex_unlock(&o.w.lock);
        if (!(i % 2)) {
            worker_wake(&o.w);
        }
        do {
            assert_false(testutil_deadline_passed(&d));
            testutil_nap(1);
            pthread_mutex_lock(&o.w.lock);
            served = o.served;
            pthread_mutex_unlock(&o.w.lock);
        } while (served != i);
    }
    assert_true(worker_stop(&o.w));
    worker_release(&o.w);
}

static void
test_worker_wait_until_deadline(void **unused)
{
    struct testutil_deadline d = testutil_deadline_ms(POLL_MS);
    struct owner o;

    (void) unused;
    owner_init(&o);
    assert_int_equal(worker_start(&o.w, wait_deadline, &o, NULL, NULL, NULL), 0);
    while (!atomic_load(&o.done)) {
        assert_false(testutil_deadline_passed(&d));
        worker_wake(&o.w);      /* early wakes do not end the wait for good */
        testutil_nap(5);
    }
    assert_int_equal(atomic_load(&o.result), -ETIMEDOUT);
    assert_true(atomic_load(&o.elapsed_ms) >= 150);
    assert_true(worker_stop(&o.w));
    assert_int_equal(atomic_load(&o.result), -ECANCELED);
    worker_release(&o.w);
}

/* Stopping ends a wait without a deadline and a long sleep at once. */
static void
test_worker_stop_while_waiting(void **unused)
{
    worker_fn *bodies[] = { serve, sleep_long };

    (void) unused;
    for (size_t i = 0; i < 2; i++) {
        struct owner o;
        uint64_t start;

        owner_init(&o);
        assert_int_equal(worker_start(&o.w, bodies[i], &o, interrupt, &o.interrupts, NULL), 0);
        poll_until_waiting(&o);
        start = clock_monotonic_ms();
        assert_true(worker_stop(&o.w));
        assert_true(clock_monotonic_ms() - start < 30000);  /* not the 60 s sleep */
        assert_true(atomic_load(&o.done));
        assert_int_equal(atomic_load(&o.interrupts), 1);
        worker_release(&o.w);
    }
}

static void
test_worker_sleep_ignores_wakes(void **unused)
{
    struct testutil_deadline d = testutil_deadline_ms(POLL_MS);
    struct owner o;

    (void) unused;
    owner_init(&o);
    assert_int_equal(worker_start(&o.w, sleep_short, &o, NULL, NULL, NULL), 0);
    while (!atomic_load(&o.done)) {
        assert_false(testutil_deadline_passed(&d));
        worker_wake(&o.w);
        testutil_nap(5);
    }
    assert_true(atomic_load(&o.elapsed_ms) >= 200);
    assert_true(worker_stop(&o.w));
    worker_release(&o.w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_start_stop_idempotent),
        cmocka_unit_test(test_worker_double_start_refused),
        cmocka_unit_test(test_worker_wake_reaches_waiting_thread),
        cmocka_unit_test(test_worker_wait_until_deadline),
        cmocka_unit_test(test_worker_stop_while_waiting),
        cmocka_unit_test(test_worker_sleep_ignores_wakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
