/* Unit tests for kube, the API client, against a loopback HTTP server
 * (tests/lib/testhttp) whose replies are chosen by the request path: the
 * mapping of statuses to errno values and messages, what a request sends, empty
 * and non-JSON replies, the reply cap, deadlines, interruption and streaming.
 * The same client against a real kube-apiserver (conflicts, kube_modify(),
 * server-side apply, TLS, token rotation) is tests/integration/test_kube.c. */
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
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"
#include "../../lib/testhttp.h"
#include "../../lib/testutil.h"

struct rig {
    struct testhttp http;
    struct kubeconfig *kube;
    struct kube_client *client;
    pthread_mutex_t lock;
    char last[4096];            /* the last request, head and body */
};

/* /status/<code>/<reason>, /ok, /empty, /text, /big, /hold, /stream. */
static void
serve(void *ctx, int fd, const char *request)
{
    struct rig *r = ctx;
    const char *path = strchr(request, ' ') + 1;
    char big[3000];
    int code;

    pthread_mutex_lock(&r->lock);
    snprintf(r->last, sizeof r->last, "%s", request);
    pthread_mutex_unlock(&r->lock);
    if (sscanf(path, "/status/%d/", &code) == 1) {
        char reason[64];

        sscanf(strchr(path + 8, '/') + 1, "%63[A-Za-z]", reason);
        testhttp_reply_status(fd, code, reason);
    } else if (!strncmp(path, "/ok", 3)) {
        testhttp_reply(fd, 200, "OK", "{\"kind\":\"ConfigMap\",\"data\":{\"k\":\"v\"}}");
    } else if (!strncmp(path, "/empty", 6)) {
        testhttp_reply(fd, 200, "OK", "");
    } else if (!strncmp(path, "/text", 5)) {
        testhttp_reply(fd, 200, "OK", "<html>not json</html>");
    } else if (!strncmp(path, "/big", 4)) {
        memset(big, ' ', sizeof big - 3);
        memcpy(big + sizeof big - 3, "{}", 3);
        testhttp_reply(fd, 200, "OK", big);
    } else if (!strncmp(path, "/hold", 5)) {
        testhttp_wait_readable(&r->http, r->http.quit[0], TESTHTTP_WAIT_MS);
    } else if (!strncmp(path, "/stream", 7)) {
        static const char head[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";

        if (write(fd, head, strlen(head)) > 0 && write(fd, "{\"a\":1}\n", 8) > 0) {
            testhttp_wait_readable(&r->http, r->http.quit[0], 100);
            if (write(fd, "{\"b\":2}\n", 8) < 0) {
                return;
            }
        }
    }
}

static int
setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    struct errmsg err = { "" };

    pthread_mutex_init(&r->lock, NULL);
    assert_int_equal(testhttp_start(&r->http, serve, r), 0);
    assert_int_equal(testhttp_kubeconfig(&r->http, &r->kube), 0);
    if (kube_client_create(r->kube, &r->client, &err) < 0) {
        fail_msg("%s", err.text);
    }
    *state = r;
    return 0;
}

static int
teardown(void **state)
{
    struct rig *r = *state;

    kube_client_destroy(r->client);
    kubeconfig_destroy(r->kube);
    testhttp_stop(&r->http);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return 0;
}

static void
test_kube_path_and_names(void **state)
{
    char buf[16];

    (void) state;
    assert_int_equal(kube_path(buf, sizeof buf, "/api/%s", "v1"), 0);
    assert_string_equal(buf, "/api/v1");
    assert_int_equal(kube_path(buf, sizeof buf, "/api/v1/%s", "namespaces"), -ENAMETOOLONG);
    assert_true(kube_name_valid("exportflows-status.v1", KUBE_NAME_MAX));
    assert_true(kube_name_valid("a", 1));
    assert_false(kube_name_valid("ab", 1));
    assert_false(kube_name_valid("", KUBE_NAME_MAX));
    assert_false(kube_name_valid(NULL, KUBE_NAME_MAX));
    assert_false(kube_name_valid("Upper", KUBE_NAME_MAX));
    assert_false(kube_name_valid("-a", KUBE_NAME_MAX));
    assert_false(kube_name_valid("a.", KUBE_NAME_MAX));
    assert_false(kube_name_valid("a/b", KUBE_NAME_MAX));
}

