/* httpserver — HTTP(S) server on libmicrohttpd for the webhook and the applier.
 *
 * Serves a fixed table of routes.  The server reads the whole request body (up to
 * 'max_body'; past it 413 and the rest is not read: at once for a chunked body
 * as soon as it crosses the cap), answers 404 for an unknown
 * path, 405 for a known path with another method, 415 when a route requires a
 * content type and the request has another, and calls the route's handler with
 * the complete request in one of its worker threads.  With 'health' set it also
 * serves GET /healthz, /readyz (the 'ready' callback decides) and, unless
 * 'health_without_metrics', /metrics.
 *
 * With TLS (TLS 1.2 and 1.3, ECDHE with AEAD ciphers only; see tlspolicy.h for
 * narrowing that down further) the certificate and key are read from files
 * and re-read when they change — also through the symlink swap that Kubernetes
 * secret volumes do — without dropping a connection or failing a request; a
 * broken new pair is refused and the old one stays in use.  Only regular files
 * are read, without ever waiting on them (a FIFO in place of the key is refused
 * at once), and slow clients are cut by a thread of their own, so nothing on
 * disk can stall the server.  Every reload, whatever started it, is reported
 * through the config's 'tls_report' callback and counted in the metrics.
 *
 * Limits: total connections, connections per client address, an idle timeout, a
 * deadline for the headers and a shorter one for the body, a budget for the
 * bodies held at once by all requests together (past it 503 with Retry-After
 * at once), a worker pool sized to the cores.  Slow or abusive clients cannot
 * hold more than their share or make memory grow without bound.
 *
 * Request metrics (requests by code, latency histogram, in-flight, certificate
 * not-after, reloads) go to the registry given in the config. */
#ifndef EXPORTFLOWS_HTTPSERVER_H
#define EXPORTFLOWS_HTTPSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/base/metrics.h"
#include "exportflows/http/tlspolicy.h"

struct httpserver;
struct http_request;

/* What a handler fills in.  'body' is malloc()ed by the handler and freed by the
 * server (also when the connection has gone away). */
struct http_response {
    unsigned status;
    const char *content_type;   /* static string */
    char *body;
    size_t body_len;
};

/* Sets 'resp' to 'status' with a copy of 'text' and a newline as text/plain
 * (no body on ENOMEM). */
void http_response_text(struct http_response *resp, unsigned status, const char *text);

/* Runs in a worker thread; 'req' is borrowed for the duration of the call. */
typedef void http_handler_fn(void *aux, const struct http_request *req,
                             struct http_response *resp);

struct httpserver_route {
    const char *method;         /* "POST" */
    const char *path;           /* "/validate", matched exactly */
    const char *content_type;   /* required media type ("application/json"), or NULL */
    http_handler_fn *handler;
    void *aux;
};

/* What started a reload of the certificate files. */
enum httpserver_tls_cause {
    HTTPSERVER_TLS_FILES_CHANGED,   /* the server saw the files change */
    HTTPSERVER_TLS_REQUESTED,       /* httpserver_reload_tls() (SIGHUP) */
};

/* The outcome of one reload, borrowed for the callback's duration. */
struct httpserver_tls_report {
    enum httpserver_tls_cause cause;
    int error;                  /* 0 or -errno: refused, the old pair stays */
    const char *message;        /* why it was refused; "" on success */
    bool changed;               /* a new pair is in use */
};

/* Called after every reload, from the thread that did it: the server's own
 * watcher thread, or the caller of httpserver_reload_tls().  Must not call
 * back into the server. */
typedef void httpserver_tls_report_fn(void *aux, const struct httpserver_tls_report *report);

struct httpserver_config {
    const char *listen;             /* "127.0.0.1:0", "0.0.0.0:8443", "[::]:8443" */
    const char *tls_cert_file;      /* NULL: plain HTTP */
    const char *tls_key_file;
    const char *client_ca_file;     /* NULL: no client certificate required */
    const struct tlspolicy *tls_policy;     /* copied; NULL: tlspolicy_default() */
    httpserver_tls_report_fn *tls_report;   /* NULL: reloads are only counted */
    void *tls_report_aux;
    const struct httpserver_route *routes;
    size_t n_routes;
    bool health;                    /* serve /healthz, /readyz, /metrics */
    bool health_without_metrics;    /* ... but not /metrics (a route may serve it) */
    bool (*ready)(void *aux);       /* /readyz; NULL: ready when TLS (if any) is loaded */
    void *ready_aux;
    struct metrics *metrics;        /* borrowed; may be NULL */
    const char *metrics_prefix;     /* "exportflows_webhook" */
    size_t max_body;                /* 0: 3 MiB */
    unsigned max_connections;       /* 0: 1024 */
    unsigned max_connections_per_ip;/* 0: 64 */
    unsigned idle_timeout_s;        /* 0: 30 */
    unsigned body_timeout_s;        /* a body must be in this long after its
                                     * headers, else 408 or a cut; 0: 10 */
    size_t max_buffered_body;       /* bodies held at once, all requests
                                     * together; past it 503 at once; 0: 8
                                     * bodies at 'max_body' */
    unsigned threads;               /* 0: the number of cores */
};

/* Borrowed accessors for handlers. */
const char *http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
const char *http_request_query(const struct http_request *req, const char *key);
const char *http_request_body(const struct http_request *req, size_t *len);
/* The value of request header 'name' (case-insensitive), NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);

/* Binds, loads TLS material, starts the workers.  Caller destroys '*ret' with
 * httpserver_destroy().  -errno with a message in 'err' on failure. */
int httpserver_create(const struct httpserver_config *config,
                      struct httpserver **ret, struct errmsg *err);

/* The bound port (useful with port 0). */
uint16_t httpserver_port(const struct httpserver *server);

/* Writes 'listen' (the address the server was created with) with its port
 * replaced by the bound one, e.g. "127.0.0.1:0" -> "127.0.0.1:41234", into 'buf'.
 * Both programs log it as "listening address=... server=NAME". */
void httpserver_format_address(const struct httpserver *server, const char *listen,
                               char *buf, size_t size);

/* Re-reads the certificate files now (the server also does it by itself when they
 * change).  0 when the new pair is loaded or unchanged; -errno and a message when
 * it is refused (the old pair stays).  Reported to 'tls_report' as well. */
int httpserver_reload_tls(struct httpserver *server, struct errmsg *err);

/* Not-after of the loaded certificate, 0 without TLS. */
time_t httpserver_cert_not_after(const struct httpserver *server);

/* Stops accepting, lets in-flight requests finish (up to 'drain_s' seconds),
 * closes idle keep-alive connections.  Safe to call once from any thread. */
void httpserver_shutdown(struct httpserver *server, unsigned drain_s);

/* Shuts down if needed and frees everything; accepts NULL. */
void httpserver_destroy(struct httpserver *server);

#endif
