/* test_nodestatus — the per-node status Lease: the Lease's JSON and names, and
 * the writer thread against a loopback one-Lease API server (tests/lib/testkubeobj)
 * that records each request and can fail or stall: writes only on change, coalesces changes inside the rate limit, retries
 * failures, writes a pending state on stop, sends heartbeats, and never makes
 * nodestatus_set() wait for a slow server. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/ovs/nodestatus.h"
#include "../../lib/testhttp.h"
#include "../../lib/testkubeobj.h"
#include "../../lib/testutil.h"

#define HASH7 "sha256:7777777777777777777777777777777777777777777777777777777777777777"

/* ---- names, times, JSON ---- */

static void
test_nodestatus_lease_name_checks_the_node_name(void **unused)
{
    char name[NODESTATUS_NAME_MAX], longest[300];
    struct errmsg err;

    (void) unused;
    assert_int_equal(nodestatus_lease_name("worker-1.example.com", name, &err), 0);
    assert_string_equal(name, "exportflows-node-worker-1.example.com");
    assert_int_equal(nodestatus_lease_name("Worker", name, &err), -EINVAL);
    assert_non_null(strstr(err.text, "not a valid object name"));
    assert_int_equal(nodestatus_lease_name("-a", name, &err), -EINVAL);
    assert_int_equal(nodestatus_lease_name("a-", name, &err), -EINVAL);
    assert_int_equal(nodestatus_lease_name("", name, &err), -EINVAL);
    assert_int_equal(nodestatus_lease_name(NULL, name, &err), -EINVAL);
    assert_int_equal(nodestatus_lease_name("a/b", name, &err), -EINVAL);
    memset(longest, 'a', 236);
    longest[236] = '\0';                        /* 17 + 236 = 253: fits */
    assert_int_equal(nodestatus_lease_name(longest, name, &err), 0);
    longest[236] = 'a';
    longest[237] = '\0';
    assert_int_equal(nodestatus_lease_name(longest, name, &err), -EINVAL);
    assert_non_null(strstr(err.text, "too long"));
}

static const char *
annotation(const json_t *lease, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(lease,
                             "metadata"), "annotations"), key));
}

static void
test_nodestatus_lease_json_carries_the_state(void **unused)
{
    struct timespec now = { .tv_sec = 1767323045, .tv_nsec = 0 };
    struct timespec acquired = { .tv_sec = 1767323000, .tv_nsec = 0 };
    struct nodestatus_identity id = {
        .namespace = "exportflows", .node = "node-a", .pod_name = "applier-x1",
        .pod_uid = "0b7c6a1e-1111-2222-3333-444455556666", .lease_duration_s = 180,
        .acquired = &acquired,
    };
    const json_t *owner, *spec;
    struct nodestatus_state s;
    json_t *lease, *labels;

    (void) unused;
    nodestatus_state_init(&s);
    s.has_applied = s.in_sync = s.has_generation = true;
    snprintf(s.hash, sizeof s.hash, "%s", HASH7);
    s.generation = 7;
    s.last_apply_time = 1767323040;
    lease = nodestatus_lease_json(&id, &s, &now);
    assert_non_null(lease);
    assert_string_equal(json_string_value(json_object_get(lease, "apiVersion")),
                        "coordination.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(lease, "kind")), "Lease");
    assert_string_equal(json_string_value(json_object_get(json_object_get(lease,
                        "metadata"), "name")), "exportflows-node-node-a");
    labels = json_object_get(json_object_get(lease, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "exportflows.io/node")),
                        "node-a");
    assert_string_equal(json_string_value(json_object_get(labels,
                        "app.kubernetes.io/component")), "applier");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_HASH), HASH7);
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_GENERATION), "7");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_ERROR), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_APPLY_TIME),
                        "2026-01-02T03:04:00Z");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_IN_SYNC), "true");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_STATE), "Applied");
    spec = json_object_get(lease, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")), "node-a");
    assert_string_equal(json_string_value(json_object_get(spec, "renewTime")),
                        "2026-01-02T03:04:05.000000Z");
    assert_string_equal(json_string_value(json_object_get(spec, "acquireTime")),
                        "2026-01-02T03:03:20.000000Z");
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 180);
    owner = json_array_get(json_object_get(json_object_get(lease, "metadata"),
                                           "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(owner, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(owner, "name")), "applier-x1");
    assert_string_equal(json_string_value(json_object_get(owner, "uid")),
                        "0b7c6a1e-1111-2222-3333-444455556666");
    assert_null(json_object_get(owner, "blockOwnerDeletion"));
    json_decref(lease);
}

static void
test_nodestatus_lease_json_before_anything_applied(void **unused)
{
    char node[80];
    struct timespec now = { 0, 0 };
    struct nodestatus_identity id = { .namespace = "exportflows", .node = node };
    struct nodestatus_state s;
    json_t *lease;

    (void) unused;
    nodestatus_state_init(&s);
    memset(node, 'n', 70);                      /* too long for a label value */
    node[70] = '\0';
    lease = nodestatus_lease_json(&id, &s, &now);
    assert_non_null(lease);
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_HASH), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_GENERATION), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_APPLY_TIME), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_IN_SYNC), "false");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_STATE), "Pending");
    assert_null(json_object_get(json_object_get(json_object_get(lease, "metadata"),
                "labels"), NODESTATUS_LABEL_NODE));
    assert_null(json_object_get(json_object_get(lease, "metadata"), "ownerReferences"));
    assert_null(json_object_get(json_object_get(lease, "spec"), "leaseDurationSeconds"));
    assert_null(json_object_get(json_object_get(lease, "spec"), "acquireTime"));
    json_decref(lease);
    id.node = "Bad";
    assert_null(nodestatus_lease_json(&id, &s, &now));
}