static void
test_kube_meta_reads_metadata_members(void **state)
{
    json_t *obj = json_pack("{s:{s:s, s:i}, s:s}", "metadata", "name", "a", "generation", 3,
                            "name", "outside");

    (void) state;
    assert_non_null(obj);
    assert_string_equal(kube_meta_string(obj, "name"), "a");
    assert_int_equal(json_integer_value(kube_meta(obj, "generation")), 3);
    assert_null(kube_meta_string(obj, "generation"));
    assert_null(kube_meta(obj, "namespace"));
    assert_null(kube_meta_string(json_object_get(obj, "name"), "name"));
    assert_null(kube_meta(NULL, "name"));
    json_decref(obj);
}

static void
test_kube_statuses_map_to_errno(void **state)
{
    static const struct { int code; const char *reason; int want; } cases[] = {
        { 400, "BadRequest", -EINVAL }, { 401, "Unauthorized", -EACCES },
        { 403, "Forbidden", -EACCES }, { 404, "NotFound", -ENOENT },
        { 405, "MethodNotAllowed", -EOPNOTSUPP }, { 409, "AlreadyExists", -EEXIST },
        { 409, "Conflict", -EAGAIN }, { 410, "Expired", -ESTALE },
        { 413, "RequestEntityTooLarge", -E2BIG }, { 415, "UnsupportedMediaType", -EINVAL },
        { 422, "Invalid", -EINVAL }, { 429, "TooManyRequests", -EBUSY },
        { 418, "Teapot", -EPROTO }, { 500, "InternalError", -EIO },
        { 503, "ServiceUnavailable", -EIO },
    };
    struct rig *r = *state;
    struct errmsg err = { "" };
    char path[64], want[128];
    json_t *reply = NULL;
    long status = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/status/%d/%s", cases[i].code, cases[i].reason);
        if (kube_request(r->client, "GET", path, NULL, NULL, 5000, &status, &reply,
                         &err) != cases[i].want) {
            fail_msg("%s: %s", path, err.text);
        }
        assert_int_equal(status, cases[i].code);
        snprintf(want, sizeof want, "GET %s: %d %s: %s", path, cases[i].code,
                 cases[i].reason, cases[i].reason);
        assert_string_equal(err.text, want);
        assert_null(reply);
    }
    assert_int_equal(kube_client_requests(r->client), sizeof cases / sizeof cases[0]);
}

static void
test_kube_request_sends_json_and_parses_the_reply(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };
    json_t *body = json_pack("{s:s}", "name", "x"), *reply = NULL;

    assert_int_equal(kube_create(r->client, "/ok", body, 5000, &reply, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(reply, "data"),
                                                          "k")), "v");
    json_decref(reply);
    pthread_mutex_lock(&r->lock);
    assert_memory_equal(r->last, "POST /ok HTTP/1.1", 17);
    assert_non_null(strstr(r->last, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r->last, "\r\n\r\n{\"name\":\"x\"}"));
    pthread_mutex_unlock(&r->lock);
    assert_int_equal(kube_apply(r->client, "/ok", body, "exportflows", true, 5000, NULL,
                                &err), 0);
    pthread_mutex_lock(&r->lock);
    assert_memory_equal(r->last, "PATCH /ok?fieldManager=exportflows&force=true ", 46);
    assert_non_null(strstr(r->last, "Content-Type: application/apply-patch+yaml\r\n"));
    pthread_mutex_unlock(&r->lock);
    json_decref(body);
}

