/* Unit tests for kubeauth against a loopback API server (tests/lib/testhttp)
 * that answers TokenReviews and SubjectAccessReviews for a few known tokens:
 * headers refused without asking, the user passed on whole to the access
 * review, failures neither cached nor taken for a refusal, short TTLs, and the
 * metrics.  The same against a real kube-apiserver (RBAC, cache bound) is in
 * tests/integration/test_kube.c. */
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
#include <cmocka.h>

#include "exportflows/kube/kubeauth.h"
#include "../../lib/testhttp.h"
#include "../../lib/testutil.h"

#define ALICE "{\"username\":\"alice\",\"uid\":\"u1\",\"groups\":[\"ops\"]," \
              "\"extra\":{\"scopes\":[\"all\"]}}"

struct rig {
    struct testhttp http;
    struct kubeconfig *kube;
    struct metrics *metrics;
    struct kubeauth *auth;
    pthread_mutex_t lock;
    unsigned token_reviews, access_reviews;
    char access_review[2048];   /* the last SubjectAccessReview */
};

static void
token_review(int fd, const char *token)
{
    const char *status = !strcmp(token, "alice") ? "{\"authenticated\":true,\"user\":" ALICE "}"
                         : !strcmp(token, "bob") ? "{\"authenticated\":true,\"user\":"
                                                   "{\"username\":\"bob\"}}"
                         : !strcmp(token, "odd") ? "{\"authenticated\":true,\"user\":\"odd\"}"
                         : "{\"authenticated\":false}";
    char body[512];

    if (!strcmp(token, "down")) {
        testhttp_reply_status(fd, 500, "InternalError");
        return;
    }
    snprintf(body, sizeof body, "{\"kind\":\"TokenReview\",\"status\":%s}", status);
    testhttp_reply(fd, 201, "Created", body);
}

static void
serve(void *ctx, int fd, const char *request)
{
    struct rig *r = ctx;
    json_t *review = json_loads(strstr(request, "\r\n\r\n") + 4, 0, NULL);
    json_t *spec = json_object_get(review, "spec");

    pthread_mutex_lock(&r->lock);
    if (strstr(request, "/tokenreviews ")) {
        r->token_reviews++;
        pthread_mutex_unlock(&r->lock);
        token_review(fd, json_string_value(json_object_get(spec, "token")));
    } else {
        bool allowed = !strcmp(json_string_value(json_object_get(spec, "user")), "alice");

        r->access_reviews++;
        snprintf(r->access_review, sizeof r->access_review, "%s",
                 strstr(request, "\r\n\r\n") + 4);
        pthread_mutex_unlock(&r->lock);
        testhttp_reply(fd, 201, "Created", allowed ? "{\"status\":{\"allowed\":true}}"
                                                   : "{\"status\":{\"allowed\":false}}");
    }
    json_decref(review);
}

static int
setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    struct kubeauth_config c = {
        .verb = "get", .path = "/metrics", .allow_ttl_ms = 60000, .deny_ttl_ms = 200,
        .metrics_prefix = "t",
    };
    struct errmsg err = { "" };

    pthread_mutex_init(&r->lock, NULL);
    r->metrics = metrics_create();
    c.metrics = r->metrics;
    assert_int_equal(testhttp_start(&r->http, serve, r), 0);
    assert_int_equal(testhttp_kubeconfig(&r->http, &r->kube), 0);
    if (kubeauth_create(r->kube, &c, &r->auth, &err) < 0) {
        fail_msg("%s", err.text);
    }
    *state = r;
    return 0;
}

static int
teardown(void **state)
{
    struct rig *r = *state;

    kubeauth_destroy(r->auth);
    kubeconfig_destroy(r->kube);
    testhttp_stop(&r->http);
    metrics_destroy(r->metrics);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return 0;
}

static enum kubeauth_result
check(struct rig *r, const char *header)
{
    enum kubeauth_result result = 99;
    struct errmsg err = { "" };

    if (kubeauth_check(r->auth, header, &result, &err) < 0) {
        fail_msg("kubeauth_check '%s': %s", header ? header : "(none)", err.text);
    }
    return result;
}

static unsigned
reviews(struct rig *r)
{
    unsigned n;

    pthread_mutex_lock(&r->lock);
    n = r->token_reviews + r->access_reviews;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void
test_kubeauth_create_needs_a_verb_and_a_path(void **state)
{
    struct rig *r = *state;
    struct kubeauth_config c = { .verb = "get" };
    struct kubeauth *auth = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubeauth_create(r->kube, &c, &auth, &err), -EINVAL);
    assert_null(auth);
    kubeauth_destroy(NULL);
}