static void
test_nodestatus_create_checks_names(void **unused)
{
    struct nodestatus_config nc = { .namespace = "exportflows", .node = "Node_A" };
    struct nodestatus *ns = NULL;
    struct errmsg err;

    (void) unused;
    assert_int_equal(nodestatus_create(NULL, &nc, &ns, &err), -EINVAL);
    nc.node = "node-a";
    nc.namespace = "Bad Namespace";
    assert_int_equal(nodestatus_create(NULL, &nc, &ns, &err), -EINVAL);
    nc.namespace = "exportflows";
    nc.pod_name = "applier-x1";                 /* without its uid */
    assert_int_equal(nodestatus_create(NULL, &nc, &ns, &err), -EINVAL);
    assert_null(ns);
    nodestatus_destroy(NULL);
}

/* ---- the writer against a one-Lease API server ---- */

/* The methods of the requests so far, e.g. "GPU". */
static void
assert_methods(struct testkubeobj *f, const char *want)
{
    char methods[64];

    testkubeobj_methods(f, methods, sizeof methods);
    assert_string_equal(methods, want);
}

struct rig {
    struct testkubeobj fake;
    struct kubeconfig *kube;
    struct nodestatus *ns;
    unsigned errors;            /* reports, from the writer thread */
    unsigned odd_reports;       /* reports not shaped as failed writes */
    pthread_mutex_t lock;
};

static void
count_error(void *ctx, const struct report *report)
{
    struct rig *r = ctx;

    pthread_mutex_lock(&r->lock);
    r->odd_reports += report->level != REPORT_WARN || report->code >= 0;
    r->errors++;
    pthread_mutex_unlock(&r->lock);
}

static void
rig_start(struct rig *r, unsigned min_interval_ms, unsigned heartbeat_ms)
{
    struct nodestatus_config nc = {
        .namespace = "exportflows", .node = "node-a",
        .min_interval_ms = min_interval_ms, .heartbeat_ms = heartbeat_ms,
        .timeout_ms = 5000, .report = count_error, .ctx = r,
    };
    struct errmsg err;

    pthread_mutex_init(&r->lock, NULL);
    assert_int_equal(testkubeobj_start(&r->fake), 0);
    assert_int_equal(testhttp_kubeconfig(&r->fake.http, &r->kube), 0);
    if (nodestatus_create(r->kube, &nc, &r->ns, &err) < 0
        || nodestatus_start(r->ns, &err) < 0) {
        fail_msg("%s", err.text);
    }
}

static void
rig_stop(struct rig *r)
{
    nodestatus_destroy(r->ns);
    kubeconfig_destroy(r->kube);
    testkubeobj_stop(&r->fake);
    pthread_mutex_destroy(&r->lock);
}

static struct nodestatus_state
state_with_error(const char *text)
{
    struct nodestatus_state s;

    nodestatus_state_init(&s);
    snprintf(s.last_error, sizeof s.last_error, "%s", text);
    return s;
}

/* Polls until the writer made 'n' successful writes; false after 'ms'. */
static bool
wait_writes(struct rig *r, unsigned long n, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);
    struct nodestatus_stats stats;

    for (;;) {
        nodestatus_get_stats(r->ns, &stats);
        if (stats.writes >= n) {
            return true;
        } else if (testutil_deadline_passed(&d)) {
            return false;
        }
        testutil_nap(10);
    }
}

static void
test_nodestatus_writes_on_change_and_coalesces(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");
    struct nodestatus_state c = state_with_error("error-c");
    struct nodestatus_stats stats;

    (void) unused;
    rig_start(&r, 300, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 1, 5000));
    assert_methods(&r.fake, "GP");              /* absent: created */
    assert_true(testkubeobj_has(&r.fake, "error-a"));
    assert_string_equal(r.fake.line, "POST /apis/coordination.k8s.io/v1/namespaces/"
                        "exportflows/leases HTTP/1.1");
    /* Three changes inside the rate limit: one write, of the latest, with the
     * resourceVersion kept from the last write: a single PUT. */
    nodestatus_set(r.ns, &b);
    nodestatus_set(r.ns, &a);
    nodestatus_set(r.ns, &c);
    assert_true(wait_writes(&r, 2, 5000));
    assert_methods(&r.fake, "GPU");
    assert_true(testkubeobj_has(&r.fake, "error-c"));
    assert_string_equal(r.fake.line, "PUT /apis/coordination.k8s.io/v1/namespaces/"
                        "exportflows/leases/exportflows-node-node-a HTTP/1.1");
    /* The same state again: nothing to write. */
    nodestatus_set(r.ns, &c);
    testutil_nap(700);          /* a window in which no request may come */
    assert_int_equal(testkubeobj_requests(&r.fake), 3);
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.writes, 2);
    assert_int_equal(stats.errors, 0);
    assert_int_equal(stats.requests, 3);
    rig_stop(&r);
}

