/* Integration tests of bin/exportflows-webhook: the real program on port 0 with
 * certificates from certs_generate(), driven through libcurl that verifies the
 * CA.  Each test starts its own webhook, so they are independent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "exportflows/http/certs.h"
#include "../lib/testbody.h"
#include "../lib/testcurl.h"
#include "../lib/testproc.h"
#include "../lib/testtls.h"
#include "../lib/testutil.h"

#define DATA_DIR "tests/data/admission"
#define START_TIMEOUT_MS 10000
#define EXIT_TIMEOUT_MS 15000

/* One running webhook and the files it uses.  The certificate directory is laid
 * out as Kubernetes lays out a secret volume: tls.crt -> ..data/tls.crt,
 * ..data -> ..<version>, so that a swap is one rename of a symlink. */
struct webhook {
    char *dir;                  /* temp dir, removed at the end */
    char *secret;               /* <dir>/secret: the mounted volume */
    char *ca_bundle;            /* every CA generated so far, for clients */
    unsigned n_versions;
    struct testproc proc;
    int port;                   /* HTTPS */
    int health_port;            /* plain HTTP */
};

/* Generates certificate version 'n' into <secret>/..v<n> and appends its CA to
 * the bundle the clients trust. */
static void
generate_version(struct webhook *w, unsigned n)
{
    static const char *const sans[] = { "127.0.0.1", "localhost" };
    struct certs_request req = { "exportflows-webhook", "exportflows", sans, 2, 2 };
    struct errmsg err = { "" };
    char name[32], *dir, *ca_path, *ca, *bundle;
    size_t ca_len, bundle_len = 0;

    snprintf(name, sizeof name, "..v%u", n);
    dir = testutil_path(w->secret, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    if (certs_generate(dir, &req, &err)) {
        fail_msg("certs_generate: %s", err.text);
    }
    ca_path = testutil_path(dir, "ca.crt");
    ca = testutil_read_file(ca_path, &ca_len);
    assert_non_null(ca);
    bundle = testutil_read_file(w->ca_bundle, &bundle_len);
    bundle = realloc(bundle, bundle_len + ca_len + 1);
    assert_non_null(bundle);
    memcpy(bundle + bundle_len, ca, ca_len + 1);
    assert_int_equal(testutil_write_file(w->ca_bundle, bundle, bundle_len + ca_len), 0);
    free(bundle);
    free(ca);
    free(ca_path);
    free(dir);
}

/* Points <secret>/..data at version 'n' atomically (symlink + rename). */
static void
activate_version(struct webhook *w, unsigned n)
{
    char target[32];
    char *tmp = testutil_path(w->secret, "..data_tmp");
    char *data = testutil_path(w->secret, "..data");

    snprintf(target, sizeof target, "..v%u", n);
    unlink(tmp);
    assert_int_equal(symlink(target, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
    free(data);
    free(tmp);
}

static void
link_file(struct webhook *w, const char *name)
{
    char target[64];
    char *path = testutil_path(w->secret, name);

    snprintf(target, sizeof target, "..data/%s", name);
    assert_int_equal(symlink(target, path), 0);
    free(path);
}

static void
prepare_certificates(struct webhook *w)
{
    w->dir = testutil_tempdir("webhook");
    assert_non_null(w->dir);
    w->secret = testutil_path(w->dir, "secret");
    w->ca_bundle = testutil_path(w->dir, "ca-bundle.crt");
    assert_int_equal(mkdir(w->secret, 0755), 0);
    assert_int_equal(testutil_write_file(w->ca_bundle, "", 0), 0);
    generate_version(w, ++w->n_versions);
    activate_version(w, w->n_versions);
    link_file(w, "tls.crt");
    link_file(w, "tls.key");
    link_file(w, "ca.crt");
}

/* Starts the webhook with the given extra arguments (NULL-terminated list). */
static void
webhook_start_args(struct webhook *w, const char *const *extra)
{
    char *bin = testutil_bin("exportflows-webhook");
    char *cert = testutil_path(w->secret, "tls.crt");
    char *key = testutil_path(w->secret, "tls.key");
    char *log = testutil_path(w->dir, "webhook.log");
    const char *argv[32] = {
        bin, "--tls-cert-file", cert, "--tls-private-key-file", key,
        "--listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0", "--no-publish",
    };
    size_t n = 10;

    for (; extra && *extra && n + 1 < sizeof argv / sizeof argv[0]; extra++) {
        argv[n++] = *extra;
    }
    assert_int_equal(testproc_start(&w->proc, argv, NULL, log), 0);
    w->port = testproc_listen_port(&w->proc, "server=https", START_TIMEOUT_MS);
    w->health_port = testproc_listen_port(&w->proc, "server=health", START_TIMEOUT_MS);
    if (w->port <= 0 || w->health_port <= 0) {
        char *text = testutil_read_file(log, NULL);

        fail_msg("webhook did not start (%d, %d); log:\n%s", w->port, w->health_port,
                 text ? text : "(none)");
    }
    free(log);
    free(key);
    free(cert);
    free(bin);
}

static int
setup(void **state)
{
    struct webhook *w = calloc(1, sizeof *w);

    assert_non_null(w);
    prepare_certificates(w);
    *state = w;
    return 0;
}

static int
teardown(void **state)
{
    struct webhook *w = *state;

    testproc_release(&w->proc);
    testutil_rmtree(w->dir);
    free(w->dir);
    free(w->secret);
    free(w->ca_bundle);
    free(w);
    return 0;
}

static char *
case_body(const char *name, size_t *len)
{
    char path[256];
    char *body;

    snprintf(path, sizeof path, DATA_DIR "/%s/request.json", name);
    body = testutil_read_file(path, len);
    assert_non_null(body);
    return body;
}

/* POSTs a data case to /validate<query> and returns the reply. */
static void
post_case(struct webhook *w, CURL *curl, const char *name, const char *query,
          struct testcurl_reply *reply)
{
    char url[256], path[128];
    size_t len;
    char *body = case_body(name, &len);

    snprintf(path, sizeof path, "/validate%s", query ? query : "");
    assert_int_equal(testcurl_request(curl, "POST", testcurl_url(url, sizeof url, "https",
                                                                 w->port, path),
                                      "application/json", body, len, reply), CURLE_OK);
    free(body);
}

static json_t *
reply_json(const struct testcurl_reply *reply)
{
    json_t *json = json_loadb(reply->body, reply->len, JSON_REJECT_DUPLICATES, NULL);

    if (!json) {
        fail_msg("reply is not JSON: %s", reply->body ? reply->body : "(empty)");
    }
    return json;
}

static const json_t *
response_of(const json_t *review)
{
    return json_object_get(review, "response");
}

static void
test_webhook_allows_proposal(void **state)
{
    struct webhook *w = *state;
    CURL *curl = testcurl_new(w->ca_bundle);
    struct testcurl_reply reply;
    const char *review_line[] = { " review ", "uid=705ab4f5-6393-11e8-b7cc-42010a800002",
                                  "operation=CREATE", "name=cluster", "allowed=true",
                                  "errors=0", "duration_us=", NULL };
    char value[64];
    json_t *json;

    webhook_start_args(w, NULL);
    post_case(w, curl, "allowed-proposal", NULL, &reply);
    assert_int_equal(reply.code, 200);
    assert_string_equal(reply.content_type, "application/json");
    json = reply_json(&reply);
    assert_string_equal(json_string_value(json_object_get(json, "kind")), "AdmissionReview");
    assert_string_equal(json_string_value(json_object_get(response_of(json), "uid")),
                        "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_true(json_is_true(json_object_get(response_of(json), "allowed")));
    assert_null(json_object_get(response_of(json), "patch"));
    assert_int_equal(testproc_wait_log(&w->proc, review_line, "duration_us", value,
                                       sizeof value, 5000), 0);
    json_decref(json);
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
}

static void
test_webhook_denies_duplicate(void **state)
{
    struct webhook *w = *state;
    CURL *curl = testcurl_new(w->ca_bundle);
    struct testcurl_reply reply;
    const json_t *status, *cause;
    json_t *json;

    webhook_start_args(w, NULL);
    post_case(w, curl, "denied-duplicate", "?timeout=10s", &reply);
    assert_int_equal(reply.code, 200);
    json = reply_json(&reply);
    assert_true(json_is_false(json_object_get(response_of(json), "allowed")));
    status = json_object_get(response_of(json), "status");
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 422);
    assert_string_equal(json_string_value(json_object_get(status, "reason")), "Invalid");
    cause = json_array_get(json_object_get(json_object_get(status, "details"), "causes"), 0);
    assert_string_equal(json_string_value(json_object_get(cause, "field")),
                        "spec.exportNetworkFlows.netFlow[2]");
    assert_string_equal(json_string_value(json_object_get(cause, "message")),
                        "Duplicate value: \"172.30.158.150:2056\" (same as netFlow[0])");
    json_decref(json);
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
}

/* "\u0000" in a string the review does not read (an annotation value, which
 * Kubernetes stores as given) is reviewed like any request, on one
 * connection with the rest; one in a collector is a field error, one in the
 * uid a 400 that says why. */
static void
test_webhook_reviews_nul_strings(void **state)
{
    struct webhook *w = *state;
    CURL *curl = testcurl_new(w->ca_bundle);
    const char *review_line[] = { " review ", "uid=705ab4f5-6393-11e8-b7cc-42010a800002",
                                  "operation=CREATE", "allowed=false", "errors=1", NULL };
    struct testcurl_reply reply;
    const json_t *cause;
    json_t *json;

    webhook_start_args(w, NULL);
    post_case(w, curl, "allowed-nul-in-annotation", NULL, &reply);
    assert_int_equal(reply.code, 200);
    json = reply_json(&reply);
    assert_string_equal(json_string_value(json_object_get(response_of(json), "uid")),
                        "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_true(json_is_true(json_object_get(response_of(json), "allowed")));
    json_decref(json);
    testcurl_reply_release(&reply);

    post_case(w, curl, "denied-nul-in-collector", NULL, &reply);
    assert_int_equal(reply.code, 200);
    json = reply_json(&reply);
    assert_true(json_is_false(json_object_get(response_of(json), "allowed")));
    cause = json_array_get(json_object_get(json_object_get(json_object_get(
        response_of(json), "status"), "details"), "causes"), 0);
    assert_string_equal(json_string_value(json_object_get(cause, "field")),
                        "spec.exportNetworkFlows.netFlow[0]");
    assert_string_equal(json_string_value(json_object_get(cause, "message")),
                        "Invalid value: \"10.0.0.1:2056\\u0000junk\": "
                        "must not contain a NUL character");
    assert_int_equal(testproc_wait_log(&w->proc, review_line, NULL, NULL, 0, 5000), 0);
    json_decref(json);
    testcurl_reply_release(&reply);

    post_case(w, curl, "bad-nul-in-uid", NULL, &reply);
    assert_int_equal(reply.code, 400);
    assert_string_equal(reply.body, "request.uid must not contain a NUL character\n");
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
}

/* Sends one request and checks its status code. */
static void
expect_status(CURL *curl, const char *method, const char *url, const char *type,
              const char *body, size_t len, long code)
{
    struct testcurl_reply reply;
    int rc = testcurl_request(curl, method, url, type, body, len, &reply);

    if (rc != CURLE_OK || reply.code != code) {
        fail_msg("%s %s: curl %d, HTTP %ld, want %ld: %s", method, url, rc, reply.code, code,
                 reply.body ? reply.body : "");
    }
    testcurl_reply_release(&reply);
}

static void
test_webhook_http_errors(void **state)
{
    static const char *const args[] = { "--max-body-bytes", "65536", NULL };
    struct webhook *w = *state;
    CURL *curl = testcurl_new(w->ca_bundle);
    struct testcurl_reply reply;
    char url[256], bad_timeout[256];
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);

    assert_non_null(big);
    memset(big, ' ', big_len);
    webhook_start_args(w, args);
    testcurl_url(url, sizeof url, "https", w->port, "/validate");
    testcurl_url(bad_timeout, sizeof bad_timeout, "https", w->port, "/validate?timeout=ten");

    /* 400 with a one-line reason. */
    post_case(w, curl, "bad-kind", NULL, &reply);
    assert_int_equal(reply.code, 400);
    assert_string_equal(reply.body, "kind must be \"AdmissionReview\"\n");
    testcurl_reply_release(&reply);
    expect_status(curl, "POST", url, "application/json", "{\"a\":1,\"a\":2}", 13, 400);
    expect_status(curl, "POST", bad_timeout, "application/json", "{}", 2, 400);
    expect_status(curl, "POST", testcurl_url(url, sizeof url, "https", w->port, "/nope"),
                  "application/json", "{}", 2, 404);
    testcurl_url(url, sizeof url, "https", w->port, "/validate");
    expect_status(curl, "GET", url, NULL, NULL, 0, 405);
    expect_status(curl, "PUT", url, "application/json", "{}", 2, 405);
    expect_status(curl, "POST", url, "text/plain", "{}", 2, 415);
    expect_status(curl, "POST", url, "application/json", big, big_len, 413);
    /* The server still answers on a fresh connection after all that. */
    curl_easy_cleanup(curl);
    curl = testcurl_new(w->ca_bundle);
    post_case(w, curl, "allowed-proposal", NULL, &reply);
    assert_int_equal(reply.code, 200);
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
    free(big);
}

static void
test_webhook_keepalive_reuses_connection(void **state)
{
    struct webhook *w = *state;
    CURL *curl = testcurl_new(w->ca_bundle);

    webhook_start_args(w, NULL);
    for (int i = 0; i < 20; i++) {
        struct testcurl_reply reply;

        post_case(w, curl, i % 2 ? "allowed-proposal" : "denied-duplicate", NULL, &reply);
        assert_int_equal(reply.code, 200);
        if (i > 0) {
            assert_int_equal(testcurl_connects(curl), 0);
        } else {
            assert_int_equal(testcurl_connects(curl), 1);
        }
        testcurl_reply_release(&reply);
    }
    curl_easy_cleanup(curl);
}

/* ---- certificate swap under concurrent requests ------------------------- */

struct load {
    struct webhook *w;
    atomic_bool stop;
    atomic_uint ok;
    atomic_uint failed;
    char first_error[256];
    pthread_mutex_t lock;
};

/* Posts reviews until told to stop; each tenth request on a fresh connection so
 * new handshakes happen throughout the swap. */
static void *
load_thread(void *aux)
{
    struct load *load = aux;
    CURL *curl = NULL;

    for (unsigned i = 0; !atomic_load(&load->stop); i++) {
        struct testcurl_reply reply;
        char url[128];
        size_t len;
        char *body = case_body("allowed-proposal", &len);
        int rc;

        if (i % 10 == 0) {
            if (curl) {
                curl_easy_cleanup(curl);
            }
            curl = testcurl_new(load->w->ca_bundle);
        }
        rc = testcurl_request(curl, "POST", testcurl_url(url, sizeof url, "https",
                                                         load->w->port, "/validate"),
                              "application/json", body, len, &reply);
        if (rc == CURLE_OK && reply.code == 200) {
            atomic_fetch_add(&load->ok, 1);
        } else {
            pthread_mutex_lock(&load->lock);
            if (!load->first_error[0]) {
                snprintf(load->first_error, sizeof load->first_error, "curl %d (%s), HTTP %ld",
                         rc, curl_easy_strerror((CURLcode) rc), reply.code);
            }
            pthread_mutex_unlock(&load->lock);
            atomic_fetch_add(&load->failed, 1);
        }
        testcurl_reply_release(&reply);
        free(body);
    }
    curl_easy_cleanup(curl);
    return NULL;
}

/* True when a client trusting only version 'n''s CA gets through. */
static bool
serves_version(struct webhook *w, unsigned n)
{
    char ca[64], url[128];
    char *path;
    CURL *curl;
    struct testcurl_reply reply;
    int rc;

    snprintf(ca, sizeof ca, "..v%u/ca.crt", n);
    path = testutil_path(w->secret, ca);
    curl = testcurl_new(path);
    rc = testcurl_request(curl, "GET", testcurl_url(url, sizeof url, "https", w->port,
                                                    "/healthz"), NULL, NULL, 0, &reply);
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
    free(path);
    return rc == CURLE_OK;
}

static void
test_webhook_certificate_swap_under_load(void **state)
{
    struct webhook *w = *state;
    struct load load = { .w = w };
    struct testutil_deadline d;
    pthread_t threads[4];
    char url[128];
    struct testcurl_reply reply;
    CURL *curl;
    unsigned before;

    webhook_start_args(w, NULL);
    pthread_mutex_init(&load.lock, NULL);
    generate_version(w, 2);     /* bundle now trusts both CAs */
    assert_true(serves_version(w, 1));
    assert_false(serves_version(w, 2));
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, load_thread, &load), 0);
    }
    d = testutil_deadline_ms(5000);
    while (atomic_load(&load.ok) < 50 && !testutil_deadline_passed(&d)) {
        testutil_nap(5);
    }
    activate_version(w, 2);
    d = testutil_deadline_ms(15000);
    while (!serves_version(w, 2) && !testutil_deadline_passed(&d)) {
        testutil_nap(20);
    }
    before = atomic_load(&load.ok);
    d = testutil_deadline_ms(5000);
    while (atomic_load(&load.ok) < before + 50 && !testutil_deadline_passed(&d)) {
        testutil_nap(5);
    }
    atomic_store(&load.stop, true);
    for (size_t i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    print_message("swap: %u requests ok, %u failed\n", atomic_load(&load.ok),
                  atomic_load(&load.failed));
    if (atomic_load(&load.failed)) {
        fail_msg("%u requests failed during the swap, first: %s",
                 atomic_load(&load.failed), load.first_error);
    }
    assert_true(serves_version(w, 2));
    assert_false(serves_version(w, 1));
    assert_true(atomic_load(&load.ok) >= before + 50);
    /* The reload shows in the metrics. */
    curl = testcurl_new(NULL);
    assert_int_equal(testcurl_request(curl, "GET", testcurl_url(url, sizeof url, "http",
                                                                w->health_port, "/metrics"),
                                      NULL, NULL, 0, &reply), CURLE_OK);
    assert_null(strstr(reply.body, "exportflows_webhook_tls_reloads_total{result=\"success\"} 0"));
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
    pthread_mutex_destroy(&load.lock);
}

/* ---- SIGTERM drain ------------------------------------------------------- */

/* A request body handed to curl in two parts: the second only once the test
 * says so, which keeps the request in flight across the SIGTERM. */
struct slow_body {
    const char *data;
    size_t len, sent, split;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool release;
    bool first_sent;
    CURL *curl;
    int port;
    const char *ca;
    int rc;
    struct testcurl_reply reply;
};

static size_t
slow_read(char *buf, size_t size, size_t n, void *aux)
{
    struct slow_body *b = aux;
    size_t room = size * n, chunk;

    pthread_mutex_lock(&b->lock);
    if (b->sent == b->split) {
        b->first_sent = true;
        pthread_cond_broadcast(&b->cond);
        while (!b->release) {
            pthread_cond_wait(&b->cond, &b->lock);
        }
    }
    pthread_mutex_unlock(&b->lock);
    chunk = (b->sent < b->split ? b->split : b->len) - b->sent;
    if (chunk > room) {
        chunk = room;
    }
    memcpy(buf, b->data + b->sent, chunk);
    b->sent += chunk;
    return chunk;
}

static void *
slow_client(void *aux)
{
    struct slow_body *b = aux;
    struct curl_slist *headers = NULL;
    char url[128];

    b->curl = testcurl_new(b->ca);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(b->curl, CURLOPT_URL, testcurl_url(url, sizeof url, "https", b->port,
                                                        "/validate"));
    curl_easy_setopt(b->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(b->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(b->curl, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(b->curl, CURLOPT_READDATA, b);
    curl_easy_setopt(b->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) b->len);
    curl_easy_setopt(b->curl, CURLOPT_WRITEDATA, &b->reply);
    b->rc = curl_easy_perform(b->curl);
    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &b->reply.code);
    curl_easy_cleanup(b->curl);
    curl_slist_free_all(headers);
    return NULL;
}

static void
test_webhook_sigterm_drains(void **state)
{
    struct webhook *w = *state;
    struct slow_body b = { .ca = w->ca_bundle };
    const char *const shutting_down[] = { " shutting down ", NULL };
    char value[32], url[128];
    struct testcurl_reply idle_reply;
    CURL *idle;
    pthread_t thread;
    int code = -1;
    char *body;

    webhook_start_args(w, NULL);
    body = case_body("allowed-proposal", &b.len);
    b.data = body;
    b.split = b.len / 2;
    b.port = w->port;
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    /* An idle keep-alive connection must not hold up the exit. */
    idle = testcurl_new(w->ca_bundle);
    assert_int_equal(testcurl_request(idle, "GET", testcurl_url(url, sizeof url, "https",
                                                                w->port, "/healthz"),
                                      NULL, NULL, 0, &idle_reply), CURLE_OK);
    assert_int_equal(idle_reply.code, 200);
    testcurl_reply_release(&idle_reply);

    assert_int_equal(pthread_create(&thread, NULL, slow_client, &b), 0);
    pthread_mutex_lock(&b.lock);
    while (!b.first_sent) {
        pthread_cond_wait(&b.cond, &b.lock);
    }
    pthread_mutex_unlock(&b.lock);
    /* The headers and half the body are sent: the request is in flight. */
    assert_int_equal(testproc_signal(&w->proc, SIGTERM), 0);
    assert_int_equal(testproc_wait_log(&w->proc, shutting_down, "signal", value, sizeof value,
                                       5000), 0);
    assert_string_equal(value, "SIGTERM");
    assert_false(testproc_poll(&w->proc));
    pthread_mutex_lock(&b.lock);
    b.release = true;
    pthread_cond_broadcast(&b.cond);
    pthread_mutex_unlock(&b.lock);
    pthread_join(thread, NULL);
    assert_int_equal(b.rc, CURLE_OK);
    assert_int_equal(b.reply.code, 200);
    assert_non_null(strstr(b.reply.body, "\"allowed\":true"));
    assert_int_equal(testproc_wait(&w->proc, EXIT_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    testcurl_reply_release(&b.reply);
    curl_easy_cleanup(idle);
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    free(body);
}

/* ---- health endpoints ---------------------------------------------------- */

static void
check_health(CURL *curl, const char *scheme, int port)
{
    static const char *const names[] = {
        "exportflows_webhook_admission_reviews_total{result=\"allowed\"} ",
        "exportflows_webhook_admission_reviews_total{result=\"denied\"} ",
        "exportflows_webhook_admission_reviews_total{result=\"error\"} ",
        "exportflows_webhook_admission_review_duration_seconds_bucket",
        "exportflows_webhook_http_requests_total{code=\"200\"}",
        "exportflows_webhook_tls_certificate_not_after_seconds ",
        "exportflows_webhook_build_info{",
    };
    struct testcurl_reply reply;
    char url[128];

    assert_int_equal(testcurl_request(curl, "GET", testcurl_url(url, sizeof url, scheme, port,
                                                                "/healthz"),
                                      NULL, NULL, 0, &reply), CURLE_OK);
    assert_int_equal(reply.code, 200);
    testcurl_reply_release(&reply);
    assert_int_equal(testcurl_request(curl, "GET", testcurl_url(url, sizeof url, scheme, port,
                                                                "/readyz"),
                                      NULL, NULL, 0, &reply), CURLE_OK);
    assert_int_equal(reply.code, 200);
    testcurl_reply_release(&reply);
    assert_int_equal(testcurl_request(curl, "GET", testcurl_url(url, sizeof url, scheme, port,
                                                                "/metrics"),
                                      NULL, NULL, 0, &reply), CURLE_OK);
    assert_int_equal(reply.code, 200);
    assert_non_null(strstr(reply.content_type, "text/plain"));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strstr(reply.body, names[i])) {
            fail_msg("%s://.../metrics lacks %s", scheme, names[i]);
        }
    }
    assert_non_null(strstr(reply.body,
                           "exportflows_webhook_admission_reviews_total{result=\"denied\"} 1"));
    testcurl_reply_release(&reply);
}

static void
test_webhook_health_endpoints(void **state)
{
    struct webhook *w = *state;
    CURL *https = testcurl_new(w->ca_bundle);
    CURL *http = testcurl_new(NULL);
    struct testcurl_reply reply;

    webhook_start_args(w, NULL);
    post_case(w, https, "denied-duplicate", NULL, &reply);
    assert_int_equal(reply.code, 200);
    testcurl_reply_release(&reply);
    check_health(https, "https", w->port);
    check_health(http, "http", w->health_port);
    curl_easy_cleanup(http);
    curl_easy_cleanup(https);
}

/* ---- certificate reloads that are refused ------------------------------- */

/* The value of 'sample' (name and labels, e.g. "x_total{result=\"failure\"}")
 * on the health port's /metrics; -1 when it is not there. */
static double
metric_value(struct webhook *w, const char *sample)
{
    CURL *curl = testcurl_new(NULL);
    struct testcurl_reply reply;
    char url[128];
    double value = -1;

    if (testcurl_request(curl, "GET", testcurl_url(url, sizeof url, "http", w->health_port,
                                                   "/metrics"),
                         NULL, NULL, 0, &reply) == CURLE_OK && reply.code == 200) {
        size_t len = strlen(sample);

        for (const char *line = reply.body; line; line = strchr(line, '\n')) {
            line += *line == '\n';
            if (!strncmp(line, sample, len) && line[len] == ' ') {
                value = strtod(line + len + 1, NULL);
                break;
            }
        }
    }
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
    return value;
}

#define RELOAD_FAILURES "exportflows_webhook_tls_reloads_total{result=\"failure\"}"

static void
wait_metric_at_least(struct webhook *w, const char *sample, double want)
{
    struct testutil_deadline d = testutil_deadline_ms(15000);

    while (metric_value(w, sample) < want && !testutil_deadline_passed(&d)) {
        testutil_nap(50);
    }
    if (metric_value(w, sample) < want) {
        fail_msg("%s is %g, want at least %g", sample, metric_value(w, sample), want);
    }
}

/* Copies <secret>/..v<from>/<name> to <secret>/..v<to>/<name>. */
static void
copy_version_file(struct webhook *w, unsigned from, unsigned to, const char *name)
{
    char src_name[64], dst_name[64];
    char *src, *dst, *text;
    size_t len;

    snprintf(src_name, sizeof src_name, "..v%u/%s", from, name);
    snprintf(dst_name, sizeof dst_name, "..v%u/%s", to, name);
    src = testutil_path(w->secret, src_name);
    dst = testutil_path(w->secret, dst_name);
    text = testutil_read_file(src, &len);
    assert_non_null(text);
    unlink(dst);
    assert_int_equal(testutil_write_file(dst, text, len), 0);
    free(text);
    free(dst);
    free(src);
}

/* The refused pair was counted and logged with its reason, and a client that
 * trusts only the first CA is still served: the old pair stayed. */
static void
assert_reload_refused(struct webhook *w, const char *reason)
{
    const char *const line[] = { "cannot reload certificate, keeping the old one",
                                 "trigger=\"file change\"", reason, NULL };
    char value[16];

    wait_metric_at_least(w, RELOAD_FAILURES, 1);
    if (testproc_wait_log(&w->proc, line, "trigger", value, sizeof value, 5000)) {
        char *log = testutil_read_file(w->proc.log_path, NULL);

        fail_msg("no log line with '%s'; log:\n%s", reason, log ? log : "(none)");
    }
    assert_true(serves_version(w, 1));
    assert_int_equal(metric_value(w, "exportflows_webhook_tls_reloads_total"
                                     "{result=\"success\"}"), 0);
}

/* Trickles a request's headers over TLS 1.2 (on which the server sends nothing
 * unasked) a byte every 300 ms; true when the server cut the connection within
 * 'ms'. */
static bool
slow_headers_cut_within(struct webhook *w, unsigned ms)
{
    const struct testtls_offer tls12 = { .max_version = TLS1_2_VERSION };
    struct testutil_deadline d = testutil_deadline_ms(ms);
    struct testtls t;
    bool cut = false;

    assert_int_equal(testtls_connect(&t, w->port, &tls12), 0);
    assert_true(testtls_send(&t, "GET /healthz HTTP/1.1\r\n", 23));
    while (!cut && !testutil_deadline_passed(&d)) {
        cut = !testtls_send(&t, "X", 1) || testtls_closed_within(&t, 300);
    }
    testtls_close(&t);
    if (cut) {
        print_message("slow headers cut after %u ms\n", ms - testutil_deadline_left_ms(&d));
    }
    return cut;
}

/* A FIFO where the key was: the reload is refused at once instead of waiting
 * for a writer forever, slow clients are still cut on time meanwhile, and
 * SIGTERM still ends the process. */
static void
test_webhook_reload_refuses_fifo_key(void **state)
{
    static const char *const args[] = { "--idle-timeout", "1", NULL };
    struct webhook *w = *state;
    char *key = testutil_path(w->secret, "..v2/tls.key");
    char *dir = testutil_path(w->secret, "..v2");
    struct testutil_deadline d;
    int code = -1;

    webhook_start_args(w, args);
    assert_int_equal(mkdir(dir, 0755), 0);
    copy_version_file(w, 1, 2, "tls.crt");
    copy_version_file(w, 1, 2, "ca.crt");
    assert_int_equal(mkfifo(key, 0600), 0);
    activate_version(w, 2);
    /* A request's headers must be in within twice the idle timeout: 2 s. */
    assert_true(slow_headers_cut_within(w, 8000));
    assert_reload_refused(w, "is a FIFO, not a regular file");
    assert_true(slow_headers_cut_within(w, 8000));

    assert_int_equal(testproc_signal(&w->proc, SIGTERM), 0);
    d = testutil_deadline_ms(5000);
    assert_int_equal(testproc_wait(&w->proc, 5000, &code), 0);
    assert_int_equal(code, 0);
    print_message("exited %u ms after SIGTERM\n", 5000 - testutil_deadline_left_ms(&d));
    free(dir);
    free(key);
}

static void
test_webhook_reload_refuses_mismatched_key(void **state)
{
    struct webhook *w = *state;

    webhook_start_args(w, NULL);
    generate_version(w, 2);
    copy_version_file(w, 1, 2, "tls.key");      /* version 2's certificate, 1's key */
    activate_version(w, 2);
    assert_reload_refused(w, "does not match the certificate");
}

static void
test_webhook_reload_refuses_truncated_certificate(void **state)
{
    struct webhook *w = *state;
    char *crt = testutil_path(w->secret, "..v2/tls.crt");
    char *text;
    size_t len;

    webhook_start_args(w, NULL);
    generate_version(w, 2);
    text = testutil_read_file(crt, &len);
    assert_non_null(text);
    /* Cut inside the first certificate, as a copy interrupted half-way would. */
    assert_int_equal(testutil_write_file(crt, text, len * 2 / 5), 0);
    activate_version(w, 2);
    assert_reload_refused(w, "cannot parse the certificate");
    free(text);
    free(crt);
}

/* ---- TLS policy ----------------------------------------------------------- */

/* Whether a TLS 1.2 handshake offering only 'ciphers' (OpenSSL names) works. */
static bool
tls12_ok(struct webhook *w, const char *ciphers, char *agreed, size_t size)
{
    const struct testtls_offer offer = { .min_version = TLS1_2_VERSION,
                                         .max_version = TLS1_2_VERSION,
                                         .ciphers = ciphers };

    return testtls_handshake_ok(w->port, &offer, agreed, size);
}

static bool
tls13_ok(struct webhook *w, const char *ciphersuites)
{
    const struct testtls_offer offer = { .min_version = TLS1_3_VERSION,
                                         .ciphersuites = ciphersuites };

    return testtls_handshake_ok(w->port, &offer, NULL, 0);
}

/* TLS 1.2 with key type 'kx' ("RSA", "ECDSA"): ECDHE with AES-GCM or
 * ChaCha20-Poly1305 only; TLS 1.3 whole. */
static void
assert_default_policy(struct webhook *w, const char *kx)
{
    /* Static RSA, DHE, 3DES; then, after "ECDHE-<kx>-", CBC with SHA-1 and SHA-2. */
    static const char *const refused[] = {
        "AES128-SHA", "AES256-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
        "AES128-SHA256", "DES-CBC3-SHA", "DHE-RSA-AES128-GCM-SHA256",
    };
    static const char *const refused_ecdhe[] = {
        "AES128-SHA", "AES256-SHA", "AES128-SHA256", "AES256-SHA384",
    };
    static const char *const accepted_ecdhe[] = {
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "CHACHA20-POLY1305",
    };
    char ciphers[64], agreed[64];

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (tls12_ok(w, refused[i], agreed, sizeof agreed)) {
            fail_msg("TLS 1.2 with %s was accepted", refused[i]);
        }
    }
    for (size_t i = 0; i < sizeof refused_ecdhe / sizeof refused_ecdhe[0]; i++) {
        snprintf(ciphers, sizeof ciphers, "ECDHE-%s-%s", kx, refused_ecdhe[i]);
        if (tls12_ok(w, ciphers, agreed, sizeof agreed)) {
            fail_msg("TLS 1.2 with %s was accepted", ciphers);
        }
    }
    for (size_t i = 0; i < sizeof accepted_ecdhe / sizeof accepted_ecdhe[0]; i++) {
        snprintf(ciphers, sizeof ciphers, "ECDHE-%s-%s", kx, accepted_ecdhe[i]);
        if (!tls12_ok(w, ciphers, agreed, sizeof agreed)) {
            fail_msg("TLS 1.2 with %s was refused", ciphers);
        }
        assert_string_equal(agreed, ciphers);
    }
    /* Offered everything at once, the server picks an ECDHE AEAD suite. */
    assert_true(tls12_ok(w, "ALL:@SECLEVEL=0", agreed, sizeof agreed));
    assert_true(!strncmp(agreed, "ECDHE-", 6) && (strstr(agreed, "GCM")
                                                  || strstr(agreed, "CHACHA20")));
    assert_true(tls13_ok(w, "TLS_AES_128_GCM_SHA256"));
    assert_true(tls13_ok(w, "TLS_AES_256_GCM_SHA384"));
    assert_true(tls13_ok(w, "TLS_CHACHA20_POLY1305_SHA256"));
}

/* What `exportflows certs` makes: ECDSA P-256. */
static void
test_webhook_tls_policy_ecdsa(void **state)
{
    struct webhook *w = *state;

    webhook_start_args(w, NULL);
    assert_default_policy(w, "ECDSA");
}

/* What cert-manager and the OpenShift service CA issue by default: RSA. */
static void
test_webhook_tls_policy_rsa(void **state)
{
    struct webhook *w = *state;
    char *dir = testutil_path(w->secret, "..v2");
    char cmd[1024];

    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
             "-keyout '%s/tls.key' -out '%s/tls.crt' 2>/dev/null", dir, dir);
    assert_int_equal(system(cmd), 0);
    copy_version_file(w, 1, 2, "ca.crt");
    activate_version(w, 2);
    webhook_start_args(w, NULL);
    assert_default_policy(w, "RSA");
    free(dir);
}

