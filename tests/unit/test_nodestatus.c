/* test_nodestatus — the per-node status Lease: how applier reports fold into the
 * state, the Lease's JSON, names and times, and the writer thread against a
 * loopback HTTP server that records each request and can fail or stall: writes
 * only on change, coalesces changes inside the rate limit, retries failures,
 * writes a pending state on stop, sends heartbeats, and never makes
 * nodestatus_set() wait for a slow server. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/kubeconfig.h"
#include "exportflows/nodestatus.h"
#include "../lib/testutil.h"

#define HASH7 "sha256:7777777777777777777777777777777777777777777777777777777777777777"

static struct flowconfig
config_from(const char *text)
{
    struct flowconfig c;
    struct errmsg err;

    if (flowconfig_parse(text, strlen(text), &c, &err) < 0) {
        fail_msg("%s", err.text);
    }
    return c;
}

static struct applier_report
report_of(enum applier_report_type type, const struct flowconfig *c, const char *msg)
{
    return (struct applier_report) { .type = type, .config = c, .message = msg };
}

/* ---- the state ---- */

static void
test_nodestatus_state_applied_sets_hash_generation_and_time(void **unused)
{
    struct flowconfig c = config_from("{\"generation\": 7, \"hash\": \"" HASH7 "\", "
                                      "\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report r = report_of(APPLIER_APPLIED, &c, NULL);
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    assert_true(nodestatus_state_update(&s, &r, 1000));
    assert_true(s.has_applied && s.in_sync && s.has_generation);
    assert_int_equal(s.generation, 7);
    assert_string_equal(s.hash, HASH7);
    assert_int_equal(s.last_apply_time, 1000);
    assert_string_equal(s.last_error, "");
    assert_false(nodestatus_state_update(&s, &r, 1000));    /* nothing new */
    r.type = APPLIER_IN_SYNC;
    assert_true(nodestatus_state_update(&s, &r, 1005));     /* confirmed later */
    assert_int_equal(s.last_apply_time, 1005);
}

static void
test_nodestatus_state_computes_a_missing_hash(void **unused)
{
    struct flowconfig c = config_from("{\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report r = report_of(APPLIER_IN_SYNC, &c, NULL);
    char want[FLOWCONFIG_HASH_SIZE];
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    assert_true(nodestatus_state_update(&s, &r, 1));
    flowconfig_hash(&c, want);
    assert_string_equal(s.hash, want);
    assert_false(s.has_generation);
}

static void
test_nodestatus_state_error_keeps_applied_and_clears_on_success(void **unused)
{
    struct flowconfig c = config_from("{\"generation\": 3, \"netFlow\": "
                                      "{\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report ok = report_of(APPLIER_APPLIED, &c, NULL);
    struct applier_report bad = report_of(APPLIER_CONFIG_REFUSED, &c,
                                          "refused configmap 'a/b': bad\n\xc3\xa9");
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    nodestatus_state_update(&s, &ok, 10);
    assert_true(nodestatus_state_update(&s, &bad, 20));
    assert_false(s.in_sync);
    assert_string_equal(s.last_error, "refused configmap 'a/b': bad???");
    assert_int_equal(s.generation, 3);          /* the last good one stays */
    assert_int_equal(s.last_apply_time, 10);
    assert_false(nodestatus_state_update(&s, &bad, 30));    /* same error again */
    assert_true(nodestatus_state_update(&s, &ok, 40));
    assert_true(s.in_sync);
    assert_string_equal(s.last_error, "");
}

static void
test_nodestatus_state_ignores_reports_that_say_nothing_yet(void **unused)
{
    struct flowconfig c = config_from("{}");
    struct applier_report loaded = report_of(APPLIER_CONFIG_LOADED, &c, NULL);
    struct applier_report connected = report_of(APPLIER_OVSDB_CONNECTED, NULL, NULL);
    struct applier_report lost = report_of(APPLIER_OVSDB_DISCONNECTED, NULL, NULL);
    struct nodestatus_state s, zero;

    (void) unused;
    nodestatus_state_init(&s);
    nodestatus_state_init(&zero);
    assert_false(nodestatus_state_update(&s, &loaded, 1));
    assert_false(nodestatus_state_update(&s, &connected, 1));
    assert_true(nodestatus_state_equal(&s, &zero));
    assert_true(nodestatus_state_update(&s, &lost, 1));
    assert_string_equal(s.last_error, "unknown error");
}

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

static void
test_nodestatus_format_times_rfc3339(void **unused)
{
    struct timespec ts = { .tv_sec = 1767323045, .tv_nsec = 5001000 };
    char buf[40];

    (void) unused;
    nodestatus_format_time(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    nodestatus_format_time(1767323045, buf);
    assert_string_equal(buf, "2026-01-02T03:04:05Z");
    nodestatus_format_microtime(&ts, buf);
    assert_string_equal(buf, "2026-01-02T03:04:05.005001Z");
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
    struct flowconfig c = config_from("{\"generation\": 7, \"hash\": \"" HASH7 "\"}");
    struct applier_report r = report_of(APPLIER_APPLIED, &c, NULL);
    struct timespec now = { .tv_sec = 1767323045, .tv_nsec = 0 };
    struct nodestatus_state s;
    json_t *lease, *labels;

    (void) unused;
    nodestatus_state_init(&s);
    nodestatus_state_update(&s, &r, 1767323040);
    lease = nodestatus_lease_json("exportflows", "node-a", &s, &now);
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
    assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"),
                        "holderIdentity")), "node-a");
    assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"),
                        "renewTime")), "2026-01-02T03:04:05.000000Z");
    json_decref(lease);
}

