/* httpserver — HTTP(S) server on libmicrohttpd; see include/exportflows/http/httpserver.h.
 *
 * This file holds the request path (admission from the headers, the capped
 * body, routing, health endpoints, responses), the TLS callbacks, and the
 * server's life cycle (create, drain, shutdown).  libmicrohttpd runs a pool of
 * worker threads (one per core), each with its own poll() loop; the route
 * handler runs in the worker that read the request.  Three pieces of state hang
 * off libmicrohttpd's objects:
 *
 *   - a 'struct httpconn' per connection (its socket context), made when the
 *     connection starts and freed when it closes: it holds the TLS credentials
 *     the handshake used and what the reaper needs to cut slow clients
 *     (src/http/httpconns.c);
 *   - a 'struct http_request' per request (its request context, '*req_cls'),
 *     made on the first call of the access handler and freed in the completion
 *     callback, as in libmicrohttpd's doc/examples/largepost.c;
 *   - two background threads (src/http/httpwatch.c): one reaps connections that
 *     hold a slot without ever finishing a request, the other (with TLS) watches
 *     the certificate files (inotify on their directories, and a periodic stat
 *     as fallback) and reloads them.  They are apart so that nothing a reload
 *     meets on disk can delay the reaper.
 *
 * The listening socket is made by src/http/httplisten.c, a kept body grows in a
 * capbuf, and the server's own metrics are registered by
 * src/http/httpmetrics.c.
 * Certificates are handed to GnuTLS per handshake by a retrieve callback, so a
 * reload is a pointer swap: no daemon restart, no failed request. */
#include "exportflows/http/httpserver.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/numparse.h"
#include "exportflows/base/readfile.h"
#include "httpconns.h"
#include "httplisten.h"
#include "httpmetrics.h"
#include "httpwatch.h"
#include "exportflows/base/clock.h"
#include "exportflows/base/monowait.h"
#include "tlscreds.h"

#define HTTPSERVER_DEFAULT_MAX_BODY (3u * 1024 * 1024)
/* How far past the cap a body that is refused anyway is read and dropped, so
 * that a client which does not wait for "100 Continue" reads the 413 rather
 * than a reset (see request_too_large()). */
#define HTTPSERVER_DISCARD_MAX (16u * 1024 * 1024)
/* Bodies are held whole in memory; past this a bigger cap is a mistake. */
#define HTTPSERVER_MAX_BODY_LIMIT (1024u * 1024 * 1024)
#define HTTPSERVER_DEFAULT_MAX_CONNECTIONS 1024
#define HTTPSERVER_DEFAULT_MAX_PER_IP 64
#define HTTPSERVER_DEFAULT_IDLE_S 30
/* A body must be all in this long after its headers: the kube-apiserver sends
 * one in a single write, and a held-back body holds its buffer. */
#define HTTPSERVER_DEFAULT_BODY_TIMEOUT_S 10
/* Default budget for the bodies held at once, in full bodies at the cap. */
#define HTTPSERVER_DEFAULT_BUFFERED_BODIES 8
/* A body buffer this big gives its memory back to the system when freed:
 * glibc may have served it from free chunks of an arena (left by an earlier
 * request), where freeing it would keep its pages resident. */
#define HTTPSERVER_TRIM_BODY (1024u * 1024)
/* After an answer written while the body was coming in, how much more of it
 * is read and dropped before the connection is closed: a client still
 * sending (libcurl, Go) then reads the answer instead of meeting a reset. */
#define HTTPSERVER_LINGER_MAX (4u * 1024 * 1024)
/* What a 503 tells the client to wait, in seconds. */
#define HTTPSERVER_RETRY_AFTER "1"
/* Header bytes and libmicrohttpd's bookkeeping per connection; the body is
 * copied out to the request, so this only bounds what a client can make the
 * server hold before the request is even known.  libmicrohttpd clears the
 * pool for every request (MHD_pool_reset()), so a bigger pool costs CPU per
 * request, not just memory (32 KiB was 2.4 % of the webhook's CPU under
 * bench/webhook.sh): 16 KiB still holds headers several times larger than
 * what the kube-apiserver sends a webhook (under 1 KiB). */
#define HTTPSERVER_CONN_MEMORY (16 * 1024)
#define HTTPSERVER_MAX_THREADS 64
#define HTTPSERVER_MAX_ROUTES 64
#define HTTPSERVER_MAX_CA_FILE (1024 * 1024)
/* How often the drain looks for requests that arrived but did not start. */
#define HTTPSERVER_DRAIN_POLL_MS 10

enum health_route { HEALTH_NONE, HEALTH_HEALTHZ, HEALTH_READYZ, HEALTH_METRICS };

/* What a request gets once its body is in. */
enum verdict { VERDICT_ERROR, VERDICT_ROUTE, VERDICT_HEALTH };