static void
test_webhook_tls_min_version_13(void **state)
{
    static const char *const args[] = { "--tls-min-version", "VersionTLS13", NULL };
    struct webhook *w = *state;
    char agreed[64];

    webhook_start_args(w, args);
    assert_false(tls12_ok(w, "ECDHE-ECDSA-AES128-GCM-SHA256", agreed, sizeof agreed));
    assert_false(tls12_ok(w, "ALL:@SECLEVEL=0", agreed, sizeof agreed));
    assert_true(tls13_ok(w, NULL));
}

static void
test_webhook_tls_cipher_suites_limit_the_set(void **state)
{
    static const char *const args[] = {
        "--tls-cipher-suites",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        NULL,
    };
    struct webhook *w = *state;
    char agreed[64];

    webhook_start_args(w, args);
    assert_false(tls12_ok(w, "ECDHE-ECDSA-AES128-GCM-SHA256", agreed, sizeof agreed));
    assert_false(tls12_ok(w, "ECDHE-ECDSA-CHACHA20-POLY1305", agreed, sizeof agreed));
    assert_true(tls12_ok(w, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
                         agreed, sizeof agreed));
    assert_string_equal(agreed, "ECDHE-ECDSA-AES256-GCM-SHA384");
    /* GnuTLS has one cipher list for both versions: TLS 1.3 follows it. */
    assert_true(tls13_ok(w, "TLS_AES_256_GCM_SHA384"));
    assert_false(tls13_ok(w, "TLS_AES_128_GCM_SHA256"));
}

