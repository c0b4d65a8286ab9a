/* Unit tests for kubewatch: the decisions (event -> action, backoff, watch
 * timeouts) and the whole list/watch state machine against a scripted HTTP server
 * on loopback (tests/lib/testhttp) that plays 410 Gone (as a reply and as an
 * in-stream ERROR event), a 500, a cut stream and an oversized event. */
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

#include <curl/curl.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kubewatch.h"

#include "../../lib/testhttp.h"

/* ---- decisions ---- */

static void
test_kubewatch_action_for_each_event(void **state)
{
    struct watchstream_event ev = { 0 };

    ev.type = WATCHSTREAM_ADDED;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_DELIVER);
    ev.type = WATCHSTREAM_DELETED;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_DELIVER);
    ev.type = WATCHSTREAM_BOOKMARK;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_ADVANCE);
    ev.type = WATCHSTREAM_ERROR;
    ev.code = 410;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_RELIST);
    ev.code = 500;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_RETRY);
    ev.code = 0;
    assert_int_equal(kubewatch_action_for(&ev), KUBEWATCH_RETRY);
}

static void
test_kubewatch_backoff_doubles_with_jitter_and_cap(void **state)
{
    /* 'random' 0 gives the lower half-bound, UINT32_MAX the full delay. */
    assert_int_equal(kubewatch_backoff_ms(0, 500, 30000, 0), 250);
    assert_int_equal(kubewatch_backoff_ms(0, 500, 30000, UINT32_MAX), 500);
    assert_int_equal(kubewatch_backoff_ms(3, 500, 30000, UINT32_MAX), 4000);
    assert_int_equal(kubewatch_backoff_ms(6, 500, 30000, UINT32_MAX), 30000);
    assert_int_equal(kubewatch_backoff_ms(31, 500, 30000, 0), 15000);
    for (uint32_t r = 0; r < 1000; r++) {
        unsigned d = kubewatch_backoff_ms(2, 500, 30000, r * 4294967u);

        assert_in_range(d, 1000, 2000);
    }
}

static void
test_kubewatch_timeout_is_random_in_range(void **state)
{
    unsigned seen_min = 1000, seen_max = 0;

    for (uint32_t r = 0; r < 2000; r++) {
        unsigned t = kubewatch_timeout_s(240, 480, r * 2654435761u);

        assert_in_range(t, 240, 480);
        seen_min = t < seen_min ? t : seen_min;
        seen_max = t > seen_max ? t : seen_max;
    }
    assert_true(seen_max - seen_min > 200);     /* spread, not constant */
    assert_int_equal(kubewatch_timeout_s(5, 5, 12345), 5);
}

/* ---- a scripted HTTP server ---- */

#define MAX_REQUESTS 16

struct step {
    const char *response;       /* status line, headers and body */
    bool hold;                  /* keep the connection open until the server stops */
};

/* Answers request i with script[i] (the last step once the script is over). */
struct fake {
    struct testhttp http;
    const struct step *script;
    size_t n_script;
    pthread_mutex_t lock;
    char requests[MAX_REQUESTS][512];   /* request lines */
    uint64_t at_ms[MAX_REQUESTS];       /* when each arrived (monotonic) */
    size_t n_requests;
};

static void
serve(void *ctx, int fd, const char *request)
{
    struct fake *f = ctx;
    const struct step *s;
    size_t i;

    pthread_mutex_lock(&f->lock);
    i = f->n_requests;
    if (i < MAX_REQUESTS) {
        testhttp_request_line(request, f->requests[i], sizeof f->requests[i]);
        f->at_ms[i] = clock_monotonic_ms();
        f->n_requests++;
    }
    pthread_mutex_unlock(&f->lock);
    s = &f->script[i < f->n_script ? i : f->n_script - 1];
    if (write(fd, s->response, strlen(s->response)) < 0) {
        return;
    }
    if (s->hold) {
        /* until the server stops (or the wait gives up) */
        testhttp_wait_readable(&f->http, f->http.quit[0], TESTHTTP_WAIT_MS);
    }
}

static void
fake_start(struct fake *f, const struct step *script, size_t n)
{
    memset(f, 0, sizeof *f);
    f->script = script;
    f->n_script = n;
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(testhttp_start(&f->http, serve, f), 0);
}

static void
fake_stop(struct fake *f)
{
    testhttp_stop(&f->http);
    pthread_mutex_destroy(&f->lock);
}