struct http_request {
    struct httpserver *server;
    struct MHD_Connection *mhd;
    struct httpconn *conn;
    const char *method;
    const char *path;
    enum verdict verdict;
    const struct httpserver_route *route;
    enum health_route health;
    unsigned error_status;
    char error_text[128];
    char allow[128];
    struct capbuf body;             /* the route's body, within the cap */
    size_t dropped;                 /* bytes of a body not kept (not a route's) */
    size_t charged;                 /* of the server's 'buffered' for 'body' */
    bool answered_mid_body;         /* respond_mid_body() wrote the answer */
    size_t lingered;                /* body bytes dropped since */
    unsigned status;                /* what was answered, for the metrics */
    struct timespec start;
};

struct httpserver {
    struct MHD_Daemon *daemon;
    uint16_t port;
    int listen_fd;                  /* ours until the daemon starts, then its */

    struct httpserver_route *routes;
    size_t n_routes;
    bool health;
    bool health_metrics;
    bool (*ready)(void *aux);
    void *ready_aux;
    size_t max_body;
    unsigned idle_timeout_s;
    unsigned request_deadline_s;    /* for a request's headers */
    unsigned body_timeout_s;        /* for its body, from the headers */
    size_t max_buffered;            /* bodies held at once, in bytes */

    struct tlscreds_store *tls;     /* NULL: plain HTTP */
    struct tlspolicy tls_policy;    /* versions and suites, for GnuTLS */
    char *client_ca;                /* PEM text, for MHD_OPTION_HTTPS_MEM_TRUST */

    struct metrics *metrics;
    struct httpmetrics m;

    pthread_mutex_t lock;           /* guards the fields below */
    pthread_cond_t drained;         /* signalled when in_flight drops to 0 */
    /* Read and changed by every request in every worker: atomics, so that no
     * request waits on a lock held by a preempted worker.  'draining' is only
     * set under 'lock'; 'in_flight' reaching 0 is signalled under it. */
    atomic_uint in_flight;
    atomic_bool draining;
    atomic_size_t buffered;         /* room held for bodies, all requests */
    bool shut_down;

    struct httpconns conns;

    httpserver_tls_report_fn *tls_report;   /* NULL: reloads go unreported */
    void *tls_report_aux;

    struct httpwatch reaper;        /* cuts slow clients */
    struct httpwatch watch;         /* reloads the certificate; runs only with TLS */
};

/* ---- small helpers ---------------------------------------------------- */

/* Whether 'value' is the media type 'type', ignoring parameters and case
 * ("application/json; charset=utf-8" is "application/json"). */
static bool
media_type_is(const char *value, const char *type)
{
    size_t len = strlen(type);

    if (!value || strncasecmp(value, type, len)) {
        return false;
    }
    value += len;
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    return *value == '\0' || *value == ';';
}

/* ---- TLS ---------------------------------------------------------------- */

/* libmicrohttpd keeps its connection as the GnuTLS session pointer; the
 * connection's socket context is our 'struct httpconn'. */
static struct httpconn *
conn_of_session(gnutls_session_t session)
{
    struct MHD_Connection *mhd = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *info;

    if (!mhd) {
        return NULL;
    }
    info = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* GnuTLS asks for the certificate during each handshake.  The connection keeps
 * a reference to the pair it was given until it closes. */
static int
tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int n_req_ca,
             const gnutls_pk_algorithm_t *pk_algos, int n_pk_algos,
             gnutls_pcert_st **pcerts, unsigned int *n_pcerts, gnutls_privkey_t *key)
{
    struct httpconn *c = conn_of_session(session);
    struct tlscreds *creds;

    if (!c || !c->server->tls) {
        return -1;
    }
    creds = tlscreds_acquire(c->server->tls);
    tlscreds_release(c->creds);     /* a second handshake on the connection */
    c->creds = creds;
    tlscreds_get(creds, pcerts, n_pcerts, key);
    return 0;
}

/* libmicrohttpd only asks for a client certificate (GNUTLS_CERT_REQUEST) when
 * given a trust list; requiring one and verifying it during the handshake is
 * set on the session before the handshake starts. */
static void
tls_require_client_cert(struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_GNUTLS_SESSION);

    if (info && info->tls_session) {
        gnutls_session_t session = info->tls_session;

        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(session, NULL, 0);
    }
}

static void
tls_update_metrics(struct httpserver *s)
{
    metrics_set(s->m.not_after, (double) tlscreds_store_not_after(s->tls));
}

/* Re-reads the pair, counts the result and reports it; '*err' is filled. */
static int
tls_reload(struct httpserver *s, enum httpserver_tls_cause cause, struct errmsg *err)
{
    struct httpserver_tls_report report = { .cause = cause };
    bool changed = false;
    int r = tlscreds_store_reload(s->tls, &changed, err);

    if (r < 0) {
        metrics_add(s->m.reloads_failed, 1);
    } else if (changed) {
        metrics_add(s->m.reloads_ok, 1);
        tls_update_metrics(s);
    }
    if (s->tls_report) {
        report.error = r;
        report.message = r < 0 ? err->text : "";
        report.changed = changed;
        s->tls_report(s->tls_report_aux, &report);
    }
    return r;
}