/* ---- memory: hostile bodies, held bodies, chunked bodies ------------------ */

#define MIB (1024UL * 1024)
#define BODY_CAP (3UL << 20)             /* the webhook's default --max-body-bytes */
/* What one request may add to the peak resident size (issue: 16 MiB). */
#define REQUEST_PEAK_MAX_KB (16UL * 1024)
/* Resident memory counts as given back within this much of where it was. */
#define RETURNED_SLACK_KB 1024UL
#define DEPLOYMENT "manifests/base/webhook-deployment.yaml"
#define COLLECTORS_OPEN "\"exportNetworkFlows\":{\"netFlow\":{\"collectors\":["
/* Under ASan (the sanitizer build runs the sanitizer build of the webhook)
 * freed memory sits in quarantine and every block has redzones: resident
 * sizes say nothing there, so only the answers are checked. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_IS_MEANINGFUL false
#else
#define RSS_IS_MEANINGFUL true
#endif

static unsigned long
memory_kb(struct webhook *w, const char *field)
{
    unsigned long kb = 0;

    assert_int_equal(testproc_memory_kb(&w->proc, field, &kb), 0);
    return kb;
}

/* The Deployment's memory limit, in KiB ("memory: 128Mi" under "limits:"). */
static unsigned long
deployment_memory_limit_kb(void)
{
    char *text = testutil_read_file(DEPLOYMENT, NULL);
    const char *limits = text ? strstr(text, "limits:") : NULL;
    const char *memory = limits ? strstr(limits, "memory:") : NULL;
    unsigned long mib = 0;

    assert_non_null(memory);
    assert_int_equal(sscanf(memory, "memory: %luMi", &mib), 1);
    free(text);
    assert_true(mib >= 32);
    return mib * 1024;
}

