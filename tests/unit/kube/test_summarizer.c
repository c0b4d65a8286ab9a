/* Unit tests for summarizer against two loopback API servers: one holds the
 * publisher's election Lease (tests/lib/testkubeobj), the other lists and
 * watches two node status Leases, keeps the status ConfigMap (testkubeobj
 * again) and takes Events.  The leader creates the ConfigMap with the summary
 * and tells with an Event, writes again only when the summary changes; a
 * replica without the Lease only counts.  A real cluster of 250 nodes is
 * tests/system/k8s-summary.sh. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/ovs/nodestatus.h"
#include "exportflows/kube/nodesummary.h"
#include "exportflows/kube/summarizer.h"
#include "../../lib/testkubeobj.h"
#include "../../lib/testutil.h"

#define HASH_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fake {
    struct testhttp http;
    struct testkubeobj cm;      /* the status ConfigMap */
    pthread_mutex_t lock;
    char leases[8192];          /* the LeaseList */
    unsigned events;
    char reasons[256];          /* "NodesFailing,..." */
};

struct rig {
    struct fake api;
    struct testkubeobj election;
    struct kubeconfig *kube, *election_kube;
    struct lease *lease;
    struct metrics *metrics;
    struct summarizer *s;
};

static void
serve(void *ctx, int fd, const char *request)
{
    struct fake *f = ctx;
    char line[512];

    testhttp_request_line(request, line, sizeof line);
    /* The status Leases only in the appliers' namespace: a list or watch
     * anywhere else gets 404 (the status ConfigMap and Events stay in
     * exportflows). */
    if (strstr(line, "/namespaces/exportflows-nodes/leases") && strstr(line, "watch=1")) {
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Connection: close\r\n\r\n";

        /* No event, and a short watch: the server serves one connection at a
         * time, and the ConfigMap requests queue behind it. */
        if (write(fd, head, strlen(head)) > 0) {
            testhttp_wait_readable(&f->http, f->http.quit[0], 100);
        }
    } else if (strstr(line, "/namespaces/exportflows-nodes/leases")) {
        pthread_mutex_lock(&f->lock);
        testhttp_reply(fd, 200, "OK", f->leases);
        pthread_mutex_unlock(&f->lock);
    } else if (strstr(line, "/events")) {
        json_t *ev = json_loads(strstr(request, "\r\n\r\n") + 4, 0, NULL);
        const char *reason = json_string_value(json_object_get(ev, "reason"));

        pthread_mutex_lock(&f->lock);
        f->events++;
        snprintf(f->reasons + strlen(f->reasons), sizeof f->reasons - strlen(f->reasons),
                 "%s,", reason ? reason : "?");
        pthread_mutex_unlock(&f->lock);
        testhttp_reply(fd, 201, "Created", "{}");
        json_decref(ev);
    } else if (strstr(line, "/configmaps/exportflows-status ")
               || strstr(line, "POST /api/v1/namespaces/exportflows/configmaps ")) {
        testkubeobj_answer(&f->cm, fd, request);
    } else {
        testhttp_reply_status(fd, 404, "NotFound");
    }
}

/* Node "node-a" applied HASH_A and is in sync, "node-b" fails. */
static void
set_leases(struct fake *f)
{
    struct timespec now;
    struct nodestatus_identity a = { .namespace = "exportflows-nodes", .node = "node-a" };
    struct nodestatus_identity b = { .namespace = "exportflows-nodes", .node = "node-b" };
    struct nodestatus_state sa, sb;
    json_t *list;
    char *text;

    clock_gettime(CLOCK_REALTIME, &now);
    nodestatus_state_init(&sa);
    sa.has_applied = sa.in_sync = true;
    snprintf(sa.hash, sizeof sa.hash, "%s", HASH_A);
    sa.last_apply_time = now.tv_sec - 60;
    nodestatus_state_init(&sb);
    snprintf(sb.last_error, sizeof sb.last_error, "ovsdb unreachable");
    list = json_pack("{s:s, s:{s:s}, s:[o, o]}", "kind", "LeaseList", "metadata",
                     "resourceVersion", "5", "items", nodestatus_lease_json(&a, &sa, &now),
                     nodestatus_lease_json(&b, &sb, &now));
    text = json_dumps(list, JSON_COMPACT);
    snprintf(f->leases, sizeof f->leases, "%s", text);
    free(text);
    json_decref(list);
}

static void
rig_start(struct rig *r, bool leader)
{
    struct lease_config lc = {
        .namespace = "exportflows", .name = "exportflows-publisher", .identity = "me",
        .duration_ms = 3000, .renew_deadline_ms = 2000, .retry_period_ms = 100,
    };
    struct summarizer_config sc = {
        .namespace = "exportflows", .leases_namespace = "exportflows-nodes",
        .configmap = SUMMARIZER_STATUS_CONFIGMAP, .component = "exportflows-publisher", .identity = "me",
        .min_interval_ms = 100, .settle_ms = 50, .refold_ms = 200,
        .watch_backoff_min_ms = 10, .watch_backoff_max_ms = 20,
    };
    struct testutil_deadline d = testutil_deadline_ms(10000);
    struct errmsg err = { "" };

    pthread_mutex_init(&r->api.lock, NULL);
    testkubeobj_init(&r->api.cm);
    set_leases(&r->api);
    assert_int_equal(testhttp_start(&r->api.http, serve, &r->api), 0);
    assert_int_equal(testhttp_kubeconfig(&r->api.http, &r->kube), 0);
    if (leader) {
        assert_int_equal(testkubeobj_start(&r->election), 0);
        assert_int_equal(testhttp_kubeconfig(&r->election.http, &r->election_kube), 0);
        assert_int_equal(lease_create(r->election_kube, &lc, &r->lease, &err), 0);
        assert_int_equal(lease_start(r->lease, &err), 0);
        while (!lease_is_leader(r->lease)) {
            assert_false(testutil_deadline_passed(&d));
            testutil_nap(10);
        }
    }
    r->metrics = metrics_create();
    sc.kubeconfig = r->kube;
    sc.lease = r->lease;
    sc.metrics = r->metrics;
    if (summarizer_create(&sc, &r->s, &err) < 0 || summarizer_start(r->s, &err) < 0) {
        fail_msg("%s", err.text);
    }
}