/* Reads the CA bundle for client certificates as PEM text.  A bundle over the
 * cap is reported as "cannot read 'F': File too large". */
static int
read_client_ca(const char *file, char **ret, struct errmsg *err)
{
    char *buf = NULL;
    size_t len;
    int r = readfile(file, NULL, HTTPSERVER_MAX_CA_FILE, 0, &buf, &len, err);

    if (r == -EFBIG) {
        errmsg_set(err, r, "cannot read '%s': %s", file, strerror(-r));
    }
    if (r < 0) {
        return r;
    }
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        free(buf);
        return errmsg_set(err, -EINVAL, "'%s' holds no PEM certificate", file);
    }
    *ret = buf;
    return 0;
}

/* ---- connections -------------------------------------------------------- */

static void
conn_started(struct httpserver *s, struct MHD_Connection *mhd, void **socket_context)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct httpconn *c = httpconn_new(&s->conns, s, info ? info->connect_fd : -1);

    /* Without its context a TLS connection fails its handshake (tls_retrieve
     * finds nothing): out of memory costs that one connection. */
    if (!c) {
        return;
    }
    *socket_context = c;
    if (s->client_ca) {
        tls_require_client_cert(mhd);
    }
    httpconns_add(&s->conns, c);
}

static void
conn_closed(struct httpserver *s, void **socket_context)
{
    struct httpconn *c = *socket_context;

    if (!c) {
        return;
    }
    httpconns_remove(&s->conns, c);
    *socket_context = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *mhd, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_started(cls, mhd, socket_context);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_closed(cls, socket_context);
    }
}

/* ---- responses ---------------------------------------------------------- */

/* Takes ownership of 'body' (malloc()ed or NULL), also on failure. */
static enum MHD_Result
respond(struct http_request *req, unsigned status, const char *content_type,
        char *body, size_t len, const char *allow)
{
    struct httpserver *s = req->server;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    bool draining;

    resp = MHD_create_response_from_buffer(len, body ? body : (char *) "",
                                           body ? MHD_RESPMEM_MUST_FREE
                                                : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (content_type) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    if (allow) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    draining = atomic_load(&s->draining);
    /* Shutting down: keep-alive clients go elsewhere for the next request.  A
     * client that sent too much, too slowly, or when the server was full is
     * not kept either: its body may be partly unread. */
    if (draining || status == MHD_HTTP_CONTENT_TOO_LARGE
        || status == MHD_HTTP_REQUEST_TIMEOUT || status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, HTTPSERVER_RETRY_AFTER);
    }
    req->status = status;
    ret = MHD_queue_response(req->mhd, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* One-line plain-text answer ("not found"). */
static enum MHD_Result
respond_text(struct http_request *req, unsigned status, const char *allow,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result
respond_text(struct http_request *req, unsigned status, const char *allow,
             const char *fmt, ...)
{
    char line[255];             /* with the newline, at most 255 bytes as before */
    struct http_response text;
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(line, sizeof line, fmt, ap) < 0) {
        line[0] = '\0';
    }
    va_end(ap);
    http_response_text(&text, status, line);
    return respond(req, text.status, text.content_type, text.body, text.body_len, allow);
}

/* ---- routes --------------------------------------------------------------- */

static enum health_route
health_route_of(const struct httpserver *s, const char *path)
{
    if (!s->health) {
        return HEALTH_NONE;
    }
    if (!strcmp(path, "/healthz")) {
        return HEALTH_HEALTHZ;
    }
    if (!strcmp(path, "/readyz")) {
        return HEALTH_READYZ;
    }
    return s->health_metrics && !strcmp(path, "/metrics") ? HEALTH_METRICS : HEALTH_NONE;
}

static bool
server_is_ready(struct httpserver *s)
{
    if (s->ready) {
        return s->ready(s->ready_aux);
    }
    return true;    /* the TLS pair, when there is one, was loaded at creation */
}

static enum MHD_Result
serve_health(struct http_request *req, enum health_route which)
{
    struct httpserver *s = req->server;

    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        return respond_text(req, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                            "method not allowed");
    }
    if (which == HEALTH_HEALTHZ) {
        return respond_text(req, MHD_HTTP_OK, NULL, "ok");
    }
    if (which == HEALTH_READYZ) {
        return server_is_ready(s) ? respond_text(req, MHD_HTTP_OK, NULL, "ok")
               : respond_text(req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "not ready");
    }
    char *text = s->metrics ? metrics_render(s->metrics) : strdup("");

    if (!text) {
        return respond_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
    }
    return respond(req, MHD_HTTP_OK, "text/plain; version=0.0.4", text, strlen(text),
                   NULL);
}

/* The route for 'method' and 'path', or NULL with the methods the path has in
 * 'allow' ("" for an unknown path). */
static const struct httpserver_route *
route_find(const struct httpserver *s, const char *method, const char *path,
           char *allow, size_t allow_size)
{
    struct capbuf methods;

    capbuf_init_fixed(&methods, allow, allow_size, 0);
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct httpserver_route *r = &s->routes[i];

        if (strcmp(r->path, path)) {
            continue;
        }
        if (!strcmp(r->method, method)) {
            return r;
        }
        capbuf_printf(&methods, "%s%s", methods.len ? ", " : "", r->method);
    }
    return NULL;
}

