/* test_configsource_kube — the ConfigMap config source against a loopback HTTP
 * server (tests/lib/testhttp) that answers the LIST and then streams watch events
 * the test pushes one at a time: a missing ConfigMap, its creation, the same text
 * again (no change), an invalid text (refused once, the last good config kept), a
 * missing key, a deletion (last config kept) and a recreation.  The end-to-end behaviour against
 * a real kube-apiserver is tests/system/applier-kube.sh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/kube/configsource_kube.h"
#include "exportflows/kube/kubeconfig.h"
#include "../../lib/testhttp.h"
#include "../../lib/testutil.h"

#define HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

/* Answers the LIST with an empty list and streams to each watch what the test
 * pushes into 'push'. */
struct fake {
    struct testhttp http;
    int push[2];
    pthread_mutex_t lock;
    char list_line[512];        /* the LIST request line */
    unsigned watches;
    unsigned fail_next;         /* answer this many next requests with a 500 */
};

/* Forwards what the test pushes to the watch stream until the client leaves or
 * the server stops. */
static void
stream(struct fake *f, int fd)
{
    char buf[4096];

    if (write(fd, HEAD, strlen(HEAD)) < 0) {
        return;
    }
    for (;;) {
        struct pollfd p[3] = { { f->push[0], POLLIN, 0 }, { f->http.quit[0], POLLIN, 0 },
                               { fd, POLLIN, 0 } };
        ssize_t n;

        if (poll(p, 3, TESTHTTP_WAIT_MS) <= 0 || p[1].revents || p[2].revents) {
            return;
        }
        n = read(f->push[0], buf, sizeof buf);
        if (n <= 0 || write(fd, buf, (size_t) n) != n) {
            return;
        }
    }
}

static void
serve(void *ctx, int fd, const char *request)
{
    static const char list[] = HEAD "{\"kind\":\"ConfigMapList\",\"metadata\":"
                               "{\"resourceVersion\":\"10\"},\"items\":[]}";
    struct fake *f = ctx;
    char line[512];

    testhttp_request_line(request, line, sizeof line);
    pthread_mutex_lock(&f->lock);
    if (f->fail_next) {
        f->fail_next--;
        pthread_mutex_unlock(&f->lock);
        testhttp_reply_status(fd, 500, "InternalError");
        return;
    }
    pthread_mutex_unlock(&f->lock);
    if (strstr(line, "watch=1")) {
        pthread_mutex_lock(&f->lock);
        f->watches++;
        pthread_mutex_unlock(&f->lock);
        stream(f, fd);
        return;
    }
    pthread_mutex_lock(&f->lock);
    snprintf(f->list_line, sizeof f->list_line, "%s", line);
    pthread_mutex_unlock(&f->lock);
    if (write(fd, list, strlen(list)) < 0) {
        return;
    }
}

static void
fake_start(struct fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(pipe2(f->push, O_CLOEXEC), 0);
    assert_int_equal(testhttp_start(&f->http, serve, f), 0);
}

static void
fake_stop(struct fake *f)
{
    testhttp_stop(&f->http);
    close(f->push[0]);
    close(f->push[1]);
    pthread_mutex_destroy(&f->lock);
}

/* Sends one watch event: TYPE and a ConfigMap whose data is DATA (JSON). */
static void
push_event(struct fake *f, const char *type, const char *name, unsigned rv,
           const char *data)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "{\"type\":\"%s\",\"object\":{\"kind\":\"ConfigMap\","
                     "\"metadata\":{\"name\":\"%s\",\"namespace\":\"exportflows\","
                     "\"resourceVersion\":\"%u\"}%s%s}}\n", type, name, rv,
                     data ? ",\"data\":" : "", data ? data : "");

    assert_true(n > 0 && (size_t) n < sizeof line);
    assert_int_equal(write(f->push[1], line, (size_t) n), n);
}

struct rig {
    struct fake fake;
    struct kubeconfig *kube;
    struct configsource *source;
    unsigned rv;
    pthread_mutex_t lock;
    char reports[256];          /* "W- D- I0 ": the source's reports, the initial of
                                 * their level and their code's sign */
};

/* Records each report from the watch thread. */
static void
record_report(void *aux, const struct report *report)
{
    struct rig *r = aux;
    size_t len;

    pthread_mutex_lock(&r->lock);
    len = strlen(r->reports);
    snprintf(r->reports + len, sizeof r->reports - len, "%c%c ",
             "DIWE"[report->level], report->code < 0 ? '-' : report->code ? '+' : '0');
    pthread_mutex_unlock(&r->lock);
}

static bool
reports_are(struct rig *r, const char *want)
{
    bool same;

    pthread_mutex_lock(&r->lock);
    same = !strcmp(r->reports, want);
    pthread_mutex_unlock(&r->lock);
    return same;
}

static void
rig_start(struct rig *r)
{
    struct configsource_kube_config kc = {
        .namespace = "exportflows", .name = "exportflows-config",
        .backoff_min_ms = 10, .backoff_max_ms = 20,
        .report = record_report, .aux = r,
    };
    struct errmsg err;

    r->reports[0] = '\0';
    pthread_mutex_init(&r->lock, NULL);
    fake_start(&r->fake);
    r->rv = 10;
    assert_int_equal(testhttp_kubeconfig(&r->fake.http, &r->kube), 0);
    if (configsource_kube_create(r->kube, &kc, &r->source, &err) < 0) {
        fail_msg("%s", err.text);
    }
}

static void
rig_stop(struct rig *r)
{
    configsource_destroy(r->source);
    kubeconfig_destroy(r->kube);
    fake_stop(&r->fake);
    pthread_mutex_destroy(&r->lock);
}