/* Polls until the resident size is back within RETURNED_SLACK_KB of
 * 'base_kb'; the last reading. */
static unsigned long
wait_memory_returned(struct webhook *w, unsigned long base_kb)
{
    /* Under ASan nothing comes back (the quarantine): do not wait for it. */
    struct testutil_deadline d = testutil_deadline_ms(RSS_IS_MEANINGFUL ? 10000 : 0);
    unsigned long rss;

    while ((rss = memory_kb(w, "VmRSS")) > base_kb + RETURNED_SLACK_KB
           && !testutil_deadline_passed(&d)) {
        testutil_nap(20);
    }
    return rss;
}

/* POSTs 'body' to /validate on a fresh connection; the reply in 'reply'. */
static void
post_body(struct webhook *w, const char *body, size_t len, struct testcurl_reply *reply)
{
    CURL *curl = testcurl_new(w->ca_bundle);
    char url[128];

    assert_int_equal(testcurl_request(curl, "POST", testcurl_url(url, sizeof url, "https",
                                                                 w->port, "/validate"),
                                      "application/json", body, len, reply), CURLE_OK);
    curl_easy_cleanup(curl);
}

/* The resident size after a first review, the base the tests measure from. */
static unsigned long
warm_up(struct webhook *w)
{
    CURL *curl = testcurl_new(w->ca_bundle);
    struct testcurl_reply reply;

    post_case(w, curl, "allowed-proposal", NULL, &reply);
    assert_int_equal(reply.code, 200);
    testcurl_reply_release(&reply);
    curl_easy_cleanup(curl);
    return memory_kb(w, "VmRSS");
}