static size_t
fake_requests(struct fake *f)
{
    size_t n;

    pthread_mutex_lock(&f->lock);
    n = f->n_requests;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* ---- the state machine against the script ---- */

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
#define CM(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"}}"
#define EVENT(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"
#define LIST(rv, items) OK_HEAD "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"" \
    rv "\"},\"items\":[" items "]}"
#define STATUS(code, reason) "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":" #code \
    ",\"reason\":\"" reason "\",\"message\":\"" reason " from the script\"}"

static const struct step script[] = {
    /* 0 */ { LIST("10", CM("a", "9")), false },
    /* 1: an event, a bookmark, then 410 in the stream; what follows it is ignored */
    { OK_HEAD EVENT("ADDED", CM("b", "11")) EVENT("BOOKMARK", CM("", "12"))
      EVENT("ERROR", STATUS(410, "Expired")) EVENT("MODIFIED", CM("b", "13")), false },
    /* 2 */ { LIST("20", CM("a", "9") "," CM("b", "11")), false },
    /* 3: 410 as the reply */
    { "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
      STATUS(410, "Gone"), false },
    /* 4 */ { LIST("30", CM("a", "9") "," CM("b", "11") "," CM("c", "29")), false },
    /* 5: a server error: back off, watch again from 30 */
    { "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
      "Connection: close\r\n\r\n" STATUS(500, "InternalError"), false },
    /* 6: the stream stops inside an event */
    { OK_HEAD "{\"type\":\"MODIFIED\",\"obj", false },
    /* 7: an event over the cap (max_event 200) */
    { OK_HEAD EVENT("MODIFIED", "{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"30\","
      "\"annotations\":{\"x\":\"" "0123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789\"}}}"), false },
    /* 8: and finally a change, then silence */
    { OK_HEAD EVENT("MODIFIED", CM("c", "31")), true },
};

struct seen {
    pthread_mutex_t lock;
    char log[2048];
    unsigned synced, errors;
    unsigned odd_reports;       /* reports not shaped as retried failures */
};

static void
seen_append(struct seen *s, const char *text)
{
    size_t used = strlen(s->log);

    snprintf(s->log + used, sizeof s->log - used, "%s ", text);
}

static void
on_synced(void *ctx, const json_t *items)
{
    struct seen *s = ctx;
    char text[64];

    pthread_mutex_lock(&s->lock);
    snprintf(text, sizeof text, "SYNCED:%zu", json_array_size(items));
    seen_append(s, text);
    s->synced++;
    pthread_mutex_unlock(&s->lock);
}

static void
on_event(void *ctx, enum watchstream_type type, const json_t *obj)
{
    struct seen *s = ctx;
    const json_t *meta = json_object_get(obj, "metadata");
    char text[64];

    pthread_mutex_lock(&s->lock);
    snprintf(text, sizeof text, "%s:%s@%s", watchstream_type_name(type),
             json_string_value(json_object_get(meta, "name")),
             json_string_value(json_object_get(meta, "resourceVersion")));
    seen_append(s, text);
    pthread_mutex_unlock(&s->lock);
}

static void
on_report(void *ctx, const struct report *r)
{
    struct seen *s = ctx;


    pthread_mutex_lock(&s->lock);
    s->errors++;
    s->odd_reports += r->level != REPORT_WARN || r->code >= 0 || !r->message;
    pthread_mutex_unlock(&s->lock);
}

static bool
script_done(struct fake *f, struct seen *s)
{
    bool done;

    pthread_mutex_lock(&s->lock);
    done = strstr(s->log, "MODIFIED:c@31") != NULL;
    pthread_mutex_unlock(&s->lock);
    return done && fake_requests(f) == sizeof script / sizeof *script;
}

/* A kubewatch running against a fake server playing 'script'. */
struct watch_run {
    struct fake f;
    struct seen seen;
    struct kubeconfig *cfg;
    struct kubewatch *w;
};

static void
watch_run_start(struct watch_run *r, const struct step *script_, size_t n,
                const struct kubewatch_config *wc)
{
    static const struct kubewatch_callbacks cb = { on_synced, on_event, on_report };
    struct errmsg err = { "" };

    memset(&r->seen, 0, sizeof r->seen);
    pthread_mutex_init(&r->seen.lock, NULL);
    fake_start(&r->f, script_, n);
    r->cfg = NULL;
    r->w = NULL;
    assert_int_equal(testhttp_kubeconfig(&r->f.http, &r->cfg), 0);
    assert_int_equal(kubewatch_create(r->cfg, wc, &cb, &r->seen, &r->w, &err), 0);
    assert_int_equal(kubewatch_start(r->w, &err), 0);
}

static void
watch_run_finish(struct watch_run *r)
{
    kubewatch_destroy(r->w);
    kubeconfig_destroy(r->cfg);
    fake_stop(&r->f);
    pthread_mutex_destroy(&r->seen.lock);
}

static void
test_kubewatch_relists_on_gone_and_resumes_after_errors(void **state)
{
    struct kubewatch_config wc = {
        .path = "/api/v1/namespaces/ns/configmaps",
        .field_selector = "metadata.name=x", .timeout_min_s = 100, .timeout_max_s = 200,
        .backoff_min_ms = 10, .backoff_max_ms = 20, .max_event = 200,
    };
    struct watch_run run;
    struct kubewatch_stats stats;
    const char *timeout;
    unsigned long timeout_s;
    uint64_t deadline, t0;

    watch_run_start(&run, script, sizeof script / sizeof *script, &wc);
    deadline = clock_monotonic_ms() + 10000;
    while (!script_done(&run.f, &run.seen) && clock_monotonic_ms() < deadline) {
        struct timespec ts = { 0, 10000000 };

        nanosleep(&ts, NULL);
    }
    assert_true(script_done(&run.f, &run.seen));
    t0 = clock_monotonic_ms();
    kubewatch_stop(run.w);      /* interrupts the held watch */
    assert_true(clock_monotonic_ms() - t0 < 500);

    assert_string_equal(run.seen.log, "SYNCED:1 ADDED:b@11 SYNCED:2 SYNCED:3 MODIFIED:c@31 ");
    assert_string_equal(run.f.requests[0], "GET /api/v1/namespaces/ns/configmaps?limit=500"
                        "&fieldSelector=metadata.name%3Dx HTTP/1.1");
    timeout = strstr(run.f.requests[1], "?watch=1&allowWatchBookmarks=true&timeoutSeconds=");
    assert_non_null(timeout);
    timeout_s = strtoul(timeout + strlen("?watch=1&allowWatchBookmarks=true&timeoutSeconds="),
                        NULL, 10);
    assert_in_range(timeout_s, 100, 200);     /* wc.timeout_min_s .. timeout_max_s */
    assert_non_null(strstr(run.f.requests[1], "&resourceVersion=10&fieldSelector="));
    assert_non_null(strstr(run.f.requests[2], "?limit=500"));
    assert_non_null(strstr(run.f.requests[3], "&resourceVersion=20&"));
    assert_non_null(strstr(run.f.requests[4], "?limit=500"));
    for (int i = 5; i <= 8; i++) {
        assert_non_null(strstr(run.f.requests[i], "&resourceVersion=30&"));
    }
    kubewatch_stats(run.w, &stats);
    assert_int_equal(stats.lists, 3);
    assert_int_equal(stats.watches, 6);
    assert_int_equal(stats.events, 2);
    assert_int_equal(stats.bookmarks, 1);
    assert_int_equal(stats.gone, 2);
    assert_int_equal(stats.errors, 3);  /* the 500, the cut stream, the big event */
    assert_int_equal(run.seen.errors, 3);
    assert_int_equal(run.seen.odd_reports, 0);

    watch_run_finish(&run);
}

/* A 429 after several failures: retried after about a second, not after the
 * backoff those failures had grown (2-4 s here). */
static const struct step busy_script[] = {
    /* 0 */ { LIST("10", CM("a", "9")), false },
    /* 1, 2: failures that grow the backoff to [1000, 2000] then [2000, 4000] ms */
    { "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
      "Connection: close\r\n\r\n" STATUS(500, "InternalError"), false },
    { "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
      "Connection: close\r\n\r\n" STATUS(500, "InternalError"), false },
    /* 3: the server is starting */
    { "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
      "Connection: close\r\n\r\n" STATUS(429, "TooManyRequests"), false },
    /* 4 */ { OK_HEAD EVENT("MODIFIED", CM("a", "11")), true },
};

static void
test_kubewatch_retries_busy_server_after_a_second(void **state)
{
    struct kubewatch_config wc = {
        .path = "/api/v1/namespaces/ns/configmaps", .timeout_min_s = 100,
        .timeout_max_s = 200, .backoff_min_ms = 1000, .backoff_max_ms = 60000,
    };
    struct watch_run run;
    uint64_t deadline;

    watch_run_start(&run, busy_script, sizeof busy_script / sizeof *busy_script, &wc);
    deadline = clock_monotonic_ms() + 15000;
    while (fake_requests(&run.f) < 5 && clock_monotonic_ms() < deadline) {
        struct timespec ts = { 0, 10000000 };

        nanosleep(&ts, NULL);
    }
    kubewatch_stop(run.w);
    assert_int_equal(fake_requests(&run.f), 5);
    /* The waits after the two 500s grew as a backoff does... */
    assert_true(run.f.at_ms[3] - run.f.at_ms[2] >= 1000);
    /* ...and the one after the 429 did not: at most a second. */
    assert_true(run.f.at_ms[4] - run.f.at_ms[3] <= 1200);
    assert_non_null(strstr(run.f.requests[4], "&resourceVersion=10"));
    watch_run_finish(&run);
}

static void
test_kubewatch_create_checks_its_arguments(void **state)
{
    static const struct kubewatch_callbacks none = { NULL, NULL, NULL };
    struct kubewatch_config wc = { .path = "/api/v1/configmaps?x=1" };
    struct kubewatch *w = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubewatch_create(NULL, &wc, &none, NULL, &w, &err), -EINVAL);
    assert_null(w);
    kubewatch_destroy(NULL);
}

static int
teardown(void **state)
{
    curl_global_cleanup();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubewatch_action_for_each_event),
        cmocka_unit_test(test_kubewatch_backoff_doubles_with_jitter_and_cap),
        cmocka_unit_test(test_kubewatch_timeout_is_random_in_range),
        cmocka_unit_test(test_kubewatch_relists_on_gone_and_resumes_after_errors),
        cmocka_unit_test(test_kubewatch_retries_busy_server_after_a_second),
        cmocka_unit_test(test_kubewatch_create_checks_its_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, teardown);
}
