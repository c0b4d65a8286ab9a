/* Unit tests for httpserver in process, plain HTTP on 127.0.0.1:0 through
 * libcurl (tests/lib/testcurl): what a handler sees of a request (method,
 * path, query, headers, body), the health routes and their switches, a route
 * that takes over /metrics, and the listening address as the programs log it.
 * TLS, limits, reloads under load and draining are tests/integration/
 * test_httpserver.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/http/httpserver.h"
#include "../../lib/testcurl.h"

/* Answers with what it saw: "<method> <path> q=<query q> type=<Content-Type> <body>". */
static void
show_handler(void *aux, const struct http_request *req, struct http_response *resp)
{
    const char *q = http_request_query(req, "q"), *x = http_request_header(req, "content-TYPE");
    size_t len;
    const char *body = http_request_body(req, &len);
    char text[512];

    snprintf(text, sizeof text, "%s %s q=%s type=%s %.*s", http_request_method(req),
             http_request_path(req), q ? q : "(none)", x ? x : "(none)", (int) len, body);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = strdup(text);
    resp->body_len = strlen(text);
}

static void
metrics_handler(void *aux, const struct http_request *req, struct http_response *resp)
{
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = strdup("mine");
    resp->body_len = 4;
}

static const struct httpserver_route routes[] = {
    { "PUT", "/show", NULL, show_handler, NULL },
    { "GET", "/show", NULL, show_handler, NULL },
    { "GET", "/metrics", NULL, metrics_handler, NULL },
};

struct rig {
    struct httpserver *server;
    CURL *curl;
    char url[128];
};

static void
rig_start(struct rig *r, struct httpserver_config *cfg)
{
    struct errmsg err = { "" };

    cfg->listen = cfg->listen ? cfg->listen : "127.0.0.1:0";
    cfg->threads = 2;
    if (httpserver_create(cfg, &r->server, &err) < 0) {
        fail_msg("httpserver_create: %s", err.text);
    }
    r->curl = testcurl_new(NULL);
    assert_non_null(r->curl);
}

static void
rig_stop(struct rig *r)
{
    curl_easy_cleanup(r->curl);
    httpserver_destroy(r->server);
}

/* The status of 'method' on 'path'; the body in 'reply' (released by the caller). */
static long
call(struct rig *r, const char *method, const char *path, const char *body,
     struct testcurl_reply *reply)
{
    testcurl_url(r->url, sizeof r->url, "http", httpserver_port(r->server), path);
    assert_int_equal(testcurl_request(r->curl, method, r->url,
                                      body ? "Text/Plain" : NULL, body,
                                      body ? strlen(body) : 0, reply), CURLE_OK);
    return reply->code;
}

static long
status_of(struct rig *r, const char *path)
{
    struct testcurl_reply reply = { 0 };
    long code = call(r, "GET", path, NULL, &reply);

    testcurl_reply_release(&reply);
    return code;
}

static void
test_httpserver_handler_sees_the_request(void **unused)
{
    struct httpserver_config cfg = { .routes = routes, .n_routes = 3 };
    struct testcurl_reply reply = { 0 };
    struct rig r = { 0 };

    (void) unused;
    rig_start(&r, &cfg);
    assert_int_equal(call(&r, "PUT", "/show?a=1&q=two%20words", "the body", &reply), 200);
    assert_string_equal(reply.body, "PUT /show q=two words type=Text/Plain the body");
    testcurl_reply_release(&reply);
    assert_int_equal(call(&r, "GET", "/show", NULL, &reply), 200);
    assert_string_equal(reply.body, "GET /show q=(none) type=(none) ");
    testcurl_reply_release(&reply);
    rig_stop(&r);
}

static bool
never_ready(void *aux)
{
    (void) aux;
    return false;
}

static void
test_httpserver_health_routes_follow_the_config(void **unused)
{
    struct httpserver_config cfg = { .routes = routes, .n_routes = 2, .health = true };
    struct testcurl_reply reply = { 0 };
    struct rig r = { 0 };

    (void) unused;
    rig_start(&r, &cfg);                        /* no 'ready': ready */
    assert_int_equal(status_of(&r, "/readyz"), 200);
    assert_int_equal(call(&r, "GET", "/metrics", NULL, &reply), 200);
    assert_string_equal(reply.content_type, "text/plain; version=0.0.4");
    assert_int_equal(reply.len, 0);             /* no registry: nothing to show */
    testcurl_reply_release(&reply);
    rig_stop(&r);

    cfg.ready = never_ready;
    rig_start(&r, &cfg);
    assert_int_equal(status_of(&r, "/readyz"), 503);
    assert_int_equal(status_of(&r, "/healthz"), 200);
    rig_stop(&r);

    cfg.health = false;
    rig_start(&r, &cfg);
    assert_int_equal(status_of(&r, "/healthz"), 404);
    assert_int_equal(status_of(&r, "/readyz"), 404);
    rig_stop(&r);
}

static void
test_httpserver_route_may_take_over_metrics(void **unused)
{
    struct httpserver_config cfg = { .routes = routes, .n_routes = 3, .health = true,
                                     .health_without_metrics = true };
    struct testcurl_reply reply = { 0 };
    struct rig r = { 0 };

    (void) unused;
    rig_start(&r, &cfg);
    assert_int_equal(call(&r, "GET", "/metrics", NULL, &reply), 200);
    assert_string_equal(reply.body, "mine");
    testcurl_reply_release(&reply);
    assert_int_equal(status_of(&r, "/healthz"), 200);
    rig_stop(&r);
}

/* A handler's one-line text answer: the status, text/plain, the text and a
 * newline, in a body the server frees. */
static void
test_httpserver_response_text_adds_a_newline(void **unused)
{
    struct http_response resp = { 0 };

    http_response_text(&resp, 403, "Forbidden");
    assert_int_equal(resp.status, 403);
    assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
    assert_int_equal(resp.body_len, 10);
    assert_memory_equal(resp.body, "Forbidden\n", 10);
    free(resp.body);
}

static void
test_httpserver_format_address_shows_the_bound_port(void **unused)
{
    struct httpserver_config cfg = { .routes = routes, .n_routes = 1 };
    struct rig r = { 0 };
    char buf[64], want[64];

    (void) unused;
    rig_start(&r, &cfg);
    httpserver_format_address(r.server, "127.0.0.1:0", buf, sizeof buf);
    snprintf(want, sizeof want, "127.0.0.1:%u", httpserver_port(r.server));
    assert_string_equal(buf, want);
    rig_stop(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpserver_handler_sees_the_request),
        cmocka_unit_test(test_httpserver_health_routes_follow_the_config),
        cmocka_unit_test(test_httpserver_route_may_take_over_metrics),
        cmocka_unit_test(test_httpserver_format_address_shows_the_bound_port),
        cmocka_unit_test(test_httpserver_response_text_adds_a_newline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