/* A refusal decided from the headers, answered once the body is in. */
static void
request_refuse(struct http_request *req, unsigned status, const char *text)
{
    req->verdict = VERDICT_ERROR;
    req->error_status = status;
    snprintf(req->error_text, sizeof req->error_text, "%s", text);
}

static bool
expects_continue(const struct http_request *req)
{
    const char *expect = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_EXPECT);

    return expect && !strcasecmp(expect, "100-continue");
}

/* Takes 'bytes' more of the server-wide budget for held bodies for 'req'.
 * False, taking nothing, when the budget cannot hold them. */
static bool
body_budget_take(struct http_request *req, size_t bytes)
{
    struct httpserver *s = req->server;

    if (atomic_fetch_add(&s->buffered, bytes) + bytes > s->max_buffered) {
        atomic_fetch_sub(&s->buffered, bytes);
        return false;
    }
    req->charged += bytes;
    return true;
}

/* Frees the body 'req' holds and gives its share of the budget back. */
static void
body_release(struct http_request *req)
{
    bool big = req->body.cap >= HTTPSERVER_TRIM_BODY;

    capbuf_release(&req->body);
    atomic_fetch_sub(&req->server->buffered, req->charged);
    req->charged = 0;
    if (big) {
        malloc_trim(0);
    }
}

/* Answers 'status' with the one line 'text' while the body is still coming
 * in.  libmicrohttpd 0.9.75 queues no response between the headers and the
 * end of the body, so the answer is written here, on the connection the
 * worker is serving now (nothing else writes to it): a few hundred bytes,
 * which the socket takes at once, so a client that does not read cannot hold
 * the worker.  The rest of the body is then dropped, up to
 * HTTPSERVER_LINGER_MAX ('linger'), and the connection closed (MHD_NO). */