static void
test_kube_empty_reply_is_null_and_other_text_an_error(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };
    json_t *reply = NULL;

    assert_int_equal(kube_get(r->client, "/empty", 5000, &reply, &err), 0);
    assert_true(json_is_null(reply));
    json_decref(reply);
    reply = NULL;
    assert_int_equal(kube_get(r->client, "/text", 5000, &reply, &err), -EPROTO);
    assert_non_null(strstr(err.text, "not JSON"));
    assert_null(reply);
    kube_client_set_max_body(r->client, 1000);
    assert_int_equal(kube_get(r->client, "/big", 5000, &reply, &err), -EMSGSIZE);
    assert_non_null(strstr(err.text, "larger than 1000 bytes"));
    kube_client_set_max_body(r->client, 0);
    assert_int_equal(kube_get(r->client, "/big", 5000, &reply, &err), 0);
    json_decref(reply);
}

static void
test_kube_deadline_ends_a_silent_call(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };
    uint64_t start = clock_monotonic_ms();

    assert_int_equal(kube_get(r->client, "/hold", 300, NULL, &err), -ETIMEDOUT);
    assert_true(clock_monotonic_ms() - start < 5000);
}

static void *
interrupt_soon(void *aux)
{
    testutil_nap(100);
    kube_client_interrupt(aux);
    return NULL;
}

static void
test_kube_interrupt_is_prompt_and_sticky(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };
    uint64_t start = clock_monotonic_ms();
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, interrupt_soon, r->client), 0);
    assert_int_equal(kube_get(r->client, "/hold", 20000, NULL, &err), -ECANCELED);
    pthread_join(t, NULL);
    assert_true(clock_monotonic_ms() - start < 5000);
    assert_non_null(strstr(err.text, "interrupted"));
    assert_int_equal(kube_get(r->client, "/ok", 5000, NULL, &err), -ECANCELED);
}

struct pieces {
    char text[64];
    int stop_with;              /* returned by the callback when not 0 */
};

static int
collect(void *ctx, const char *data, size_t len)
{
    struct pieces *p = ctx;
    size_t used = strlen(p->text);

    snprintf(p->text + used, sizeof p->text - used, "%.*s", (int) len, data);
    return p->stop_with;
}

static void
test_kube_stream_hands_over_the_body(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };
    struct pieces p = { "", 0 };
    long status = 0;

    assert_int_equal(kube_stream(r->client, "/stream", 10000, 0, collect, &p, &status,
                                 &err), 0);
    assert_int_equal(status, 200);
    assert_string_equal(p.text, "{\"a\":1}\n{\"b\":2}\n");
    p = (struct pieces) { "", -EBADMSG };
    assert_int_equal(kube_stream(r->client, "/stream", 10000, 0, collect, &p, NULL, &err),
                     -EBADMSG);
    assert_string_equal(p.text, "{\"a\":1}\n");
    assert_int_equal(kube_stream(r->client, "/status/410/Expired", 10000, 0, collect, &p,
                                 &status, &err), -ESTALE);
    assert_int_equal(status, 410);
}

static void
test_kube_refused_connection(void **state)
{
    struct rig *r = *state;
    struct errmsg err = { "" };

    testhttp_stop(&r->http);
    assert_int_equal(kube_get(r->client, "/ok", 5000, NULL, &err), -ECONNREFUSED);
    assert_non_null(strstr(err.text, "GET /ok"));
    assert_int_equal(testhttp_start(&r->http, serve, r), 0);   /* for the teardown */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_path_and_names),
        cmocka_unit_test(test_kube_meta_reads_metadata_members),
        cmocka_unit_test_setup_teardown(test_kube_statuses_map_to_errno, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_request_sends_json_and_parses_the_reply,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_empty_reply_is_null_and_other_text_an_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kube_deadline_ends_a_silent_call, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kube_interrupt_is_prompt_and_sticky, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kube_stream_hands_over_the_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kube_refused_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