static void
test_nodestatus_lease_json_before_anything_applied(void **unused)
{
    char node[80];
    struct timespec now = { 0, 0 };
    struct nodestatus_state s;
    json_t *lease;

    (void) unused;
    nodestatus_state_init(&s);
    memset(node, 'n', 70);                      /* too long for a label value */
    node[70] = '\0';
    lease = nodestatus_lease_json("exportflows", node, &s, &now);
    assert_non_null(lease);
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_HASH), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_GENERATION), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_APPLY_TIME), "");
    assert_string_equal(annotation(lease, NODESTATUS_ANNOTATION_IN_SYNC), "false");
    assert_null(json_object_get(json_object_get(json_object_get(lease, "metadata"),
                "labels"), NODESTATUS_LABEL_NODE));
    json_decref(lease);
    assert_null(nodestatus_lease_json("exportflows", "Bad", &s, &now));
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
    assert_null(ns);
    nodestatus_destroy(NULL);
}

/* ---- the writer against a recording HTTP server ---- */

#define MAX_BODY 16384

struct fake {
    int listen_fd, quit[2], port;
    pthread_t thread;
    unsigned fail_first;        /* answer 500 to this many requests */
    unsigned delay_ms;          /* before each reply */
    pthread_mutex_t lock;
    unsigned requests;
    char line[512];             /* the last request line */
    char content_type[128];
    char body[MAX_BODY];        /* the last request body */
};

static bool
wait_readable(struct fake *f, int fd, int timeout_ms)
{
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { f->quit[0], POLLIN, 0 } };

    return poll(p, 2, timeout_ms) > 0 && !p[1].revents && p[0].revents;
}

/* The value of header 'name' in the head 'buf', copied to 'out'. */
static void
header(const char *buf, const char *name, char *out, size_t size)
{
    const char *p = buf;
    size_t n = strlen(name);

    out[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            p += n + 1;
            p += strspn(p, " ");
            snprintf(out, size, "%.*s", (int) strcspn(p, "\r"), p);
            return;
        }
    }
}

/* Reads one request; false when the client went away. */
static bool
read_request(struct fake *f, int fd, char *buf, size_t size)
{
    size_t len = 0, want = 0;
    char *end = NULL, length[32];

    while (len < size - 1 && wait_readable(f, fd, 10000)) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0) {
            return false;
        }
        len += (size_t) n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            header(buf, "Content-Length", length, sizeof length);
            want = (size_t) (end + 4 - buf) + strtoul(length, NULL, 10);
        }
        if (end && len >= want) {
            return true;
        }
    }
    return false;
}

