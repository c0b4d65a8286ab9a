/* kube — see include/exportflows/kube/kube.h. */
#include "exportflows/kube/kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/jsontext.h"

#ifndef EXPORTFLOWS_VERSION
#define EXPORTFLOWS_VERSION "unknown"
#endif

/* How long curl_multi_poll() may sleep: only a bound, kube_client_interrupt()
 * wakes it at once. */
#define POLL_MS 1000

struct kube_client {
    struct kubeconfig *cfg;
    CURL *easy;
    CURLM *multi;               /* holds the connection cache between calls */
    atomic_bool interrupted;
    size_t max_body;
    unsigned long connections;
    unsigned long requests;
    char errbuf[CURL_ERROR_SIZE];
    /* "<program>/<version>", so that audit logs and API priority and fairness tell
     * the webhook's publisher from the appliers. */
    char user_agent[128];
};

/* One call in progress. */
struct transfer {
    struct kube_client *client;
    struct capbuf body;         /* the reply body, at most max_body */
    bool too_big;
    kube_stream_fn *fn;         /* when set, a 2xx body goes there instead */
    void *ctx;
    int fn_error;
};

int
kube_client_create(struct kubeconfig *cfg, struct kube_client **ret, struct errmsg *err)
{
    struct kube_client *c;

    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        return errmsg_set(err, -EIO, "cannot initialise libcurl");
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    c->cfg = cfg;
    c->max_body = KUBE_MAX_BODY_DEFAULT;
    snprintf(c->user_agent, sizeof c->user_agent, "%s/%s", program_invocation_short_name,
             EXPORTFLOWS_VERSION);
    atomic_init(&c->interrupted, false);
    c->easy = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        kube_client_destroy(c);
        return errmsg_set(err, -ENOMEM, "cannot create a libcurl handle");
    }
    *ret = c;
    return 0;
}

void
kube_client_destroy(struct kube_client *client)
{
    if (!client) {
        return;
    }
    if (client->easy) {
        curl_easy_cleanup(client->easy);
    }
    if (client->multi) {
        curl_multi_cleanup(client->multi);
    }
    free(client);
    curl_global_cleanup();      /* balances kube_client_create()'s init */
}

json_t *
kube_meta(const json_t *object, const char *key)
{
    return json_object_get(json_object_get(object, "metadata"), key);
}

const char *
kube_meta_string(const json_t *object, const char *key)
{
    return json_string_value(kube_meta(object, key));
}

void
kube_client_set_max_body(struct kube_client *client, size_t max)
{
    client->max_body = max ? max : KUBE_MAX_BODY_DEFAULT;
}

void
kube_client_interrupt(void *arg)
{
    struct kube_client *client = arg;

    atomic_store(&client->interrupted, true);
    curl_multi_wakeup(client->multi);
}

unsigned long
kube_client_connections(const struct kube_client *client)
{
    return client->connections;
}

unsigned long
kube_client_requests(const struct kube_client *client)
{
    return client->requests;
}

int
kube_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

bool
kube_name_valid(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;

    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '-' && c != '.') || i == 0 || i == len - 1)) {
            return false;
        }
    }
    return true;
}

/* The negative errno value kube_request() uses for HTTP status 'status' and the
 * Kubernetes Status 'reason' (may be NULL). */
static int
kube_status_errno(long status, const char *reason)
{
    switch (status) {
    case 400: case 415: case 422:
        return -EINVAL;
    case 401: case 403:
        return -EACCES;
    case 404:
        return -ENOENT;
    case 405:
        return -EOPNOTSUPP;
    case 409:
        return reason && !strcmp(reason, "AlreadyExists") ? -EEXIST : -EAGAIN;
    case 410:
        return -ESTALE;
    case 413:
        return -E2BIG;
    case 429:
        return -EBUSY;
    }
    return status >= 500 ? -EIO : -EPROTO;
}

/* ---- one transfer ---- */