static enum MHD_Result
respond_mid_body(struct http_request *req, unsigned status, const char *text, bool linger)
{
    const union MHD_ConnectionInfo *info;
    char answer[512];
    int n;

    req->status = status;
    n = snprintf(answer, sizeof answer,
                 "HTTP/1.1 %u %s\r\nConnection: close\r\n%s"
                 "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s\n",
                 status, MHD_get_reason_phrase_for(status),
                 status == MHD_HTTP_SERVICE_UNAVAILABLE
                 ? "Retry-After: " HTTPSERVER_RETRY_AFTER "\r\n" : "",
                 strlen(text) + 1, text);
    if (n <= 0 || (size_t) n >= sizeof answer) {
        return MHD_NO;
    }
    if (req->server->tls) {
        info = MHD_get_connection_info(req->mhd, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (info && info->tls_session) {
            gnutls_record_send(info->tls_session, answer, (size_t) n);
        }
    } else if (req->conn && req->conn->fd >= 0) {
        send(req->conn->fd, answer, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    req->answered_mid_body = true;
    return linger ? MHD_YES : MHD_NO;
}

/* A chunk of body, or its end ('len' 0), after respond_mid_body(): dropped,
 * until the end or HTTPSERVER_LINGER_MAX, where the connection is closed. */
static enum MHD_Result
linger(struct http_request *req, size_t len)
{
    if (!len || len > HTTPSERVER_LINGER_MAX - req->lingered) {
        return MHD_NO;
    }
    req->lingered += len;
    return MHD_YES;
}

/* The 503 for a body the budget cannot hold, at once: the client retries
 * (Retry-After) rather than wait for memory held by others.  'mid_body':
 * part of the body is in already. */
static enum MHD_Result
respond_full(struct http_request *req, bool mid_body)
{
    static const char text[] = "server busy: too many request bodies held at once, retry";

    return mid_body ? respond_mid_body(req, MHD_HTTP_SERVICE_UNAVAILABLE, text, true)
                    : respond_text(req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "%s", text);
}

/* A declared body over the cap.  A client that waits for "100 Continue" gets
 * the 413 now and never sends the body.  One that sends it anyway (Go's
 * net/http, so the API server, never waits) would meet a connection closed on
 * unread data, a reset, and lose the answer: its body is read and dropped,
 * never stored, and answered when it is in — up to HTTPSERVER_DISCARD_MAX past
 * the cap; beyond that the answer goes now and the connection with it. */
static enum MHD_Result
request_too_large(struct http_request *req, uint64_t declared)
{
    struct httpserver *s = req->server;
    char text[128];

    snprintf(text, sizeof text, "request body too large (max %zu bytes)", s->max_body);
    if (expects_continue(req) || declared - s->max_body > HTTPSERVER_DISCARD_MAX) {
        return respond_text(req, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "%s", text);
    }
    request_refuse(req, MHD_HTTP_CONTENT_TOO_LARGE, text);
    return MHD_YES;
}

/* Decides from the headers what the request gets.  Only a body too large to
 * read is answered now: libmicrohttpd then skips the body and closes the
 * connection after the answer.  Every other refusal waits for the (capped)
 * body to be read and dropped, so that the client reads the answer instead of
 * a reset and the connection stays usable. */
static enum MHD_Result
request_admit(struct http_request *req)
{
    struct httpserver *s = req->server;
    const char *type, *length;
    uint64_t declared = 0;

    length = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && numparse_u64(length, 0, UINT64_MAX, &declared) < 0) {
        return respond_text(req, MHD_HTTP_BAD_REQUEST, NULL, "invalid content length");
    }
    if (declared > s->max_body) {
        return request_too_large(req, declared);
    }
    req->route = route_find(s, req->method, req->path, req->allow, sizeof req->allow);
    req->health = health_route_of(s, req->path);
    if (req->route) {
        type = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_CONTENT_TYPE);
        if (req->route->content_type && !media_type_is(type, req->route->content_type)) {
            char text[128];

            snprintf(text, sizeof text, "unsupported media type: expected %s",
                     req->route->content_type);
            request_refuse(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, text);
        } else {
            req->verdict = VERDICT_ROUTE;
        }
    } else if (req->health != HEALTH_NONE) {
        req->verdict = VERDICT_HEALTH;
    } else if (req->allow[0]) {
        request_refuse(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    } else {
        request_refuse(req, MHD_HTTP_NOT_FOUND, "not found");
    }
    /* The declared size is allocated at once: it is within the cap, and
     * within the budget for all bodies or answered 503 now. */
    if (req->verdict == VERDICT_ROUTE && declared > 0) {
        char *at;

        if (!body_budget_take(req, capbuf_cap_for(&req->body, (size_t) declared))) {
            return respond_full(req, false);
        }
        if (capbuf_reserve(&req->body, (size_t) declared, &at) < 0) {
            return respond_text(req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory");
        }
    }
    return MHD_YES;
}

/* Takes a chunk of body: kept for a route, counted and dropped otherwise.  A
 * route's body that passes the cap (only possible without a Content-Length,
 * i.e. chunked) is answered 413 at once, and one the budget for all bodies
 * cannot hold 503: libmicrohttpd reads no more of it and closes the connection
 * after the answer.  MHD_NO (a reset) when dropping a refused body passes
 * HTTPSERVER_DISCARD_MAX or memory runs out. */
static enum MHD_Result
request_take_body(struct http_request *req, const char *data, size_t len)
{
    size_t max = req->server->max_body, cap;

    if (req->verdict != VERDICT_ROUTE) {
        if (len > max + HTTPSERVER_DISCARD_MAX - req->dropped) {
            req->status = MHD_HTTP_CONTENT_TOO_LARGE;
            return MHD_NO;
        }
        req->dropped += len;
        return MHD_YES;
    }
    if (len > capbuf_room(&req->body)) {
        char text[128];

        snprintf(text, sizeof text, "request body too large (max %zu bytes)", max);
        body_release(req);
        return respond_mid_body(req, MHD_HTTP_CONTENT_TOO_LARGE, text, true);
    }
    cap = capbuf_cap_for(&req->body, len);
    if (cap > req->body.cap && !body_budget_take(req, cap - req->body.cap)) {
        body_release(req);
        return respond_full(req, true);
    }
    if (capbuf_append(&req->body, data, len) < 0) {
        req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result
request_run_handler(struct http_request *req)
{
    struct http_response resp = { 0 };

    req->route->handler(req->route->aux, req, &resp);
    if (resp.status < 100 || resp.status > 599) {
        free(resp.body);
        return respond_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                            "internal server error");
    }
    return respond(req, resp.status, resp.content_type, resp.body, resp.body_len, NULL);
}

/* The whole request is in. */
static enum MHD_Result
request_finish(struct http_request *req)
{
    httpconn_set_body_received(req->conn);
    switch (req->verdict) {
    case VERDICT_ROUTE:
        return request_run_handler(req);
    case VERDICT_HEALTH:
        return serve_health(req, req->health);
    case VERDICT_ERROR:
    default:
        return respond_text(req, req->error_status,
                            req->error_status == MHD_HTTP_METHOD_NOT_ALLOWED ? req->allow
                                                                             : NULL,
                            "%s", req->error_text);
    }
}

static struct http_request *
request_new(struct httpserver *s, struct MHD_Connection *mhd, const char *method,
            const char *path)
{
    struct http_request *req = calloc(1, sizeof *req);
    const union MHD_ConnectionInfo *info;

    if (!req) {
        return NULL;
    }
    req->server = s;
    req->mhd = mhd;
    req->method = method;
    req->path = path;
    req->start = clock_monotonic_now();
    capbuf_init(&req->body, s->max_body, 0);
    info = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn = info ? info->socket_context : NULL;
    httpconn_set_in_request(req->conn, true);
    atomic_fetch_add(&s->in_flight, 1);
    metrics_add(s->m.in_flight, 1);
    return req;
}

/* libmicrohttpd calls this once with the headers, once per chunk of body, and
 * once more with no data when the body is complete. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **req_cls)
{
    struct httpserver *s = cls;
    struct http_request *req = *req_cls;

    if (!req) {
        req = request_new(s, mhd, method, url);
        if (!req) {
            return MHD_NO;
        }
        *req_cls = req;
        return request_admit(req);
    }
    if (req->answered_mid_body) {
        size_t len = *upload_data_size;

        *upload_data_size = 0;
        return linger(req, len);
    }
    if (req->status) {          /* answered early; libmicrohttpd drops the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;

        *upload_data_size = 0;
        /* A body trickled in slowly is cut at the deadline (the reaper cuts
         * one that stopped coming). */
        if (clock_seconds_since(&req->start) > s->body_timeout_s) {
            char text[128];

            snprintf(text, sizeof text, "request body not received within %u seconds",
                     s->body_timeout_s);
            body_release(req);
            return respond_mid_body(req, MHD_HTTP_REQUEST_TIMEOUT, text, false);
        }
        return request_take_body(req, upload_data, len);
    }
    return request_finish(req);
}

static void
on_completed(void *cls, struct MHD_Connection *mhd, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct httpserver *s = cls;
    struct http_request *req = *req_cls;

    if (!req) {
        return;
    }
    if (req->status) {
        metrics_add(httpmetrics_requests(&s->m, req->status), 1);
    }
    metrics_observe(s->m.duration, clock_seconds_since(&req->start));
    metrics_add(s->m.in_flight, -1);
    httpconn_set_in_request(req->conn, false);
    body_release(req);
    free(req);
    *req_cls = NULL;
    /* The drain checks in_flight and waits under the lock: broadcasting under
     * it too means the last request's signal cannot fall between the two. */
    if (atomic_fetch_sub(&s->in_flight, 1) == 1) {
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->drained);
        pthread_mutex_unlock(&s->lock);
    }
}

/* ---- accessors for handlers --------------------------------------------- */

const char *
http_request_method(const struct http_request *req)
{
    return req->method;
}

const char *
http_request_path(const struct http_request *req)
{
    return req->path;
}

const char *
http_request_query(const struct http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, key);
}