/* The bodies within the cap that cost the most: millions of small values the
 * review does not read, a number with an exponent or text the scanner gives up
 * on at the very end. */
struct hostile {
    const char *name, *open, *unit, *tail, *close;
    long code;
};

static void
check_hostile(struct webhook *w, const struct hostile *h, unsigned long base_kb)
{
    struct testcurl_reply reply;
    unsigned long peak, rss;
    size_t len;
    char *body = testbody_filled(h->open, h->unit, h->tail, h->close, BODY_CAP, &len);

    assert_int_equal(testproc_reset_peak(&w->proc), 0);
    post_body(w, body, len, &reply);
    peak = memory_kb(w, "VmHWM");
    rss = wait_memory_returned(w, base_kb);
    print_message("%-40s HTTP %ld, peak +%lu KiB, after %+ld KiB\n", h->name, reply.code,
                  peak > base_kb ? peak - base_kb : 0, (long) rss - (long) base_kb);
    if (reply.code != h->code) {
        fail_msg("%s: HTTP %ld, want %ld: %.200s", h->name, reply.code, h->code,
                 reply.body ? reply.body : "");
    }
    if (!RSS_IS_MEANINGFUL) {
        peak = rss = base_kb;
    }
    if (peak > base_kb + REQUEST_PEAK_MAX_KB) {
        fail_msg("%s: peak resident size grew by %lu KiB (max %lu)", h->name, peak - base_kb,
                 REQUEST_PEAK_MAX_KB);
    }
    if (rss > base_kb + RETURNED_SLACK_KB) {
        fail_msg("%s: resident size stayed %lu KiB above where it was", h->name,
                 rss - base_kb);
    }
    testcurl_reply_release(&reply);
    free(body);
}