static void
test_nodestatus_rereads_after_a_conflict_or_deletion(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");
    struct nodestatus_state c = state_with_error("error-c");

    (void) unused;
    rig_start(&r, 100, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 1, 5000));
    testkubeobj_touch(&r.fake);     /* someone else updated the Lease */
    nodestatus_set(r.ns, &b);
    assert_true(wait_writes(&r, 2, 5000));
    assert_methods(&r.fake, "GPUGU");           /* 409, read again, write */
    assert_true(testkubeobj_has(&r.fake, "error-b"));
    testkubeobj_delete(&r.fake);    /* e.g. by the garbage collector */
    nodestatus_set(r.ns, &c);
    assert_true(wait_writes(&r, 3, 5000));
    assert_methods(&r.fake, "GPUGUUGP");        /* 404, read: absent, create */
    assert_true(testkubeobj_has(&r.fake, "error-c"));
    rig_stop(&r);
}

static void
test_nodestatus_retries_after_a_failure(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_stats stats;

    (void) unused;
    r.fake.fail_first = 1;
    rig_start(&r, 100, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 1, 5000));     /* 500, then after the backoff */
    assert_methods(&r.fake, "GGP");
    assert_true(testkubeobj_has(&r.fake, "error-a"));
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.errors, 1);
    pthread_mutex_lock(&r.lock);
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.odd_reports, 0);
    pthread_mutex_unlock(&r.lock);
    rig_stop(&r);
}

/* A failure that is not a conflict keeps the resourceVersion: the retry is one
 * PUT, not a GET and a PUT. */
static void
test_nodestatus_keeps_the_version_after_a_failure(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");
    struct nodestatus_stats stats;

    (void) unused;
    rig_start(&r, 100, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 1, 5000));
    testkubeobj_fail_next(&r.fake, 1);
    nodestatus_set(r.ns, &b);
    assert_true(wait_writes(&r, 2, 5000));     /* 500, then after the backoff */
    assert_methods(&r.fake, "GPUU");
    assert_true(testkubeobj_has(&r.fake, "error-b"));
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.errors, 1);
    assert_int_equal(stats.requests, 4);
    rig_stop(&r);
}

static void
test_nodestatus_stop_writes_the_pending_state(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");
    struct nodestatus_stats stats;

    (void) unused;
    rig_start(&r, 60000, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 1, 5000));
    nodestatus_set(r.ns, &b);   /* held back by the one-minute rate limit */
    nodestatus_stop(r.ns);
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.writes, 2);
    assert_true(testkubeobj_has(&r.fake, "error-b"));
    rig_stop(&r);
}

static void
test_nodestatus_heartbeat_rewrites_unchanged_state(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");

    (void) unused;
    rig_start(&r, 100, 200);
    nodestatus_set(r.ns, &a);
    assert_true(wait_writes(&r, 3, 5000));
    assert_true(testkubeobj_has(&r.fake, "error-a"));
    assert_true(testkubeobj_has(&r.fake, "\"leaseDurationSeconds\":3"));
    rig_stop(&r);
}

static void
test_nodestatus_set_never_waits_for_a_slow_server(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");
    unsigned long long start;

    (void) unused;
    r.fake.delay_ms = 1000;
    rig_start(&r, 100, 0);
    nodestatus_set(r.ns, &a);
    testutil_nap(200);          /* let the writer get into its slow request */
    start = clock_monotonic_us();
    for (int i = 0; i < 50; i++) {
        nodestatus_set(r.ns, i % 2 ? &b : &a);
    }
    assert_true(clock_monotonic_us() - start < 100000);
    assert_true(wait_writes(&r, 2, 15000));
    assert_true(testkubeobj_has(&r.fake, "error-b"));
    rig_stop(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodestatus_lease_name_checks_the_node_name),
        cmocka_unit_test(test_nodestatus_lease_json_carries_the_state),
        cmocka_unit_test(test_nodestatus_lease_json_before_anything_applied),
        cmocka_unit_test(test_nodestatus_create_checks_names),
        cmocka_unit_test(test_nodestatus_writes_on_change_and_coalesces),
        cmocka_unit_test(test_nodestatus_rereads_after_a_conflict_or_deletion),
        cmocka_unit_test(test_nodestatus_retries_after_a_failure),
        cmocka_unit_test(test_nodestatus_keeps_the_version_after_a_failure),
        cmocka_unit_test(test_nodestatus_stop_writes_the_pending_state),
        cmocka_unit_test(test_nodestatus_heartbeat_rewrites_unchanged_state),
        cmocka_unit_test(test_nodestatus_set_never_waits_for_a_slow_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
