/* Unit tests for lease: the checks of lease_create() and the election thread
 * against a loopback one-Lease API server (tests/lib/testkubeobj): it creates
 * an absent Lease, renews it without reading it first, gives it up on stop,
 * waits out another holder, and stops being leader when renewals fail.  The
 * same against a real kube-apiserver is in tests/integration/test_kube.c. */
#include <errno.h>
#include <jansson.h>
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
#include "exportflows/kube/lease.h"
#include "../../lib/testkubeobj.h"
#include "../../lib/testutil.h"

struct rig {
    struct testkubeobj api;
    struct kubeconfig *kube;
    struct lease *lease;
    atomic_uint gained, lost, reports, odd_reports;
};

static void
on_change(void *ctx, bool leader)
{
    struct rig *r = ctx;

    atomic_fetch_add(leader ? &r->gained : &r->lost, 1);
}

static void
on_report(void *ctx, const struct report *report)
{
    struct rig *r = ctx;

    atomic_fetch_add(&r->reports, 1);
    if (report->level != REPORT_WARN || report->code >= 0 || !*report->message) {
        atomic_fetch_add(&r->odd_reports, 1);
    }
}

static void
rig_start(struct rig *r, unsigned duration_ms)
{
    struct lease_config lc = {
        .namespace = "exportflows", .name = "exportflows-publisher", .identity = "me",
        .duration_ms = duration_ms, .renew_deadline_ms = duration_ms * 2 / 3,
        .retry_period_ms = 100, .on_change = on_change, .report = on_report, .ctx = r,
    };
    struct errmsg err = { "" };

    assert_int_equal(testkubeobj_start(&r->api), 0);
    assert_int_equal(testhttp_kubeconfig(&r->api.http, &r->kube), 0);
    if (lease_create(r->kube, &lc, &r->lease, &err) < 0
        || lease_start(r->lease, &err) < 0) {
        fail_msg("%s", err.text);
    }
}

static void
rig_stop(struct rig *r)
{
    lease_destroy(r->lease);
    kubeconfig_destroy(r->kube);
    testkubeobj_stop(&r->api);
}

static bool
wait_leader(struct rig *r, bool want, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);

    while (lease_is_leader(r->lease) != want) {
        if (testutil_deadline_passed(&d)) {
            return false;
        }
        testutil_nap(10);
    }
    return true;
}

static const char *
holder(json_t *lease)
{
    return json_string_value(json_object_get(json_object_get(lease, "spec"),
                                             "holderIdentity"));
}

static void
test_lease_create_checks_the_config(void **unused)
{
    struct rig r = { 0 };
    struct lease_config lc = { .namespace = "ns", .name = "n", .identity = "" };
    struct lease *lease = NULL;
    struct errmsg err = { "" };
    char name[1100];

    (void) unused;
    assert_int_equal(testkubeobj_start(&r.api), 0);
    assert_int_equal(testhttp_kubeconfig(&r.api.http, &r.kube), 0);
    assert_int_equal(lease_create(r.kube, &lc, &lease, &err), -EINVAL);
    assert_non_null(strstr(err.text, "identity"));
    lc.identity = "me";
    lc.renew_deadline_ms = LEASE_DURATION_MS;          /* not below the duration */
    assert_int_equal(lease_create(r.kube, &lc, &lease, &err), -EINVAL);
    lc.renew_deadline_ms = 0;
    lc.retry_period_ms = 5;
    assert_int_equal(lease_create(r.kube, &lc, &lease, &err), -EINVAL);
    lc.retry_period_ms = 0;
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    lc.name = name;
    assert_int_equal(lease_create(r.kube, &lc, &lease, &err), -ENAMETOOLONG);
    assert_null(lease);
    lc.name = "n";
    assert_int_equal(lease_create(r.kube, &lc, &lease, &err), 0);
    assert_false(lease_is_leader(lease));
    assert_int_equal(lease_stop(lease, &err), 0);      /* never started */
    lease_destroy(lease);
    lease_destroy(NULL);
    assert_int_equal(testkubeobj_requests(&r.api), 0);
    kubeconfig_destroy(r.kube);
    testkubeobj_stop(&r.api);
}