/* Appends to the reply buffer, growing it up to the cap and never past it. */
static int
transfer_append(struct transfer *t, const char *data, size_t len)
{
    int r = capbuf_append(&t->body, data, len);

    if (r == -E2BIG) {
        t->too_big = true;
    }
    return r;
}

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * nmemb;

    if (t->fn) {
        long status = 0;

        curl_easy_getinfo(t->client->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            t->fn_error = t->fn(t->ctx, data, len);
            return t->fn_error ? 0 : len;
        }
    }
    return transfer_append(t, data, len) ? 0 : len;
}

/* The request headers: JSON both ways, no "Expect: 100-continue", the token. */
static int
make_headers(const char *content_type, const char *token, struct curl_slist **ret,
             struct errmsg *err)
{
    struct curl_slist *h = NULL, *n;
    char line[64 + 8192];
    const char *fixed[] = { "Accept: application/json", "Expect:", line };

    snprintf(line, sizeof line, "Content-Type: %s",
             content_type ? content_type : "application/json");
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        n = curl_slist_append(h, fixed[i]);
        if (!n) {
            goto nomem;
        }
        h = n;
    }
    if (token) {
        if ((size_t) snprintf(line, sizeof line, "Authorization: Bearer %s", token)
            >= sizeof line) {
            curl_slist_free_all(h);
            return errmsg_set(err, -EINVAL, "the bearer token is too long");
        }
        n = curl_slist_append(h, line);
        explicit_bzero(line, sizeof line);
        if (!n) {
            goto nomem;
        }
        h = n;
    }
    *ret = h;
    return 0;
nomem:
    curl_slist_free_all(h);
    return errmsg_set(err, -ENOMEM, "out of memory");
}

static void
setup_tls(struct kube_client *c)
{
    struct kubeconfig_pem ca = kubeconfig_ca(c->cfg);
    struct kubeconfig_pem cert = kubeconfig_client_cert(c->cfg);
    struct kubeconfig_pem key = kubeconfig_client_key(c->cfg);
    CURL *e = c->easy;

    if (ca.data) {
        /* Trust the cluster's CA only, not the system bundle as well. */
        struct curl_blob blob = { (void *) ca.data, ca.len, CURL_BLOB_COPY };

        curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (cert.data && key.data) {
        struct curl_blob cb = { (void *) cert.data, cert.len, CURL_BLOB_COPY };
        struct curl_blob kb = { (void *) key.data, key.len, CURL_BLOB_COPY };

        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (kubeconfig_insecure(c->cfg)) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* Sets every option of one call on the (reset) easy handle.  The handle keeps its
 * connection across curl_easy_reset(), which only clears options. */
static int
setup_call(struct transfer *t, const char *method, const char *path, const char *body,
           unsigned timeout_ms, unsigned low_speed_s, struct curl_slist *headers,
           struct errmsg *err)
{
    struct kube_client *c = t->client;
    CURL *e = c->easy;
    char url[KUBE_PATH_MAX + 512];

    if (kube_path(url, sizeof url, "%s%s", kubeconfig_server(c->cfg), path)) {
        return errmsg_set(err, -ENAMETOOLONG, "%s %.100s...: path too long", method, path);
    }
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) (timeout_ms && timeout_ms < KUBE_CONNECT_TIMEOUT_MS
                             ? timeout_ms : KUBE_CONNECT_TIMEOUT_MS));
    /* A watch may be quiet for minutes; keepalives find a dead peer meanwhile. */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    if (low_speed_s) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long) low_speed_s);
    }
    setup_tls(c);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        }
    }
    c->errbuf[0] = '\0';
    return 0;
}

/* Runs the transfer set up on the easy handle to completion, deadline or
 * interruption, through the multi handle so that kube_client_interrupt() can wake
 * it.  Returns libcurl's result. */