static void
test_kubeauth_bad_headers_are_refused_without_asking(void **state)
{
    struct rig *r = *state;
    char *big = malloc(KUBEAUTH_TOKEN_MAX + 16);

    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', KUBEAUTH_TOKEN_MAX + 1);
    big[7 + KUBEAUTH_TOKEN_MAX + 1] = '\0';
    assert_int_equal(check(r, NULL), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, ""), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, "Basic YWxpY2U6eA=="), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, "Bearer "), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, "Bearer ali ce"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, "Bearer ali\"ce"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(check(r, big), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(reviews(r), 0);
    free(big);
}

static void
test_kubeauth_passes_the_whole_user_to_the_access_review(void **state)
{
    struct rig *r = *state;
    json_t *sar, *spec;

    assert_int_equal(check(r, "Bearer alice"), KUBEAUTH_ALLOWED);
    pthread_mutex_lock(&r->lock);
    sar = json_loads(r->access_review, 0, NULL);
    pthread_mutex_unlock(&r->lock);
    spec = json_object_get(sar, "spec");
    assert_string_equal(json_string_value(json_object_get(sar, "kind")),
                        "SubjectAccessReview");
    assert_string_equal(json_string_value(json_object_get(spec, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(spec, "uid")), "u1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "groups"),
                                                         0)), "ops");
    assert_non_null(json_object_get(json_object_get(spec, "extra"), "scopes"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec,
                        "nonResourceAttributes"), "path")), "/metrics");
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec,
                        "nonResourceAttributes"), "verb")), "get");
    json_decref(sar);
    assert_int_equal(check(r, "Bearer bob"), KUBEAUTH_FORBIDDEN);
    assert_int_equal(check(r, "Bearer stranger"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(reviews(r), 5);            /* 2 + 2 + 1: a stranger needs no SAR */
    assert_int_equal(check(r, "Bearer alice"), KUBEAUTH_ALLOWED);
    assert_int_equal(reviews(r), 5);            /* cached */
}

static void
test_kubeauth_failures_are_errors_and_not_cached(void **state)
{
    struct rig *r = *state;
    enum kubeauth_result result = KUBEAUTH_ALLOWED;
    struct errmsg err = { "" };
    char *text;

    assert_int_equal(kubeauth_check(r->auth, "Bearer down", &result, &err), -EIO);
    assert_int_equal(kubeauth_check(r->auth, "Bearer down", &result, &err), -EIO);
    assert_int_equal(result, KUBEAUTH_ALLOWED);         /* not written on failure */
    assert_int_equal(reviews(r), 2);
    assert_int_equal(kubeauth_check(r->auth, "Bearer odd", &result, &err), -EPROTO);
    assert_non_null(strstr(err.text, "without a user"));
    text = metrics_render(r->metrics);
    assert_non_null(strstr(text, "t_auth_checks_total{result=\"error\"} 3"));
    assert_non_null(strstr(text, "t_auth_reviews_total{kind=\"tokenreview\"} 3"));
    assert_non_null(strstr(text, "t_auth_reviews_total{kind=\"subjectaccessreview\"} 0"));
    free(text);
}

static void
test_kubeauth_refusal_expires_after_its_ttl(void **state)
{
    struct rig *r = *state;
    struct testutil_deadline d = testutil_deadline_ms(10000);

    assert_int_equal(check(r, "Bearer bob"), KUBEAUTH_FORBIDDEN);
    assert_int_equal(check(r, "Bearer bob"), KUBEAUTH_FORBIDDEN);
    assert_int_equal(reviews(r), 2);
    /* The refusal is kept 200 ms, then asked again. */
    while (reviews(r) == 2 && !testutil_deadline_passed(&d)) {
        testutil_nap(50);
        assert_int_equal(check(r, "Bearer bob"), KUBEAUTH_FORBIDDEN);
    }
    assert_int_equal(reviews(r), 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kubeauth_create_needs_a_verb_and_a_path,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeauth_bad_headers_are_refused_without_asking,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeauth_passes_the_whole_user_to_the_access_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeauth_failures_are_errors_and_not_cached,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeauth_refusal_expires_after_its_ttl, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