static void
test_lease_acquires_renews_and_gives_up(void **unused)
{
    struct rig r = { 0 };
    struct errmsg err = { "" };
    char methods[64];
    unsigned before;
    json_t *stored;

    (void) unused;
    rig_start(&r, 3000);
    assert_true(wait_leader(&r, true, 10000));
    stored = testkubeobj_get(&r.api);
    assert_string_equal(holder(stored), "me");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stored, "spec"),
                                                        "leaseDurationSeconds")), 3);
    json_decref(stored);
    /* Renewals are PUTs from the last write, no GET. */
    before = testkubeobj_requests(&r.api);
    for (struct testutil_deadline d = testutil_deadline_ms(10000);
         testkubeobj_requests(&r.api) < before + 3; testutil_nap(10)) {
        assert_false(testutil_deadline_passed(&d));
    }
    testkubeobj_methods(&r.api, methods, sizeof methods);
    assert_memory_equal(methods, "GPUUU", 5);
    assert_null(strchr(methods + 2, 'G'));
    assert_int_equal(lease_stop(r.lease, &err), 0);
    assert_false(lease_is_leader(r.lease));
    stored = testkubeobj_get(&r.api);
    assert_string_equal(holder(stored), "");    /* given up for the next candidate */
    json_decref(stored);
    assert_int_equal(atomic_load(&r.gained), 1);
    assert_int_equal(atomic_load(&r.lost), 1);
    assert_int_equal(atomic_load(&r.reports), 0);
    rig_stop(&r);
}

static void
test_lease_waits_until_another_holder_expires(void **unused)
{
    struct rig r = { 0 };
    uint64_t start = clock_monotonic_ms();
    json_t *stored;

    (void) unused;
    testkubeobj_set(&r.api, "{\"metadata\":{\"name\":\"exportflows-publisher\"},"
                    "\"spec\":{\"holderIdentity\":\"other\",\"leaseDurationSeconds\":1,"
                    "\"renewTime\":\"2026-01-02T03:04:05.000000Z\",\"leaseTransitions\":4}}");
    rig_start(&r, 1500);
    assert_true(wait_leader(&r, true, 15000));
    /* Our own clock counts the duration from when we first saw the record. */
    assert_true(clock_monotonic_ms() - start >= 1500);
    stored = testkubeobj_get(&r.api);
    assert_string_equal(holder(stored), "me");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stored, "spec"),
                                                        "leaseTransitions")), 5);
    json_decref(stored);
    assert_int_equal(atomic_load(&r.reports), 0);       /* "held" is not a failure */
    rig_stop(&r);
}

static void
test_lease_leadership_ends_when_renewals_fail(void **unused)
{
    struct rig r = { 0 };
    uint64_t failing_since;

    (void) unused;
    rig_start(&r, 1500);
    assert_true(wait_leader(&r, true, 10000));
    testkubeobj_fail_next(&r.api, 1000000);
    failing_since = clock_monotonic_ms();
    assert_true(wait_leader(&r, false, 10000));
    /* Given up no later than the renew deadline, well before the duration. */
    assert_true(clock_monotonic_ms() - failing_since < 1500 + 500);
    assert_true(testutil_wait_count(&r.lost, 1, 10000));     /* told by the thread, later */
    assert_true(atomic_load(&r.reports) >= 1);
    assert_int_equal(atomic_load(&r.odd_reports), 0);
    /* The server is back: the Lease still names us, so we take it again. */
    testkubeobj_fail_next(&r.api, 0);
    assert_true(wait_leader(&r, true, 10000));
    assert_int_equal(atomic_load(&r.gained), 2);
    rig_stop(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_create_checks_the_config),
        cmocka_unit_test(test_lease_acquires_renews_and_gives_up),
        cmocka_unit_test(test_lease_waits_until_another_holder_expires),
        cmocka_unit_test(test_lease_leadership_ends_when_renewals_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