static void
test_webhook_hostile_bodies_bounded_memory(void **state)
{
    struct webhook *w = *state;
    char *deep = testbody_nested(100);
    char wide[1024];
    size_t n = 0;
    unsigned long base_kb;

    /* 65 keys: one more than jsonscan checks for duplicates. */
    wide[n++] = '{';
    for (int i = 0; i < 65; i++) {
        n += (size_t) snprintf(wide + n, sizeof wide - n, "%s\"%d\":0", i ? "," : "", i);
    }
    snprintf(wide + n, sizeof wide - n, "}");
    const struct hostile hostile[] = {
        { "empty objects, exponent last", "\"filler\":[", "{}", "1e1", "]", 200 },
        { "empty arrays, exponent last", "\"filler\":[", "[]", "-2.5E-3", "]", 200 },
        { "numbers, exponent last", "\"filler\":[", "7", "1E+2", "]", 200 },
        { "empty strings, exponent last", "\"filler\":[", "\"\"", "1e1", "]", 200 },
        { "escaped keys", "\"filler\":[", "{\"\\u0061\":0}", "1e1", "]", 200 },
        { "one long string", "\"filler\":\"", "a", "a", "\"", 200 },
        { "empty objects, deep nesting last", "\"filler\":[", "{}", deep, "]", 413 },
        { "empty objects, invalid last", "\"filler\":[", "{}", "x", "]", 413 },
        { "wide objects", "\"filler\":[", wide, "0", "]", 413 },
        { "a million collectors", COLLECTORS_OPEN, "\"a\"", "\"b\"", "]}}", 413 },
        { "deep nesting", "\"filler\":[", deep, "0", "]", 413 },
    };

    webhook_start_args(w, NULL);
    base_kb = warm_up(w);
    print_message("base resident size %lu KiB\n", base_kb);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        check_hostile(w, &hostile[i], base_kb);
    }
    free(deep);
}