const char *
http_request_body(const struct http_request *req, size_t *len)
{
    if (len) {
        *len = req->body.len;
    }
    return capbuf_str(&req->body);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

void
http_response_text(struct http_response *resp, unsigned status, const char *text)
{
    size_t len = strlen(text);

    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = malloc(len + 1);
    resp->body_len = resp->body ? len + 1 : 0;
    if (resp->body) {
        memcpy(resp->body, text, len);
        resp->body[len] = '\n';
    }
}

/* ---- the background threads --------------------------------------------- */

static void
on_reap_tick(void *aux, bool files_due)
{
    struct httpserver *s = aux;

    httpconns_reap_slow(&s->conns, s->request_deadline_s, s->body_timeout_s);
}

static void
on_files_tick(void *aux, bool files_due)
{
    struct httpserver *s = aux;
    struct errmsg err = { "" };

    if (files_due && tlscreds_store_files_changed(s->tls)) {
        tls_reload(s, HTTPSERVER_TLS_FILES_CHANGED, &err);
    }
}

/* ---- create / shutdown / destroy ------------------------------------------ */

static unsigned
default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > HTTPSERVER_MAX_THREADS ? HTTPSERVER_MAX_THREADS : (unsigned) n;
}

static int
copy_config(struct httpserver *s, const struct httpserver_config *cfg,
            struct errmsg *err)
{
    if (cfg->n_routes > HTTPSERVER_MAX_ROUTES || (cfg->n_routes && !cfg->routes)) {
        return errmsg_set(err, -EINVAL, "too many routes (max %d)", HTTPSERVER_MAX_ROUTES);
    }
    if (cfg->max_body > HTTPSERVER_MAX_BODY_LIMIT) {
        return errmsg_set(err, -EINVAL, "maximum body size %zu is over the limit of %u bytes",
                          cfg->max_body, HTTPSERVER_MAX_BODY_LIMIT);
    }
    if (cfg->threads > HTTPSERVER_MAX_THREADS) {
        return errmsg_set(err, -EINVAL, "%u threads is over the limit of %d",
                          cfg->threads, HTTPSERVER_MAX_THREADS);
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct httpserver_route *r = &cfg->routes[i];

        if (!r->method || !r->path || !r->handler) {
            return errmsg_set(err, -EINVAL, "route %zu lacks a method, path or handler", i);
        }
    }
    if (cfg->n_routes) {
        s->routes = calloc(cfg->n_routes, sizeof *s->routes);
        if (!s->routes) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
        memcpy(s->routes, cfg->routes, cfg->n_routes * sizeof *s->routes);
    }
    s->n_routes = cfg->n_routes;
    s->health = cfg->health;
    s->health_metrics = !cfg->health_without_metrics;
    s->ready = cfg->ready;
    s->ready_aux = cfg->ready_aux;
    s->metrics = cfg->metrics;
    s->tls_report = cfg->tls_report;
    s->tls_report_aux = cfg->tls_report_aux;
    s->max_body = cfg->max_body ? cfg->max_body : HTTPSERVER_DEFAULT_MAX_BODY;
    s->idle_timeout_s = cfg->idle_timeout_s ? cfg->idle_timeout_s : HTTPSERVER_DEFAULT_IDLE_S;
    /* Long enough for any honest client on a slow link; twice the idle
     * timeout, so an idle keep-alive connection always meets that one first. */
    s->request_deadline_s = 2 * s->idle_timeout_s;
    s->body_timeout_s = cfg->body_timeout_s ? cfg->body_timeout_s
                                            : HTTPSERVER_DEFAULT_BODY_TIMEOUT_S;
    s->max_buffered = cfg->max_buffered_body ? cfg->max_buffered_body
                      : HTTPSERVER_DEFAULT_BUFFERED_BODIES * s->max_body;
    if (s->max_buffered < s->max_body) {
        return errmsg_set(err, -EINVAL, "the budget for held bodies (%zu bytes) is below "
                          "the maximum body size (%zu bytes)", s->max_buffered, s->max_body);
    }
    return 0;
}