static void
record(struct fake *f, const char *buf)
{
    const char *body = strstr(buf, "\r\n\r\n");

    pthread_mutex_lock(&f->lock);
    f->requests++;
    snprintf(f->line, sizeof f->line, "%.*s", (int) strcspn(buf, "\r"), buf);
    header(buf, "Content-Type", f->content_type, sizeof f->content_type);
    snprintf(f->body, sizeof f->body, "%s", body ? body + 4 : "");
    pthread_mutex_unlock(&f->lock);
}

static void
serve(struct fake *f, int fd)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    static const char bad[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: "
        "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    char *buf = malloc(MAX_BODY + 4096);
    const char *reply;

    assert_non_null(buf);
    if (read_request(f, fd, buf, MAX_BODY + 4096)) {
        if (f->delay_ms) {
            wait_readable(f, f->quit[0], (int) f->delay_ms);
        }
        pthread_mutex_lock(&f->lock);
        reply = f->fail_first ? bad : ok;
        f->fail_first -= f->fail_first ? 1 : 0;
        pthread_mutex_unlock(&f->lock);
        record(f, buf);
        if (write(fd, reply, strlen(reply)) < 0) {
            /* the client gave up: nothing to do */
        }
    }
    free(buf);
}

static void *
fake_run(void *arg)
{
    struct fake *f = arg;

    while (wait_readable(f, f->listen_fd, 10000)) {
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd >= 0) {
            serve(f, fd);
            close(fd);
        }
    }
    return NULL;
}