struct parallel_post {
    struct webhook *w;
    const char *body;
    size_t len;
    long code;
};

static void *
parallel_post_thread(void *aux)
{
    struct parallel_post *p = aux;
    struct testcurl_reply reply;

    post_body(p->w, p->body, p->len, &reply);
    p->code = reply.code;
    testcurl_reply_release(&reply);
    return NULL;
}

/* Eight of the costliest bodies at once, on eight workers: the peak stays
 * under the Deployment's memory limit, and the memory comes back. */
static void
test_webhook_parallel_hostile_bodies_under_limit(void **state)
{
    static const char *const args[] = { "--threads", "8", NULL };
    struct webhook *w = *state;
    char *deep = testbody_nested(100);
    struct parallel_post posts[8];
    pthread_t threads[8];
    unsigned long base_kb, peak, limit_kb = deployment_memory_limit_kb();
    size_t len;
    char *body = testbody_filled("\"filler\":[", "{}", deep, "]", BODY_CAP, &len);

    webhook_start_args(w, args);
    base_kb = warm_up(w);
    assert_int_equal(testproc_reset_peak(&w->proc), 0);
    for (size_t i = 0; i < 8; i++) {
        posts[i] = (struct parallel_post) { w, body, len, 0 };
        assert_int_equal(pthread_create(&threads[i], NULL, parallel_post_thread, &posts[i]),
                         0);
    }
    for (size_t i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        /* Refused as too complex, or as too many at once (503): never served
         * by growing. */
        assert_true(posts[i].code == 413 || posts[i].code == 503);
    }
    peak = memory_kb(w, "VmHWM");
    print_message("8 in parallel: peak %lu KiB (limit %lu KiB), base %lu KiB\n", peak,
                  limit_kb, base_kb);
    assert_true(!RSS_IS_MEANINGFUL || peak < limit_kb);
    assert_true(!RSS_IS_MEANINGFUL
                || wait_memory_returned(w, base_kb) <= base_kb + RETURNED_SLACK_KB);
    free(body);
    free(deep);
}

/* Request headers for a body of 'length' bytes, or chunked when 'length' is
 * 0. */