/* Waits for the source's fd to wake, then runs it once; returns what run()
 * returned. */
static int
next(struct rig *r, struct errmsg *err)
{
    struct pollfd pfd;
    int timeout = -1;

    configsource_wait(r->source, 0, &pfd, &timeout);
    assert_true(pfd.fd >= 0);
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    err->text[0] = '\0';
    return configsource_run(r->source, 0, err);
}

static void
push(struct rig *r, const char *type, const char *data)
{
    push_event(&r->fake, type, "exportflows-config", ++r->rv, data);
}

#define GOOD1 "{\"config.json\":\"{\\\"generation\\\": 1, \\\"netFlow\\\": " \
    "{\\\"collectors\\\": [\\\"10.0.0.1:2056\\\"]}}\"}"
#define GOOD2 "{\"config.json\":\"{\\\"generation\\\": 2}\"}"
#define BAD "{\"config.json\":\"{\\\"netFlow\\\": 7}\"}"

static int64_t
current_generation(const struct rig *r)
{
    const struct flowconfig *c = configsource_current(r->source);

    return c ? c->generation : -1;
}

static void
test_configsource_kube_follows_the_configmap(void **unused)
{
    struct rig r;
    struct errmsg err;

    (void) unused;
    rig_start(&r);
    assert_string_equal(configsource_describe(r.source),
                        "configmap 'exportflows/exportflows-config'");
    assert_int_equal(next(&r, &err), -ENOENT);  /* the LIST: nothing there */
    assert_string_equal(err.text, "configmap 'exportflows/exportflows-config' not found");
    assert_null(configsource_current(r.source));
    pthread_mutex_lock(&r.fake.lock);
    assert_non_null(strstr(r.fake.list_line, "GET /api/v1/namespaces/exportflows/configmaps?"));
    assert_non_null(strstr(r.fake.list_line, "fieldSelector=metadata.name%3Dexportflows-config"));
    pthread_mutex_unlock(&r.fake.lock);

    push(&r, "ADDED", GOOD1);
    assert_int_equal(next(&r, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(current_generation(&r), 1);

    push(&r, "MODIFIED", GOOD1);               /* only the resourceVersion moved */
    assert_int_equal(next(&r, &err), CONFIGSOURCE_UNCHANGED);

    push(&r, "MODIFIED", BAD);
    assert_int_equal(next(&r, &err), -EINVAL);
    assert_non_null(strstr(err.text, "refused configmap 'exportflows/exportflows-config': "));
    assert_int_equal(current_generation(&r), 1);
    push(&r, "MODIFIED", BAD);                 /* reported once */
    assert_int_equal(next(&r, &err), CONFIGSOURCE_UNCHANGED);

    push(&r, "MODIFIED", "{\"other\":\"x\"}");
    assert_int_equal(next(&r, &err), -ENOENT);
    assert_string_equal(err.text, "configmap 'exportflows/exportflows-config' has no key "
                        "'config.json': keeping the last config");

    push(&r, "MODIFIED", GOOD2);
    assert_int_equal(next(&r, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(current_generation(&r), 2);

    push(&r, "DELETED", GOOD2);
    assert_int_equal(next(&r, &err), -ENOENT);
    assert_string_equal(err.text, "configmap 'exportflows/exportflows-config' not found: "
                        "keeping the last config");
    assert_int_equal(current_generation(&r), 2);

    push(&r, "ADDED", GOOD2);                  /* back with the same text: news */
    assert_int_equal(next(&r, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(current_generation(&r), 2);
    rig_stop(&r);
}

/* Watch failures go to the report callback, not to run(): the first of a run
 * as a warning, the next ones at debug level, then "watching again" once. */
static void
test_configsource_kube_reports_watch_failures_once(void **unused)
{
    struct rig r;
    struct errmsg err;
    struct testutil_deadline d = testutil_deadline_ms(10000);

    (void) unused;
    rig_start(&r);
    assert_int_equal(next(&r, &err), -ENOENT);  /* the LIST: nothing there */
    pthread_mutex_lock(&r.fake.lock);
    r.fake.fail_next = 2;
    pthread_mutex_unlock(&r.fake.lock);
    assert_int_equal(write(r.fake.push[1], "not json\n", 9), 9);
    while (!reports_are(&r, "W- D- D- ") && !testutil_deadline_passed(&d)) {
        testutil_nap(5);
    }
    push(&r, "ADDED", GOOD1);
    assert_int_equal(next(&r, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(current_generation(&r), 1);
    while (!reports_are(&r, "W- D- D- I0 ") && !testutil_deadline_passed(&d)) {
        testutil_nap(5);
    }
    pthread_mutex_lock(&r.lock);
    assert_string_equal(r.reports, "W- D- D- I0 ");
    pthread_mutex_unlock(&r.lock);
    rig_stop(&r);
}

static void
test_configsource_kube_refuses_bad_names(void **unused)
{
    struct configsource_kube_config kc = { .namespace = "exportflows", .name = "a/b" };
    struct configsource *source = NULL;
    struct errmsg err;

    (void) unused;
    assert_int_equal(configsource_kube_create(NULL, &kc, &source, &err), -EINVAL);
    kc.name = "exportflows-config";
    kc.namespace = "";
    assert_int_equal(configsource_kube_create(NULL, &kc, &source, &err), -EINVAL);
    kc.namespace = NULL;
    assert_int_equal(configsource_kube_create(NULL, &kc, &source, &err), -EINVAL);
    assert_null(source);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configsource_kube_follows_the_configmap),
        cmocka_unit_test(test_configsource_kube_reports_watch_failures_once),
        cmocka_unit_test(test_configsource_kube_refuses_bad_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