static int
setup_tls(struct httpserver *s, const struct httpserver_config *cfg,
          struct errmsg *err)
{
    int r;

    if (!cfg->tls_cert_file) {
        if (cfg->client_ca_file) {
            return errmsg_set(err, -EINVAL, "a client CA needs a serving certificate");
        }
        return 0;
    }
    if (!cfg->tls_key_file) {
        return errmsg_set(err, -EINVAL, "a certificate needs its private key file");
    }
    if (cfg->tls_policy) {
        s->tls_policy = *cfg->tls_policy;
    } else {
        tlspolicy_default(&s->tls_policy);
    }
    r = tlscreds_store_create(cfg->tls_cert_file, cfg->tls_key_file, &s->tls, err);
    if (r < 0) {
        return r;
    }
    if (cfg->client_ca_file
        && (r = read_client_ca(cfg->client_ca_file, &s->client_ca, err)) < 0) {
        return r;
    }
    return httpwatch_files(&s->watch, cfg->tls_cert_file, cfg->tls_key_file, err);
}

static int
start_daemon(struct httpserver *s, const struct httpserver_config *cfg,
             struct errmsg *err)
{
    /* poll(), not epoll: in libmicrohttpd 0.9.75 MHD_quiesce_daemon() races the
     * epoll workers over removing the listening socket from their epoll sets,
     * and the loser calls MHD_PANIC() (abort) on ENOENT — seen here under ASan
     * in about one shutdown in twenty.  With poll() quiescing only wakes the
     * workers through their ITC.  Each worker polls its share of at most
     * 'max_connections' sockets, which costs nothing measurable at this size. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    struct MHD_OptionItem tls_opts[4] = { { MHD_OPTION_END, 0, NULL } };
    size_t n = 0;

    if (s->tls) {
        flags |= MHD_USE_TLS;
        tls_opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_PRIORITIES, 0,
                                                  s->tls_policy.priority };
        tls_opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                                  (void *) &tls_retrieve };
        if (s->client_ca) {
            tls_opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                                      s->client_ca };
        }
    }
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, &on_request, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : default_threads(),
        MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections ? cfg->max_connections : HTTPSERVER_DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_connections_per_ip ? cfg->max_connections_per_ip
                                    : HTTPSERVER_DEFAULT_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPSERVER_CONN_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, &on_connection, s,
        MHD_OPTION_NOTIFY_COMPLETED, &on_completed, s,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!s->daemon) {
        return errmsg_set(err, -EIO, "cannot start the HTTP server on '%s'", cfg->listen);
    }
    return 0;
}

int
httpserver_create(const struct httpserver_config *config, struct httpserver **ret,
                  struct errmsg *err)
{
    struct httpserver *s = calloc(1, sizeof *s);
    int r;

    if (!s) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = monowait_init(&s->lock, &s->drained);
    if (r < 0) {
        free(s);
        return errmsg_set(err, r, "cannot make a lock: %s", strerror(-r));
    }
    s->listen_fd = -1;
    httpwatch_init(&s->reaper);
    httpwatch_init(&s->watch);
    httpconns_init(&s->conns);
    if ((r = copy_config(s, config, err)) < 0 || (r = setup_tls(s, config, err)) < 0) {
        goto fail;
    }
    httpmetrics_register(&s->m, s->metrics,
                         config->metrics_prefix ? config->metrics_prefix : "exportflows",
                         s->tls != NULL);
    if (s->tls) {
        tls_update_metrics(s);
    }
    if ((r = httpwatch_open(&s->reaper, err)) < 0
        || (s->tls && (r = httpwatch_open(&s->watch, err)) < 0)) {
        goto fail;
    }
    if ((r = httplisten_socket(config->listen, &s->listen_fd, &s->port, err)) < 0
        || (r = start_daemon(s, config, err)) < 0) {
        goto fail;
    }
    s->listen_fd = -1;  /* libmicrohttpd's now, until MHD_quiesce_daemon() */
    if ((r = httpwatch_start(&s->reaper, on_reap_tick, s, err)) < 0
        || (s->tls && (r = httpwatch_start(&s->watch, on_files_tick, s, err)) < 0)) {
        goto fail;
    }
    *ret = s;
    return 0;

fail:
    httpserver_destroy(s);
    return r;
}