static size_t
request_head(char *buf, size_t size, size_t length)
{
    int n = length ? snprintf(buf, size, "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                              length)
                   : snprintf(buf, size, "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n");

    assert_true(n > 0 && (size_t) n < size);
    return (size_t) n;
}

/* Reads the head of an answer on 't' into 'buf' (NUL-terminated); its
 * length, 0 when none came within 'timeout_ms' (0: only what is there). */
static size_t
read_answer(struct testtls *t, char *buf, size_t size, unsigned timeout_ms)
{
    struct testutil_deadline d = testutil_deadline_ms(timeout_ms);
    size_t len = 0;

    /* At least one read, so what has already come counts even when the time is
     * up. */
    do {
        ssize_t n = testtls_read_within(t, buf + len, size - 1 - len,
                                        testutil_deadline_left_ms(&d));

        if (n <= 0) {
            break;
        }
        len += (size_t) n;
        buf[len] = '\0';
    } while (len + 1 < size && !strstr(buf, "\r\n\r\n") && !testutil_deadline_passed(&d));
    return len;
}

/* Clients that send all but the last byte of a body at the cap, then stall:
 * past the budget for held bodies they get 503 with Retry-After at once, the
 * memory held stays within the budget, and the held ones are cut at the body
 * deadline, after which the server serves again. */
static void
test_webhook_held_bodies_bounded(void **state)
{
    /* The body deadline leaves room for setting up all the clients and then
     * the window in which the refused ones must have had their 503. */
    static const char *const args[] = { "--body-timeout", "12", NULL };
    enum { N_CLIENTS = 14, BUDGET_BODIES = 10 };   /* default budget: 32 MiB / 3 MiB */
    enum { ANSWER_WINDOW_MS = 3000, CUT_WITHIN_MS = 30000 };
    struct webhook *w = *state;
    struct testtls clients[N_CLIENTS];
    ssize_t sent[N_CLIENTS];
    char head[256], answer[1024];
    size_t head_len = request_head(head, sizeof head, BODY_CAP);
    char *filler = malloc(BODY_CAP);
    size_t n_busy = 0, n_held = 0;
    unsigned long base_kb, rss;
    struct testutil_deadline d;
    struct testcurl_reply reply;

    assert_non_null(filler);
    memset(filler, ' ', BODY_CAP);
    webhook_start_args(w, args);
    base_kb = warm_up(w);
    for (size_t i = 0; i < N_CLIENTS; i++) {
        assert_int_equal(testtls_connect(&clients[i], w->port, NULL), 0);
        assert_int_equal(testtls_write_within(&clients[i], head, head_len, 5000),
                         (ssize_t) head_len);
        sent[i] = testtls_write_within(&clients[i], filler, BODY_CAP - 1, 2000);
    }
    /* A refused client has its 503 within the window, however loaded the
     * machine; a held one hears nothing before its body deadline. */
    d = testutil_deadline_ms(ANSWER_WINDOW_MS);
    for (size_t i = 0; i < N_CLIENTS; i++) {
        answer[0] = '\0';
        if (read_answer(&clients[i], answer, sizeof answer, testutil_deadline_left_ms(&d))) {
            if (strncmp(answer, "HTTP/1.1 503", 12) || !strstr(answer, "Retry-After: ")) {
                fail_msg("client %zu: unexpected answer: %s", i, answer);
            }
            n_busy++;
        } else {
            assert_int_equal(sent[i], (ssize_t) BODY_CAP - 1);
            n_held++;
        }
    }
    rss = memory_kb(w, "VmRSS");
    print_message("%zu bodies held, %zu refused with 503; resident %+ld KiB\n", n_held, n_busy,
                  (long) rss - (long) base_kb);
    assert_int_equal(n_held, BUDGET_BODIES);
    assert_int_equal(n_busy, N_CLIENTS - BUDGET_BODIES);
    assert_true(!RSS_IS_MEANINGFUL || rss < base_kb + 40 * 1024);
    /* The held ones are cut at the body deadline and a reaper tick. */
    d = testutil_deadline_ms(CUT_WITHIN_MS);
    for (size_t i = 0; i < N_CLIENTS; i++) {
        ssize_t n;

        do {
            n = testtls_read_within(&clients[i], answer, sizeof answer - 1,
                             testutil_deadline_left_ms(&d));
        } while (n > 0);
        assert_int_equal(n, -EPIPE);
        testtls_close(&clients[i]);
    }
    assert_true(!RSS_IS_MEANINGFUL
                || wait_memory_returned(w, base_kb) <= base_kb + RETURNED_SLACK_KB);
    post_body(w, "{}", 2, &reply);
    assert_int_equal(reply.code, 400);
    testcurl_reply_release(&reply);
    free(filler);
}

/* A chunked body that goes past the cap gets its 413 with Connection: close
 * as soon as it crosses it: the server does not read on. */
static void
test_webhook_chunked_over_cap_answered_at_once(void **state)
{
    static const char *const args[] = { "--max-body-bytes", "65536", NULL };
    struct webhook *w = *state;
    struct testtls t;
    char head[256], chunk[16 * 1024 + 16], answer[1024] = "";
    size_t head_len = request_head(head, sizeof head, 0), sent = 0, chunk_len;
    struct testutil_deadline d;

    webhook_start_args(w, args);
    chunk_len = (size_t) snprintf(chunk, sizeof chunk, "%x\r\n", 16 * 1024);
    memset(chunk + chunk_len, ' ', 16 * 1024);
    chunk_len += 16 * 1024;
    memcpy(chunk + chunk_len, "\r\n", 2);
    chunk_len += 2;
    assert_int_equal(testtls_connect(&t, w->port, NULL), 0);
    assert_int_equal(testtls_write_within(&t, head, head_len, 5000), (ssize_t) head_len);
    /* Chunk after chunk, looking for the answer in between, for at most
     * 20 MiB (the server used to read 16 MiB past the cap, then reset). */
    d = testutil_deadline_ms(60000);
    while (sent < 20 * MIB && !testutil_deadline_passed(&d)) {
        ssize_t n = testtls_write_within(&t, chunk, chunk_len, 200);

        if (n < 0 || read_answer(&t, answer, sizeof answer, 20)) {
            break;
        }
        sent += (size_t) n;
        if ((size_t) n < chunk_len) {
            /* The server stopped reading: its answer must be on the way. */
            read_answer(&t, answer, sizeof answer, 5000);
            break;
        }
    }
    print_message("sent %zu bytes of body before the answer: %.40s\n", sent, answer);
    if (strncmp(answer, "HTTP/1.1 413", 12) || !strstr(answer, "Connection: close")) {
        fail_msg("no 413 with Connection: close after %zu bytes: '%s'", sent, answer);
    }
    /* The cap and a few chunks: read on, it would be 16 MiB. */
    assert_true(sent < 65536 + MIB);
    testtls_close(&t);
}

/* ---- command line ------------------------------------------------------- */

static int
run_to_exit(struct webhook *w, const char *const *argv)
{
    char *log = testutil_path(w->dir, "usage.log");
    struct testproc p;
    int code = -1;

    assert_int_equal(testproc_start(&p, argv, NULL, log), 0);
    assert_int_equal(testproc_wait(&p, EXIT_TIMEOUT_MS, &code), 0);
    testproc_release(&p);
    free(log);
    return code;
}

static void
test_webhook_bad_usage_exits_2(void **state)
{
    struct webhook *w = *state;
    char *bin = testutil_bin("exportflows-webhook");
    char *key = testutil_path(w->secret, "tls.key");
    char *missing = testutil_path(w->dir, "missing.crt");
    const char *no_cert[] = { bin, "--listen", "127.0.0.1:0", NULL };
    const char *unreadable[] = { bin, "--tls-cert-file", missing, "--tls-private-key-file",
                                 key, "--listen", "127.0.0.1:0", "--health-listen", "off",
                                 NULL };
    const char *unknown[] = { bin, "--bogus", NULL };
    const char *bad_uint[] = { bin, "--sflow-header", "1000", NULL };
    /* Tuning flags take the config keys' ranges and agent rule. */
    const char *bad_timeout[] = { bin, "--netflow-active-timeout", "86401", NULL };
    const char *bad_id[] = { bin, "--ipfix-obs-point-id", "4294967296", NULL };
    const char *bad_agent[] = { bin, "--tls-cert-file", key, "--tls-private-key-file", key,
                                "--sflow-agent", "eth 0", NULL };
    const char *old_tls[] = { bin, "--tls-cert-file", key, "--tls-private-key-file", key,
                              "--tls-min-version", "VersionTLS11", NULL };
    const char *cbc[] = { bin, "--tls-cert-file", key, "--tls-private-key-file", key,
                          "--tls-cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", NULL };
    const char *unknown_suite[] = { bin, "--tls-cert-file", key, "--tls-private-key-file",
                                    key, "--tls-cipher-suites", "AES128-SHA", NULL };
    const char *help[] = { bin, "--help", NULL };

    assert_int_equal(run_to_exit(w, no_cert), 2);
    assert_int_equal(run_to_exit(w, unreadable), 2);
    assert_int_equal(run_to_exit(w, unknown), 2);
    assert_int_equal(run_to_exit(w, bad_uint), 2);
    assert_int_equal(run_to_exit(w, bad_timeout), 2);
    assert_int_equal(run_to_exit(w, bad_id), 2);
    assert_int_equal(run_to_exit(w, bad_agent), 2);
    assert_int_equal(run_to_exit(w, old_tls), 2);
    assert_int_equal(run_to_exit(w, cbc), 2);
    assert_int_equal(run_to_exit(w, unknown_suite), 2);
    assert_int_equal(run_to_exit(w, help), 0);
    free(missing);
    free(key);
    free(bin);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhook_allows_proposal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_denies_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_reviews_nul_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_http_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_keepalive_reuses_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_webhook_certificate_swap_under_load, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_webhook_sigterm_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_health_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_reload_refuses_fifo_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_reload_refuses_mismatched_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_webhook_reload_refuses_truncated_certificate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_tls_policy_ecdsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_tls_policy_rsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_tls_min_version_13, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_tls_cipher_suites_limit_the_set, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_webhook_bad_usage_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_hostile_bodies_bounded_memory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_webhook_parallel_hostile_bodies_under_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_held_bodies_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_chunked_over_cap_answered_at_once, setup,
                                        teardown),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