static CURLcode
run_transfer(struct kube_client *c, bool *interrupted)
{
    CURLcode result = CURLE_OK;
    bool done = false;

    *interrupted = false;
    if (curl_multi_add_handle(c->multi, c->easy)) {
        return CURLE_OUT_OF_MEMORY;
    }
    while (!done) {
        int running, queued;
        CURLMsg *msg;

        if (atomic_load(&c->interrupted)) {
            *interrupted = true;
            break;
        }
        if (curl_multi_perform(c->multi, &running)) {
            result = CURLE_OUT_OF_MEMORY;
            break;
        }
        while ((msg = curl_multi_info_read(c->multi, &queued))) {
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                done = true;
            }
        }
        if (!done && curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL)) {
            result = CURLE_RECV_ERROR;
            break;
        }
    }
    curl_multi_remove_handle(c->multi, c->easy);
    return result;
}

static int
curl_errno(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE:
    case CURLE_WEIRD_SERVER_REPLY: case CURLE_HTTP2: case CURLE_BAD_CONTENT_ENCODING:
        return -EPROTO;
    default:
        return -EIO;
    }
}

/* The error for a non-2xx reply, with the Kubernetes Status message when the body
 * is one. */
static int
status_error(const struct transfer *t, const char *method, const char *path,
             long status, struct errmsg *err)
{
    json_t *st = t->body.len ? json_loadb(t->body.data, t->body.len, JSONTEXT_PARSE_FLAGS,
                                          NULL) : NULL;
    const char *reason = json_string_value(json_object_get(st, "reason"));
    const char *message = json_string_value(json_object_get(st, "message"));
    int r = kube_status_errno(status, reason);

    errmsg_set(err, r, "%s %s: %ld %s%s%s", method, path, status,
               reason ? reason : "", message ? ": " : "", message ? message : "");
    json_decref(st);
    return r;
}

/* Maps the outcome of one finished transfer to 0 or -errno. */
static int
transfer_result(struct transfer *t, CURLcode code, bool interrupted, const char *method,
                const char *path, long status, struct errmsg *err)
{
    struct kube_client *c = t->client;

    if (interrupted) {
        return errmsg_set(err, -ECANCELED, "%s %s: interrupted", method, path);
    }
    if (t->fn_error) {
        return t->fn_error;
    }
    if (t->too_big) {
        return errmsg_set(err, -EMSGSIZE, "%s %s: reply larger than %zu bytes", method,
                          path, c->max_body);
    }
    if (code != CURLE_OK) {
        return errmsg_set(err, curl_errno(code), "%s %s: %s", method, path,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(code));
    }
    if (status < 200 || status >= 300) {
        return status_error(t, method, path, status, err);
    }
    return 0;
}

/* One HTTP exchange with the given token; '*ret_status' is 0 without a reply. */
static int
call_once(struct transfer *t, const char *method, const char *path,
          const char *content_type, const char *body, unsigned timeout_ms,
          unsigned low_speed_s, const char *token, long *ret_status, struct errmsg *err)
{
    struct kube_client *c = t->client;
    struct curl_slist *headers = NULL;
    long status = 0, connects = 0;
    bool interrupted;
    CURLcode code;
    int r;

    *ret_status = 0;
    if (atomic_load(&c->interrupted)) {
        return errmsg_set(err, -ECANCELED, "%s %s: interrupted", method, path);
    }
    r = make_headers(content_type, token, &headers, err);
    if (r) {
        return r;
    }
    r = setup_call(t, method, path, body, timeout_ms, low_speed_s, headers, err);
    if (!r) {
        code = run_transfer(c, &interrupted);
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
        c->connections += (unsigned long) connects;
        *ret_status = status;
        r = transfer_result(t, code, interrupted, method, path, status, err);
    }
    /* The header list held the token; the easy handle no longer points at it
     * after the next reset, and never uses it outside a transfer. */
    curl_slist_free_all(headers);
    return r;
}

/* One call, retried once with a re-read token after a 401 (tokens rotate). */
static int
call(struct transfer *t, const char *method, const char *path, const char *content_type,
     const json_t *json, unsigned timeout_ms, unsigned low_speed_s, long *http_status,
     struct errmsg *err)
{
    struct kubeconfig *cfg = t->client->cfg;
    char *body = NULL, *token = NULL, *fresh = NULL;
    long status = 0;
    int r;