uint16_t
httpserver_port(const struct httpserver *server)
{
    return server->port;
}

void
httpserver_format_address(const struct httpserver *server, const char *listen,
                          char *buf, size_t size)
{
    const char *colon = strrchr(listen, ':');
    int host_len = colon ? (int) (colon - listen) : 0;

    snprintf(buf, size, "%.*s:%u", host_len, listen, (unsigned) server->port);
}

int
httpserver_reload_tls(struct httpserver *server, struct errmsg *err)
{
    if (!server->tls) {
        return errmsg_set(err, -EINVAL, "the server does not use TLS");
    }
    struct errmsg local = { "" };

    return tls_reload(server, HTTPSERVER_TLS_REQUESTED, err ? err : &local);
}

time_t
httpserver_cert_not_after(const struct httpserver *server)
{
    return server->tls ? tlscreds_store_not_after(server->tls) : 0;
}

/* Waits until no request is in flight or about to start, or 'drain_s' has
 * passed.  Requests in flight signal 'drained' as they finish; input that no
 * worker took yet is looked for every few milliseconds. */
static void
wait_drained(struct httpserver *s, unsigned drain_s)
{
    struct timespec deadline = clock_monotonic_now();

    deadline.tv_sec += drain_s;
    for (;;) {
        struct timespec now = clock_monotonic_now(), wake = now;
        bool busy;

        if (now.tv_sec > deadline.tv_sec
            || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
            return;
        }
        wake.tv_nsec += HTTPSERVER_DRAIN_POLL_MS * 1000000L;
        if (wake.tv_nsec >= 1000000000L) {
            wake.tv_sec++;
            wake.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->lock);
        if (s->in_flight > 0) {
            pthread_cond_timedwait(&s->drained, &s->lock, &wake);
        }
        busy = s->in_flight > 0;
        pthread_mutex_unlock(&s->lock);
        if (!busy && !httpconns_have_input(&s->conns)) {
            return;
        }
        if (!busy) {
            struct timespec pause = { 0, HTTPSERVER_DRAIN_POLL_MS * 1000000L };

            nanosleep(&pause, NULL);
        }
    }
}

/* libmicrohttpd joins its workers in MHD_stop_daemon(): a handler still running
 * after the drain time delays it until the handler returns.  Must not be called
 * from a handler (a worker cannot join itself). */
void
httpserver_shutdown(struct httpserver *server, unsigned drain_s)
{
    struct httpserver *s = server;
    MHD_socket fd;

    pthread_mutex_lock(&s->lock);
    if (s->shut_down || s->draining) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    atomic_store(&s->draining, true);
    pthread_mutex_unlock(&s->lock);

    if (s->daemon) {
        fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
        }
        wait_drained(s, drain_s);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    httpwatch_stop(&s->watch);
    httpwatch_stop(&s->reaper);
    pthread_mutex_lock(&s->lock);
    s->shut_down = true;
    pthread_mutex_unlock(&s->lock);
}

void
httpserver_destroy(struct httpserver *server)
{
    if (!server) {
        return;
    }
    httpserver_shutdown(server, 0);
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
    }
    httpwatch_close(&server->watch);
    httpwatch_close(&server->reaper);
    tlscreds_store_destroy(server->tls);
    free(server->client_ca);
    free(server->routes);
    httpconns_release(&server->conns);
    monowait_release(&server->lock, &server->drained);
    free(server);
}