static void
fake_start(struct fake *f)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof sin;

    pthread_mutex_init(&f->lock, NULL);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->listen_fd >= 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *) &sin, sizeof sin), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *) &sin, &len), 0);
    f->port = ntohs(sin.sin_port);
    assert_int_equal(pipe2(f->quit, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

static void
fake_stop(struct fake *f)
{
    assert_int_equal(write(f->quit[1], "q", 1), 1);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    close(f->quit[0]);
    close(f->quit[1]);
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

/* Polls until the server saw 'n' requests; false after 'ms'. */
static bool
wait_requests(struct fake *f, unsigned n, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);

    while (fake_requests(f) < n) {
        if (testutil_deadline_passed(&d)) {
            return false;
        }
        testutil_nap(10);
    }
    return true;
}

struct rig {
    struct fake fake;
    char *dir;
    struct kubeconfig *kube;
    struct nodestatus *ns;
    unsigned errors;            /* on_error calls, from the writer thread */
    pthread_mutex_t lock;
};

static void
count_error(void *ctx, int code, const char *message)
{
    struct rig *r = ctx;

    (void) code;
    (void) message;
    pthread_mutex_lock(&r->lock);
    r->errors++;
    pthread_mutex_unlock(&r->lock);
}

static void
rig_start(struct rig *r, unsigned min_interval_ms, unsigned heartbeat_ms)
{
    struct nodestatus_config nc = {
        .namespace = "exportflows", .node = "node-a",
        .min_interval_ms = min_interval_ms, .heartbeat_ms = heartbeat_ms,
        .timeout_ms = 5000, .on_error = count_error, .ctx = r,
    };
    char text[512], *path;
    struct errmsg err;

    pthread_mutex_init(&r->lock, NULL);
    fake_start(&r->fake);
    r->dir = testutil_tempdir("nodestatus");
    path = testutil_path(r->dir, "kubeconfig");
    snprintf(text, sizeof text, "apiVersion: v1\nkind: Config\n"
             "clusters: [{name: fake, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "contexts: [{name: fake, context: {cluster: fake}}]\n"
             "current-context: fake\n", r->fake.port);
    assert_int_equal(testutil_write_file(path, text, strlen(text)), 0);
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
    assert_true(wait_requests(&r.fake, 1, 5000));
    assert_true(fake_body_has(&r.fake, "error-a"));
    assert_string_equal(r.fake.line, "PATCH /apis/coordination.k8s.io/v1/namespaces/"
                        "exportflows/leases/exportflows-node-node-a?fieldManager="
                        "exportflows-applier&force=true HTTP/1.1");
    assert_string_equal(r.fake.content_type, "application/apply-patch+yaml");
    /* Three changes inside the rate limit: one write, of the latest. */
    nodestatus_set(r.ns, &b);
    nodestatus_set(r.ns, &a);
    nodestatus_set(r.ns, &c);
    assert_true(wait_requests(&r.fake, 2, 5000));
    assert_true(fake_body_has(&r.fake, "error-c"));
    /* The same state again: nothing to write. */
    nodestatus_set(r.ns, &c);
    testutil_nap(700);          /* a window in which no request may come */
    assert_int_equal(fake_requests(&r.fake), 2);
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.writes, 2);
    assert_int_equal(stats.errors, 0);
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
    assert_true(wait_requests(&r.fake, 2, 5000));       /* 500, then after backoff */
    assert_true(fake_body_has(&r.fake, "error-a"));
    nodestatus_get_stats(r.ns, &stats);
    assert_int_equal(stats.errors, 1);
    assert_int_equal(stats.writes, 1);
    pthread_mutex_lock(&r.lock);
    assert_int_equal(r.errors, 1);
    pthread_mutex_unlock(&r.lock);
    rig_stop(&r);
}

static void
test_nodestatus_stop_writes_the_pending_state(void **unused)
{
    struct rig r = { 0 };
    struct nodestatus_state a = state_with_error("error-a");
    struct nodestatus_state b = state_with_error("error-b");

    (void) unused;
    rig_start(&r, 60000, 0);
    nodestatus_set(r.ns, &a);
    assert_true(wait_requests(&r.fake, 1, 5000));
    nodestatus_set(r.ns, &b);   /* held back by the one-minute rate limit */
    nodestatus_stop(r.ns);
    assert_int_equal(fake_requests(&r.fake), 2);
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
    assert_true(wait_requests(&r.fake, 3, 5000));
    assert_true(fake_body_has(&r.fake, "error-a"));
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
    r.fake.delay_ms = 1500;
    rig_start(&r, 100, 0);
    nodestatus_set(r.ns, &a);
    testutil_nap(200);          /* let the writer get into its slow request */
    start = testutil_now_us();
    for (int i = 0; i < 50; i++) {
        nodestatus_set(r.ns, i % 2 ? &b : &a);
    }
    assert_true(testutil_now_us() - start < 100000);
    assert_true(wait_requests(&r.fake, 2, 10000));
    assert_true(fake_body_has(&r.fake, "error-b"));
    rig_stop(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodestatus_state_applied_sets_hash_generation_and_time),
        cmocka_unit_test(test_nodestatus_state_computes_a_missing_hash),
        cmocka_unit_test(test_nodestatus_state_error_keeps_applied_and_clears_on_success),
        cmocka_unit_test(test_nodestatus_state_ignores_reports_that_say_nothing_yet),
        cmocka_unit_test(test_nodestatus_lease_name_checks_the_node_name),
        cmocka_unit_test(test_nodestatus_format_times_rfc3339),
        cmocka_unit_test(test_nodestatus_lease_json_carries_the_state),
        cmocka_unit_test(test_nodestatus_lease_json_before_anything_applied),
        cmocka_unit_test(test_nodestatus_create_checks_names),
        cmocka_unit_test(test_nodestatus_writes_on_change_and_coalesces),
        cmocka_unit_test(test_nodestatus_retries_after_a_failure),
        cmocka_unit_test(test_nodestatus_stop_writes_the_pending_state),
        cmocka_unit_test(test_nodestatus_heartbeat_rewrites_unchanged_state),
        cmocka_unit_test(test_nodestatus_set_never_waits_for_a_slow_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