static void
rig_stop(struct rig *r)
{
    summarizer_destroy(r->s);
    lease_destroy(r->lease);
    if (r->election_kube) {
        kubeconfig_destroy(r->election_kube);
        testkubeobj_stop(&r->election);
    }
    kubeconfig_destroy(r->kube);
    testhttp_stop(&r->api.http);
    testkubeobj_release(&r->api.cm);
    pthread_mutex_destroy(&r->api.lock);
    metrics_destroy(r->metrics);
}

/* Polls until the status ConfigMap holds 'text'. */
static bool
wait_cm(struct rig *r, const char *text)
{
    struct testutil_deadline d = testutil_deadline_ms(15000);

    while (!testkubeobj_has(&r->api.cm, text)) {
        if (testutil_deadline_passed(&d)) {
            return false;
        }
        testutil_nap(10);
    }
    return true;
}

static unsigned
events(struct rig *r, char *reasons, size_t size)
{
    unsigned n;

    pthread_mutex_lock(&r->api.lock);
    n = r->api.events;
    snprintf(reasons, size, "%s", r->api.reasons);
    pthread_mutex_unlock(&r->api.lock);
    return n;
}

static void
test_summarizer_create_needs_names(void **unused)
{
    struct summarizer_config sc = { .namespace = "exportflows" };
    struct summarizer *s = NULL;
    struct errmsg err = { "" };

    (void) unused;
    assert_int_equal(summarizer_create(&sc, &s, &err), -EINVAL);
    assert_null(s);
    summarizer_destroy(NULL);
}

static void
test_summarizer_leader_writes_the_summary_once_per_change(void **unused)
{
    struct rig r = { 0 };
    char reasons[256];
    json_t *cm;
    unsigned writes;

    (void) unused;
    rig_start(&r, true);
    summarizer_observe(r.s, HASH_A);
    assert_true(wait_cm(&r, "\"" NODESUMMARY_ANNOTATION_APPLIED "\":\"1/2\""));
    cm = testkubeobj_get(&r.api.cm);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                        cm, "metadata"), "labels"), "app.kubernetes.io/component")), "status");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                        cm, "metadata"), "annotations"), NODESUMMARY_ANNOTATION_FAILING_NODES)),
                        "node-b: ovsdb unreachable");
    json_decref(cm);
    /* The same summary again and again: no write, no Event. */
    writes = testkubeobj_requests(&r.api.cm);
    summarizer_observe(r.s, HASH_A);
    testutil_nap(600);          /* several refolds, in which nothing may be written */
    assert_int_equal(testkubeobj_requests(&r.api.cm), writes);
    assert_int_equal(events(&r, reasons, sizeof reasons), 1);
    assert_string_equal(reasons, NODESUMMARY_REASON_FAILING ",");
    /* A newer config is published: node-a is behind now. */
    summarizer_observe(r.s, HASH_B);
    assert_true(wait_cm(&r, "\"" NODESUMMARY_ANNOTATION_APPLIED "\":\"0/2\""));
    assert_true(testkubeobj_has(&r.api.cm, "\"" NODESUMMARY_ANNOTATION_PENDING "\":\"1\""));
    for (struct testutil_deadline d = testutil_deadline_ms(10000);
         events(&r, reasons, sizeof reasons) < 2; testutil_nap(10)) {
        assert_false(testutil_deadline_passed(&d));
    }
    rig_stop(&r);
}

static void
test_summarizer_without_the_lease_only_counts(void **unused)
{
    struct rig r = { 0 };
    struct testutil_deadline d = testutil_deadline_ms(15000);
    char *text = NULL, reasons[256];

    (void) unused;
    rig_start(&r, false);
    summarizer_observe(r.s, HASH_A);
    for (;;) {
        free(text);
        text = metrics_render(r.metrics);
        if (strstr(text, "exportflows_publisher_nodes{state=\"failed\"} 1")) {
            break;
        }
        assert_false(testutil_deadline_passed(&d));
        testutil_nap(10);
    }
    assert_non_null(strstr(text, "exportflows_publisher_nodes{state=\"in_sync\"} 1"));
    free(text);
    testutil_nap(500);          /* settle and interval passed many times */
    assert_int_equal(testkubeobj_requests(&r.api.cm), 0);
    assert_int_equal(events(&r, reasons, sizeof reasons), 0);
    rig_stop(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summarizer_create_needs_names),
        cmocka_unit_test(test_summarizer_leader_writes_the_summary_once_per_change),
        cmocka_unit_test(test_summarizer_without_the_lease_only_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
