/* test_nodestatus — the per-node status Lease: the Lease's JSON and names, and the writer thread against a loopback
 * HTTP server (tests/lib/testhttp) that records each request and can fail or
 * stall: writes only on change, coalesces changes inside the rate limit, retries
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

#include "exportflows/clock.h"
#include "exportflows/kubeconfig.h"
#include "exportflows/nodestatus.h"
#include "../lib/testhttp.h"
#include "../lib/testutil.h"

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

#define MAX_BODY 16384

/* Keeps one Lease as the API server would: GET, POST (409 AlreadyExists when it
 * exists), PUT (404 when absent, 409 Conflict on a stale resourceVersion). */
struct fake {
    struct testhttp http;
    unsigned fail_first;        /* answer 500 to this many requests */
    unsigned delay_ms;          /* before each reply */
    pthread_mutex_t lock;
    bool exists;
    unsigned rv;
    unsigned requests;
    char methods[64];           /* one letter per request: G, P(OST), U(PUT) */
    char line[512];             /* the last request line */
    char body[MAX_BODY];        /* the last Lease sent */
};

static void
reply(int fd, int code, const char *reason, const char *body)
{
    char out[1024];
    int n = snprintf(out, sizeof out, "HTTP/1.1 %d %s\r\nContent-Type: application/json"
                     "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, reason, strlen(body), body);

    if (write(fd, out, (size_t) n) < 0) {
        /* the client gave up: nothing to do */
    }
}

static void
reply_status(int fd, int code, const char *reason)
{
    char body[256];

    snprintf(body, sizeof body, "{\"kind\":\"Status\",\"status\":\"Failure\","
             "\"code\":%d,\"reason\":\"%s\",\"message\":\"%s\"}", code, reason, reason);
    reply(fd, code, reason, body);
}

static void
reply_lease(int fd, int code, unsigned rv)
{
    char body[128];

    snprintf(body, sizeof body, "{\"metadata\":{\"resourceVersion\":\"%u\"}}", rv);
    reply(fd, code, code == 201 ? "Created" : "OK", body);
}

static unsigned
body_rv(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *rv = json_string_value(json_object_get(json_object_get(j, "metadata"),
                                                       "resourceVersion"));
    unsigned n = rv ? (unsigned) strtoul(rv, NULL, 10) : 0;

    json_decref(j);
    return n;
}

/* Plays the API server for one request; with the lock held. */
static void
answer(struct fake *f, int fd, const char *buf)
{
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    size_t used = strlen(f->methods);

    f->requests++;
    testhttp_request_line(buf, f->line, sizeof f->line);
    if (used < sizeof f->methods - 1) {
        f->methods[used] = !strncmp(buf, "GET", 3) ? 'G' : !strncmp(buf, "POST", 4) ? 'P' : 'U';
    }
    if (f->fail_first) {
        f->fail_first--;
        reply_status(fd, 500, "InternalError");
    } else if (!strncmp(buf, "GET", 3)) {
        f->exists ? reply_lease(fd, 200, f->rv) : reply_status(fd, 404, "NotFound");
    } else if (!strncmp(buf, "POST", 4) && f->exists) {
        reply_status(fd, 409, "AlreadyExists");
    } else if (!strncmp(buf, "PUT", 3) && !f->exists) {
        reply_status(fd, 404, "NotFound");
    } else if (!strncmp(buf, "PUT", 3) && body_rv(body) != f->rv) {
        reply_status(fd, 409, "Conflict");
    } else {
        f->exists = true;
        f->rv++;
        snprintf(f->body, sizeof f->body, "%s", body);
        reply_lease(fd, buf[1] == 'O' ? 201 : 200, f->rv);
    }
}

static void
serve(void *ctx, int fd, const char *request)
{
    struct fake *f = ctx;

    if (f->delay_ms) {
        testhttp_wait_readable(&f->http, f->http.quit[0], (int) f->delay_ms);
    }
    pthread_mutex_lock(&f->lock);
    answer(f, fd, request);
    pthread_mutex_unlock(&f->lock);
}

static void
fake_start(struct fake *f)
{
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(testhttp_start(&f->http, serve, f), 0);
}

static void
fake_stop(struct fake *f)
{
    testhttp_stop(&f->http);
    pthread_mutex_destroy(&f->lock);
}

static unsigned
fake_requests(struct fake *f)
{
    unsigned n;

    pthread_mutex_lock(&f->lock);
    n = f->requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static bool
fake_body_has(struct fake *f, const char *text)
{
    bool has;

    pthread_mutex_lock(&f->lock);
    has = strstr(f->body, text) != NULL;
    pthread_mutex_unlock(&f->lock);
    return has;
}

/* The methods of the requests so far, e.g. "GPU". */
static void
assert_methods(struct fake *f, const char *want)
{
    pthread_mutex_lock(&f->lock);
    assert_string_equal(f->methods, want);
    pthread_mutex_unlock(&f->lock);
}

struct rig {
    struct fake fake;
    char *dir;
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
    char *path;

    pthread_mutex_init(&r->lock, NULL);
    fake_start(&r->fake);
    r->dir = testutil_tempdir("nodestatus");
    path = testutil_path(r->dir, "kubeconfig");
    assert_int_equal(testhttp_write_kubeconfig(&r->fake.http, path), 0);
    if (kubeconfig_load_file(path, NULL, &r->kube, &err) < 0) {
        fail_msg("%s", err.text);
    }
    free(path);
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
    fake_stop(&r->fake);
    testutil_rmtree(r->dir);
    free(r->dir);
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
    assert_true(fake_body_has(&r.fake, "error-a"));
    assert_string_equal(r.fake.line, "POST /apis/coordination.k8s.io/v1/namespaces/"
                        "exportflows/leases HTTP/1.1");
    /* Three changes inside the rate limit: one write, of the latest, with the
     * resourceVersion kept from the last write: a single PUT. */
    nodestatus_set(r.ns, &b);
    nodestatus_set(r.ns, &a);
    nodestatus_set(r.ns, &c);
    assert_true(wait_writes(&r, 2, 5000));
    assert_methods(&r.fake, "GPU");
    assert_true(fake_body_has(&r.fake, "error-c"));
    assert_string_equal(r.fake.line, "PUT /apis/coordination.k8s.io/v1/namespaces/"
                        "exportflows/leases/exportflows-node-node-a HTTP/1.1");
    /* The same state again: nothing to write. */
    nodestatus_set(r.ns, &c);
    testutil_nap(700);          /* a window in which no request may come */
    assert_int_equal(fake_requests(&r.fake), 3);
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
    pthread_mutex_lock(&r.fake.lock);
    r.fake.rv += 5;             /* someone else updated the Lease */
    pthread_mutex_unlock(&r.fake.lock);
    nodestatus_set(r.ns, &b);
    assert_true(wait_writes(&r, 2, 5000));
    assert_methods(&r.fake, "GPUGU");           /* 409, read again, write */
    assert_true(fake_body_has(&r.fake, "error-b"));
    pthread_mutex_lock(&r.fake.lock);
    r.fake.exists = false;      /* deleted, e.g. by the garbage collector */
    pthread_mutex_unlock(&r.fake.lock);
    nodestatus_set(r.ns, &c);
    assert_true(wait_writes(&r, 3, 5000));
    assert_methods(&r.fake, "GPUGUUGP");        /* 404, read: absent, create */
    assert_true(fake_body_has(&r.fake, "error-c"));
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
    assert_true(fake_body_has(&r.fake, "error-a"));
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
    pthread_mutex_lock(&r.fake.lock);
    r.fake.fail_first = 1;
    pthread_mutex_unlock(&r.fake.lock);
    nodestatus_set(r.ns, &b);
    assert_true(wait_writes(&r, 2, 5000));     /* 500, then after the backoff */
    assert_methods(&r.fake, "GPUU");
    assert_true(fake_body_has(&r.fake, "error-b"));
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
    assert_true(fake_body_has(&r.fake, "error-b"));
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
    assert_true(fake_body_has(&r.fake, "error-a"));
    assert_true(fake_body_has(&r.fake, "\"leaseDurationSeconds\":3"));
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
    assert_true(fake_body_has(&r.fake, "error-b"));
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