    t->client->requests++;
    if (json) {
        body = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!body) {
            return errmsg_set(err, -ENOMEM, "%s %s: cannot serialise the body", method, path);
        }
    }
    r = kubeconfig_token(cfg, false, &token, err);
    if (!r) {
        r = call_once(t, method, path, content_type, body, timeout_ms, low_speed_s, token,
                      &status, err);
    }
    if (r == -EACCES && status == 401 && token
        && !kubeconfig_token(cfg, true, &fresh, NULL) && fresh && strcmp(fresh, token)) {
        capbuf_reset(&t->body);
        t->too_big = false;
        r = call_once(t, method, path, content_type, body, timeout_ms, low_speed_s, fresh,
                      &status, err);
    }
    if (http_status) {
        *http_status = status;
    }
    if (token) {
        explicit_bzero(token, strlen(token));
    }
    if (fresh) {
        explicit_bzero(fresh, strlen(fresh));
    }
    free(token);
    free(fresh);
    free(body);
    return r;
}

int
kube_request(struct kube_client *client, const char *method, const char *path,
             const char *content_type, const json_t *body, unsigned timeout_ms,
             long *http_status, json_t **ret, struct errmsg *err)
{
    struct transfer t = { .client = client };
    json_t *reply = NULL;
    json_error_t jerr;
    int r;

    capbuf_init(&t.body, client->max_body, 0);
    r = call(&t, method, path, content_type, body,
             timeout_ms ? timeout_ms : KUBE_TIMEOUT_DEFAULT_MS, 0, http_status, err);
    if (r) {
        goto out;
    }
    if (t.body.len == 0) {
        reply = json_null();
    } else {
        reply = json_loadb(t.body.data, t.body.len, JSONTEXT_PARSE_FLAGS, &jerr);
        if (!reply) {
            r = errmsg_set(err, -EPROTO, "%s %s: the reply is not JSON: %s", method, path,
                           jerr.text);
            goto out;
        }
    }
    if (ret) {
        *ret = reply;
        reply = NULL;
    }
out:
    json_decref(reply);
    capbuf_release(&t.body);
    return r;
}

int
kube_get(struct kube_client *client, const char *path, unsigned timeout_ms,
         json_t **ret, struct errmsg *err)
{
    return kube_request(client, "GET", path, NULL, NULL, timeout_ms, NULL, ret, err);
}

int
kube_create(struct kube_client *client, const char *path, const json_t *obj,
            unsigned timeout_ms, json_t **ret, struct errmsg *err)
{
    return kube_request(client, "POST", path, NULL, obj, timeout_ms, NULL, ret, err);
}

int
kube_update(struct kube_client *client, const char *path, const json_t *obj,
            unsigned timeout_ms, json_t **ret, struct errmsg *err)
{
    return kube_request(client, "PUT", path, NULL, obj, timeout_ms, NULL, ret, err);
}

int
kube_apply(struct kube_client *client, const char *path, const json_t *obj,
           const char *field_manager, bool force, unsigned timeout_ms, json_t **ret,
           struct errmsg *err)
{
    char full[KUBE_PATH_MAX];
    char *manager = curl_easy_escape(client->easy, field_manager, 0);
    int r;

    if (!manager) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_path(full, sizeof full, "%s%cfieldManager=%s%s", path,
                  strchr(path, '?') ? '&' : '?', manager, force ? "&force=true" : "");
    curl_free(manager);
    if (r) {
        return errmsg_set(err, r, "PATCH %.100s...: path too long", path);
    }
    return kube_request(client, "PATCH", full, "application/apply-patch+yaml", obj,
                        timeout_ms, NULL, ret, err);
}

int
kube_delete(struct kube_client *client, const char *path, unsigned timeout_ms,
            struct errmsg *err)
{
    return kube_request(client, "DELETE", path, NULL, NULL, timeout_ms, NULL, NULL, err);
}

/* ---- converging an object ---- */

/* Puts the resourceVersion 'rv' (borrowed; NULL: none) into 'obj' for a PUT, or
 * takes it out for a POST. */
static int
set_rv(json_t *obj, json_t *rv, struct errmsg *err)
{
    json_t *meta = json_object_get(obj, "metadata");

    if (!json_is_object(meta)) {
        return errmsg_set(err, -EINVAL, "the object to write has no metadata");
    }
    if (!rv) {
        json_object_del(meta, "resourceVersion");
        return 0;
    }
    return json_object_set(meta, "resourceVersion", rv)
           ? errmsg_set(err, -ENOMEM, "out of memory") : 0;
}

/* The object a round starts from: a copy of 'held' or a GET; an empty object when
 * absent and creatable ('*exists' false). */
static int
read_object(struct kube_client *client, const struct kube_modify_op *op,
            const json_t *held, json_t **ret, bool *exists, struct errmsg *err)
{
    int r = 0;

    *exists = true;
    if (held) {
        *ret = json_deep_copy(held);
    } else {
        r = kube_get(client, op->path, op->timeout_ms, ret, err);
        if (r == -ENOENT && op->collection) {
            *exists = false;
            *ret = json_object();
            r = 0;
        }
    }
    return !r && !*ret ? errmsg_set(err, -ENOMEM, "out of memory") : r;
}

/* One round.  '*lost' tells a lost race apart from a failure. */
static int
modify_round(struct kube_client *client, const struct kube_modify_op *op,
             const json_t *held, json_t **ret, bool *lost, struct errmsg *err)
{
    json_t *obj = NULL, *rv;
    bool exists;
    int r;

    *lost = false;
    r = read_object(client, op, held, &obj, &exists, err);
    if (r) {
        return r;
    }
    rv = json_incref(kube_meta(obj, "resourceVersion"));
    r = op->fn(op->ctx, obj, exists, err);
    if (r == KUBE_MODIFY_UNCHANGED) {
        *ret = exists ? json_incref(obj) : NULL;
        r = 0;
    } else if (r == KUBE_MODIFY_UPDATE) {
        r = set_rv(obj, exists ? rv : NULL, err);
        if (!r) {
            r = exists ? kube_update(client, op->path, obj, op->timeout_ms, ret, err)
                       : kube_create(client, op->collection, obj, op->timeout_ms, ret, err);
            *lost = r == -EAGAIN || r == -EEXIST || (r == -ENOENT && op->collection);
        }
    }
    json_decref(rv);
    json_decref(obj);
    return r;
}

int
kube_modify(struct kube_client *client, const struct kube_modify_op *op, json_t **stored,
            struct errmsg *err)
{
    unsigned attempts = op->attempts ? op->attempts : KUBE_MODIFY_ATTEMPTS;
    json_t *held = stored ? *stored : NULL, *now = NULL;
    bool lost = true;
    int r = -EAGAIN;

    for (unsigned i = 0; i < attempts && lost; i++) {
        r = modify_round(client, op, i == 0 ? held : NULL, &now, &lost, err);
    }
    if (stored && (!r || r == -EAGAIN || r == -EEXIST || r == -ENOENT)) {
        json_decref(*stored);
        *stored = r ? NULL : now;
        now = NULL;
    }
    json_decref(now);
    return r;
}

int
kube_stream(struct kube_client *client, const char *path, unsigned timeout_ms,
            unsigned low_speed_s, kube_stream_fn *fn, void *ctx, long *http_status,
            struct errmsg *err)
{
    struct transfer t = { .client = client, .fn = fn, .ctx = ctx };
    int r;

    capbuf_init(&t.body, client->max_body, 0);
    r = call(&t, "GET", path, NULL, NULL, timeout_ms, low_speed_s, http_status, err);
    capbuf_release(&t.body);
    return r;
}
