/* Tests of the HTTP(S) server, in process on 127.0.0.1:0, driven with libcurl:
 * routes and their errors, the body cap, keep-alive, health and metrics, TLS
 * versions, client certificates, certificate hot reload under load (the
 * Kubernetes "..data" symlink swap) and draining on shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "exportflows/http/certs.h"
#include "exportflows/base/clock.h"
#include "exportflows/http/httpserver.h"
#include "exportflows/base/metrics.h"
#include "../lib/testutil.h"

#define PREFIX "t"

/* ---- files -------------------------------------------------------------- */

static char *workdir;

static void
path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", workdir, name);
}

/* The text of the file 'name' in the test's directory (caller frees). */
static char *
read_in(const char *name)
{
    char path[256];
    char *text;

    path_in(path, sizeof path, name);
    text = testutil_read_file(path, NULL);
    assert_non_null(text);
    return text;
}

static void
generate_pair(const char *name)
{
    static const char *const extra[] = { "127.0.0.1", "localhost" };
    struct certs_request req = { "exportflows-webhook", "exportflows", extra, 2, 10 };
    struct errmsg err = { "" };
    char dir[128];

    path_in(dir, sizeof dir, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    if (certs_generate(dir, &req, &err) < 0) {
        fail_msg("certs_generate: %s", err.text);
    }
}

/* A client CA and a client certificate signed by it (clientAuth), plus a
 * self-signed client certificate that no configured CA vouches for. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
          const char *bc, const char *eku)
{
    X509 *cert = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), (long) (clock_monotonic_ms() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert));
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, bc);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (eku) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, eku);
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    } else {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign");
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

static void
write_pem(const char *name, X509 *cert, EVP_PKEY *key)
{
    char path[128];
    FILE *f;

    path_in(path, sizeof path, name);
    f = fopen(path, "we");
    assert_non_null(f);
    if (cert) {
        PEM_write_X509(f, cert);
    } else {
        PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    }
    fclose(f);
}

static void
generate_client_certs(void)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *rogue_key = EVP_EC_gen("P-256");
    X509 *ca = make_cert(ca_key, "client-ca", NULL, NULL, "critical,CA:TRUE", NULL);
    X509 *cert = make_cert(key, "client", ca, ca_key, "CA:FALSE", "clientAuth");
    X509 *rogue = make_cert(rogue_key, "rogue", NULL, NULL, "CA:FALSE", "clientAuth");

    write_pem("client-ca.crt", ca, NULL);
    write_pem("client.crt", cert, NULL);
    write_pem("client.key", NULL, key);
    write_pem("rogue.crt", rogue, NULL);
    write_pem("rogue.key", NULL, rogue_key);
    X509_free(ca);
    X509_free(cert);
    X509_free(rogue);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(rogue_key);
}

/* secret/..<gen>/ holds a pair; secret/..data -> ..<gen>; secret/tls.crt ->
 * ..data/tls.crt: the layout of a Kubernetes secret volume. */
static void
secret_publish(const char *gen, const char *cert_from, const char *key_from)
{
    char dir[512], dst[256], tmp[256], data[256], target[64];
    char *text;

    snprintf(target, sizeof target, "..%s", gen);
    snprintf(dst, sizeof dst, "%s/secret/%s", workdir, target);
    assert_int_equal(mkdir(dst, 0755), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/%s", dst, i ? "tls.key" : "tls.crt");
        text = read_in(i ? key_from : cert_from);
        assert_int_equal(testutil_write_text(dir, text), 0);
        free(text);
    }
    snprintf(tmp, sizeof tmp, "%s/secret/..data_tmp", workdir);
    snprintf(data, sizeof data, "%s/secret/..data", workdir);
    assert_int_equal(symlink(target, tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
}

static void
secret_init(void)
{
    char dir[128], link[128];

    path_in(dir, sizeof dir, "secret");
    assert_int_equal(mkdir(dir, 0755), 0);
    secret_publish("gen1", "gen1/tls.crt", "gen1/tls.key");
    path_in(link, sizeof link, "secret/tls.crt");
    assert_int_equal(symlink("..data/tls.crt", link), 0);
    path_in(link, sizeof link, "secret/tls.key");
    assert_int_equal(symlink("..data/tls.key", link), 0);
}

static int
group_setup(void **state)
{
    char bundle[128];
    char *ca1, *ca2, *both;

    workdir = testutil_tempdir("httpserver");
    if (!workdir) {
        return -1;
    }
    generate_pair("gen1");
    generate_pair("gen2");
    generate_client_certs();
    /* Clients trust both CAs, as a caBundle does during a rotation. */
    path_in(bundle, sizeof bundle, "bundle.crt");
    ca1 = read_in("gen1/ca.crt");
    ca2 = read_in("gen2/ca.crt");
    both = malloc(strlen(ca1) + strlen(ca2) + 1);
    assert_non_null(both);
    memcpy(both, ca1, strlen(ca1));
    memcpy(both + strlen(ca1), ca2, strlen(ca2) + 1);
    assert_int_equal(testutil_write_text(bundle, both), 0);
    free(ca1);
    free(ca2);
    free(both);
    return 0;
}

static int
group_teardown(void **state)
{
    testutil_rmtree(workdir);
    free(workdir);
    return 0;
}

/* ---- the server under test ---------------------------------------------- */

struct slow_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered;
    bool released;
};

static struct slow_gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                                 false, false };

static char *
dup_bytes(const char *data, size_t len)
{
    char *copy = malloc(len + 1);

    memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

static void
echo_handler(void *aux, const struct http_request *req, struct http_response *resp)
{
    size_t len;
    const char *body = http_request_body(req, &len);

    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = dup_bytes(body, len);
    resp->body_len = len;
}

static void
query_handler(void *aux, const struct http_request *req, struct http_response *resp)
{
    const char *timeout = http_request_query(req, "timeout");
    char text[128];

    snprintf(text, sizeof text, "%s %s timeout=%s", http_request_method(req),
             http_request_path(req), timeout ? timeout : "(none)");
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = strdup(text);
    resp->body_len = strlen(text);
}

/* Blocks until the test opens the gate (or 10 s pass). */
static void
slow_handler(void *aux, const struct http_request *req, struct http_response *resp)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&gate.lock);
    gate.entered = true;
    while (!gate.released) {
        if (pthread_cond_timedwait(&gate.cond, &gate.lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&gate.lock);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = strdup("done");
    resp->body_len = 4;
}

static const struct httpserver_route routes[] = {
    { "POST", "/echo", "application/json", echo_handler, NULL },
    { "GET", "/query", NULL, query_handler, NULL },
    { "GET", "/slow", NULL, slow_handler, NULL },
};

static bool ready_answer = true;

static bool
ready_cb(void *aux)
{
    return *(bool *) aux;
}

struct fixture {
    struct httpserver *server;
    struct metrics *metrics;
    char base[64];
    char cafile[128];
};

static struct httpserver_config
config_plain(struct metrics *m)
{
    struct httpserver_config cfg = {
        .listen = "127.0.0.1:0",
        .routes = routes,
        .n_routes = sizeof routes / sizeof routes[0],
        .health = true,
        .metrics = m,
        .metrics_prefix = PREFIX,
        .max_body = 1024 * 1024,
    };

    return cfg;
}

static void
fixture_start(struct fixture *f, struct httpserver_config *cfg)
{
    struct errmsg err = { "" };

    if (httpserver_create(cfg, &f->server, &err) < 0) {
        fail_msg("httpserver_create: %s", err.text);
    }
    snprintf(f->base, sizeof f->base, "%s://127.0.0.1:%u",
             cfg->tls_cert_file ? "https" : "http", httpserver_port(f->server));
    path_in(f->cafile, sizeof f->cafile, "bundle.crt");
}

static struct fixture *
fixture_new(bool tls)
{
    static char cert[128], key[128];
    struct fixture *f = calloc(1, sizeof *f);
    struct httpserver_config cfg;

    f->metrics = metrics_create();
    cfg = config_plain(f->metrics);
    if (tls) {
        path_in(cert, sizeof cert, "gen1/tls.crt");
        path_in(key, sizeof key, "gen1/tls.key");
        cfg.tls_cert_file = cert;
        cfg.tls_key_file = key;
    }
    fixture_start(f, &cfg);
    return f;
}

static void
fixture_free(struct fixture *f)
{
    httpserver_destroy(f->server);
    metrics_destroy(f->metrics);
    free(f);
}

/* ---- the client ------------------------------------------------------------ */

struct call {
    const char *method;
    const char *path;
    const char *content_type;
    const char *body;
    size_t len;
    bool no_expect;             /* send the body without waiting for 100-continue */
    bool chunked;
    bool fresh;                 /* a new connection */
    const char *client_cert;    /* names in workdir */
    const char *client_key;
    long sslversion;
    const char *ciphers;
};

struct reply {
    CURLcode rc;
    long status;
    char body[65536];
    size_t len;
    char allow[128];
    char content_type[128];
    long connects;
    curl_off_t uploaded;
    char server_cert[8192];
};

static size_t
on_body(char *data, size_t size, size_t n, void *aux)
{
    struct reply *r = aux;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;
    size_t take = len < room ? len : room;

    memcpy(r->body + r->len, data, take);
    r->len += take;
    r->body[r->len] = '\0';
    return len;
}

static void
header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);

    if (len > nlen + 1 && !strncasecmp(line, name, nlen) && line[nlen] == ':') {
        size_t start = nlen + 1, end = len;

        while (start < end && line[start] == ' ') {
            start++;
        }
        while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n')) {
            end--;
        }
        snprintf(out, size, "%.*s", (int) (end - start), line + start);
    }
}

static size_t
on_header(char *data, size_t size, size_t n, void *aux)
{
    struct reply *r = aux;

    header_value(data, size * n, "Allow", r->allow, sizeof r->allow);
    header_value(data, size * n, "Content-Type", r->content_type, sizeof r->content_type);
    return size * n;
}

static void
client_tls(CURL *h, const struct fixture *f, const struct call *c)
{
    char path[128];

    curl_easy_setopt(h, CURLOPT_CAINFO, f->cafile);
    if (c->client_cert) {
        path_in(path, sizeof path, c->client_cert);
        curl_easy_setopt(h, CURLOPT_SSLCERT, path);
        path_in(path, sizeof path, c->client_key);
        curl_easy_setopt(h, CURLOPT_SSLKEY, path);
    }
    if (c->sslversion) {
        curl_easy_setopt(h, CURLOPT_SSLVERSION, c->sslversion);
    }
    if (c->ciphers) {
        curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, c->ciphers);
    }
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
}

static void
server_cert_of(CURL *h, struct reply *r)
{
    struct curl_certinfo *ci = NULL;

    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci
        || ci->num_of_certs < 1) {
        return;
    }
    for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
        if (!strncmp(s->data, "Cert:", 5)) {
            snprintf(r->server_cert, sizeof r->server_cert, "%s", s->data + 5);
        }
    }
}

/* One request on handle 'h' (reused for keep-alive). */
static void
request_on(CURL *h, const struct fixture *f, const struct call *c, struct reply *r)
{
    struct curl_slist *headers = NULL;
    char url[256], line[160];

    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s%s", f->base, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(h, CURLOPT_NOBODY, !strcmp(c->method, "HEAD") ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, c->fresh ? 1L : 0L);
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) c->len);
    } else {
        /* Back to a body-less request on a handle that may have posted. */
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    if (c->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
        headers = curl_slist_append(headers, line);
    }
    if (c->no_expect) {
        headers = curl_slist_append(headers, "Expect:");
    }
    if (c->chunked) {
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!strncmp(f->base, "https", 5)) {
        client_tls(h, f, c);
    }
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &r->uploaded);
    server_cert_of(h, r);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
}

static void
request(const struct fixture *f, const struct call *c, struct reply *r)
{
    CURL *h = curl_easy_init();

    request_on(h, f, c, r);
    curl_easy_cleanup(h);
}

static void
get(const struct fixture *f, const char *path, struct reply *r)
{
    struct call c = { .method = "GET", .path = path };

    request(f, &c, r);
}

/* The value of one sample in /metrics, or -1. */
static double
metric_value(const struct fixture *f, const char *sample)
{
    struct reply *r = calloc(1, sizeof *r);
    char *line;
    double value = -1;

    get(f, "/metrics", r);
    for (line = r->body; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (!strncmp(line, sample, strlen(sample)) && line[strlen(sample)] == ' ') {
            value = strtod(line + strlen(sample) + 1, NULL);
            break;
        }
    }
    free(r);
    return value;
}

/* Polls metric_value() until it equals 'want' or 5 s pass; returns the last value.
 * An answer written straight onto the connection mid-body (the chunked 413) is
 * counted when libmicrohttpd completes the request, which can come after the
 * client has read the answer. */
static double
metric_value_eventually(const struct fixture *f, const char *sample, double want)
{
    struct testutil_deadline d = testutil_deadline_ms(5000);
    double value;

    while ((value = metric_value(f, sample)) != want && !testutil_deadline_passed(&d)) {
        testutil_nap(10);
    }
    return value;
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_httpserver_routes_and_errors(void **state)
{
    struct fixture *f = fixture_new(true);
    struct reply *r = calloc(1, sizeof *r);
    const char *json = "{\"kind\":\"AdmissionReview\"}";
    struct call echo = { .method = "POST", .path = "/echo",
                         .content_type = "application/json; charset=utf-8",
                         .body = json, .len = strlen(json) };

    request(f, &echo, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, json);
    assert_string_equal(r->content_type, "application/json");

    get(f, "/nope", r);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "not found\n");

    get(f, "/echo", r);
    assert_int_equal(r->status, 405);
    assert_string_equal(r->body, "method not allowed\n");
    assert_string_equal(r->allow, "POST");

    echo.content_type = "text/plain";
    request(f, &echo, r);
    assert_int_equal(r->status, 415);
    assert_string_equal(r->body, "unsupported media type: expected application/json\n");
    echo.content_type = NULL;
    request(f, &echo, r);
    assert_int_equal(r->status, 415);

    get(f, "/query?timeout=10s&x=1", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "GET /query timeout=10s");

    /* An empty body reaches the handler as "". */
    echo.content_type = "application/json";
    echo.body = "";
    echo.len = 0;
    request(f, &echo, r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, 0);

    assert_int_equal(metric_value(f, PREFIX "_http_requests_total{code=\"404\"}"), 1);
    assert_int_equal(metric_value(f, PREFIX "_http_requests_total{code=\"415\"}"), 2);
    free(r);
    fixture_free(f);
}

/* ASan keeps freed memory in quarantine, so resident size there says nothing
 * about what the server holds: the check only runs in plain builds. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_IS_MEANINGFUL false
#else
#define RSS_IS_MEANINGFUL true
#endif

static long
rss_kib(void)
{
    char *status = testutil_read_file("/proc/self/status", NULL);
    char *line = strstr(status, "VmRSS:");
    long kib = line ? strtol(line + 6, NULL, 10) : -1;

    free(status);
    return kib;
}

static void
test_httpserver_body_cap_413(void **state)
{
    struct fixture *f = fixture_new(true);
    struct reply *r = calloc(1, sizeof *r);
    size_t big = 8 * 1024 * 1024;
    char *body = malloc(big);
    struct call c = { .method = "POST", .path = "/echo", .content_type = "application/json", .body = body, .len = big };
    long before, after;

    memset(body, ' ', big);     /* touched: counted in the baseline */
    body[0] = '{';
    request(f, &c, r);          /* warms the TLS and curl allocations up */
    before = rss_kib();
    for (int i = 0; i < 3; i++) {
        request(f, &c, r);
        assert_int_equal(r->rc, CURLE_OK);
        assert_int_equal(r->status, 413);
        assert_string_equal(r->body, "request body too large (max 1048576 bytes)\n");
        /* Refused on Content-Length, before 100-continue: no body went out. */
        assert_true(r->uploaded < 1024 * 1024);
    }
    after = rss_kib();
    assert_true(!RSS_IS_MEANINGFUL || after - before < 4096);

    /* A client that does not wait for 100-continue (Go's, so the API server's)
     * pushes the body anyway: it is read and dropped, not stored, so that the
     * client reads the 413 instead of a reset. */
    c.no_expect = true;
    for (int i = 0; i < 3; i++) {
        request(f, &c, r);
        assert_int_equal(r->rc, CURLE_OK);
        assert_int_equal(r->status, 413);
    }

    /* Chunked, no Content-Length: answered 413 as soon as it crosses the cap
     * (test_webhook.c times it), the rest dropped while the client finishes
     * sending, so that libcurl reads the answer. */
    c.no_expect = false;
    c.chunked = true;
    c.len = 2 * 1024 * 1024;
    request(f, &c, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 413);
    after = rss_kib();
    assert_true(!RSS_IS_MEANINGFUL || after - before < 4096);
    assert_int_equal(metric_value_eventually(f, PREFIX "_http_requests_total{code=\"413\"}", 8), 8);

    /* Just under the cap is fine. */
    c.chunked = false;
    c.len = 1024 * 1024;
    request(f, &c, r);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, sizeof r->body - 1);   /* the echo, cut by the client */

    free(body);
    free(r);
    fixture_free(f);
}

static void
test_httpserver_keepalive_reuses_connection(void **state)
{
    struct fixture *f = fixture_new(true);
    struct reply *r = calloc(1, sizeof *r);
    /* Answers of every kind keep the connection, refusals included (their
     * small bodies are read and dropped). */
    static const struct call calls[] = {
        { .method = "POST", .path = "/echo", .content_type = "application/json",
          .body = "{}", .len = 2 },
        { .method = "GET", .path = "/healthz" },
        { .method = "GET", .path = "/nope" },
        { .method = "POST", .path = "/nope", .body = "{}", .len = 2 },
        { .method = "POST", .path = "/echo", .content_type = "text/plain",
          .body = "{}", .len = 2 },
        { .method = "DELETE", .path = "/echo" },
        { .method = "GET", .path = "/metrics" },
        { .method = "POST", .path = "/echo", .content_type = "application/json",
          .body = "{}", .len = 2 },
    };
    static const long want[] = { 200, 200, 404, 404, 415, 405, 200, 200 };
    CURL *h = curl_easy_init();

    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        request_on(h, f, &calls[i], r);
        if (r->rc != CURLE_OK) {
            fail_msg("call %zu: %s", i, curl_easy_strerror(r->rc));
        }
        assert_int_equal(r->status, want[i]);
        assert_int_equal(r->connects, i == 0 ? 1 : 0);
    }
    curl_easy_cleanup(h);
    free(r);
    fixture_free(f);
}

static void
test_httpserver_health_and_metrics(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct reply *r = calloc(1, sizeof *r);
    struct httpserver_config cfg;
    char cert[128], key[128];
    struct call post = { .method = "POST", .path = "/healthz", .content_type = NULL, .body = "x", .len = 1 };
    time_t not_after;

    f->metrics = metrics_create();
    cfg = config_plain(f->metrics);
    path_in(cert, sizeof cert, "gen1/tls.crt");
    path_in(key, sizeof key, "gen1/tls.key");
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    cfg.ready = ready_cb;
    cfg.ready_aux = &ready_answer;
    fixture_start(f, &cfg);

    get(f, "/healthz", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok\n");
    ready_answer = true;
    get(f, "/readyz", r);
    assert_int_equal(r->status, 200);
    ready_answer = false;
    get(f, "/readyz", r);
    assert_int_equal(r->status, 503);
    ready_answer = true;
    request(f, &post, r);
    assert_int_equal(r->status, 405);

    get(f, "/metrics", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "text/plain; version=0.0.4");
    assert_non_null(strstr(r->body, "# TYPE " PREFIX "_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(r->body, PREFIX "_http_requests_total{code=\"200\"} 2\n"));
    assert_non_null(strstr(r->body, PREFIX "_http_requests_total{code=\"503\"} 1\n"));
    /* The request being answered is in flight while /metrics renders. */
    assert_non_null(strstr(r->body, PREFIX "_http_requests_in_flight 1\n"));
    assert_non_null(strstr(r->body, PREFIX "_tls_reloads_total{result=\"success\"} 0\n"));
    assert_non_null(strstr(r->body, PREFIX "_tls_reloads_total{result=\"failure\"} 0\n"));
    not_after = httpserver_cert_not_after(f->server);
    assert_true(not_after > time(NULL) + 9 * 86400);
    assert_int_equal((time_t) metric_value(f, PREFIX "_tls_certificate_not_after_seconds"),
                     not_after);
    free(r);
    fixture_free(f);
}

static void
test_httpserver_plain_http_and_listen_addresses(void **state)
{
    struct fixture *f = fixture_new(false);
    struct reply *r = calloc(1, sizeof *r);
    struct httpserver_config cfg = config_plain(NULL);
    struct httpserver *s = NULL;
    struct errmsg err = { "" };
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1", "localhost:80", "[::1:80",
        "::1:80", "127.0.0.1:08", ":80", "[127.0.0.1]:80",
    };

    assert_int_not_equal(httpserver_port(f->server), 0);
    get(f, "/healthz", r);
    assert_int_equal(r->status, 200);
    assert_int_equal(httpserver_cert_not_after(f->server), 0);
    assert_int_equal(httpserver_reload_tls(f->server, &err), -EINVAL);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.listen = bad[i];
        assert_int_equal(httpserver_create(&cfg, &s, &err), -EINVAL);
        assert_non_null(strstr(err.text, bad[i]));
    }
    /* The port in use. */
    char addr[64];

    snprintf(addr, sizeof addr, "127.0.0.1:%u", httpserver_port(f->server));
    cfg.listen = addr;
    assert_int_equal(httpserver_create(&cfg, &s, &err), -EADDRINUSE);
    assert_non_null(strstr(err.text, "cannot listen on"));

    /* IPv6 loopback, when the machine has it. */
    cfg.listen = "[::1]:0";
    if (httpserver_create(&cfg, &s, &err) == 0) {
        struct fixture f6 = { .server = s };

        snprintf(f6.base, sizeof f6.base, "http://[::1]:%u", httpserver_port(s));
        get(&f6, "/healthz", r);
        assert_int_equal(r->status, 200);
        httpserver_destroy(s);
    }
    free(r);
    fixture_free(f);
}

static void
test_httpserver_tls_versions(void **state)
{
    struct fixture *f = fixture_new(true);
    struct reply *r = calloc(1, sizeof *r);
    /* The client is allowed TLS 1.1 (and its ciphers), so a refusal is the
     * server's. */
    struct call c = { .method = "GET", .path = "/healthz",
                      .sslversion = CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1,
                      .ciphers = "DEFAULT:@SECLEVEL=0" };

    request(f, &c, r);
    assert_int_not_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 0);

    c.sslversion = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
    request(f, &c, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 200);

    c.sslversion = CURL_SSLVERSION_TLSv1_3;
    request(f, &c, r);
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 200);
    free(r);
    fixture_free(f);
}

static void
test_httpserver_client_certificate_required(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct reply *r = calloc(1, sizeof *r);
    struct httpserver_config cfg;
    char cert[128], key[128], ca[128];
    struct call c = { .method = "GET", .path = "/healthz" };

    f->metrics = metrics_create();
    cfg = config_plain(f->metrics);
    path_in(cert, sizeof cert, "gen1/tls.crt");
    path_in(key, sizeof key, "gen1/tls.key");
    path_in(ca, sizeof ca, "client-ca.crt");
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    cfg.client_ca_file = ca;
    fixture_start(f, &cfg);

    for (int v = 0; v < 2; v++) {
        c.sslversion = v ? CURL_SSLVERSION_TLSv1_3
                         : CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
        c.client_cert = NULL;
        c.client_key = NULL;
        request(f, &c, r);
        assert_int_not_equal(r->status, 200);

        c.client_cert = "rogue.crt";
        c.client_key = "rogue.key";
        request(f, &c, r);
        assert_int_not_equal(r->status, 200);

        c.client_cert = "client.crt";
        c.client_key = "client.key";
        request(f, &c, r);
        assert_int_equal(r->rc, CURLE_OK);
        assert_int_equal(r->status, 200);
    }
    free(r);
    fixture_free(f);
}

/* ---- certificate swap under load -------------------------------------- */

struct load {
    const struct fixture *f;
    atomic_bool stop;
    atomic_int requests;
    atomic_int failures;
    char last_error[256];
};

static void *
load_main(void *aux)
{
    struct load *l = aux;
    struct reply *r = calloc(1, sizeof *r);
    struct call c = { .method = "POST", .path = "/echo", .content_type = "application/json", .body = "{\"a\":1}", .len = 7 };
    CURL *h = curl_easy_init();
    struct testutil_deadline deadline = testutil_deadline_ms(60000);

    for (int i = 0; !atomic_load(&l->stop) && !testutil_deadline_passed(&deadline); i++) {
        c.fresh = i % 2 == 0;   /* half on new connections: a handshake each */
        request_on(h, l->f, &c, r);
        if (r->rc != CURLE_OK || r->status != 200 || strcmp(r->body, "{\"a\":1}")) {
            atomic_fetch_add(&l->failures, 1);
            snprintf(l->last_error, sizeof l->last_error, "rc=%d (%s) status=%ld",
                     r->rc, curl_easy_strerror(r->rc), r->status);
        }
        atomic_fetch_add(&l->requests, 1);
    }
    curl_easy_cleanup(h);
    free(r);
    return NULL;
}

static void
wait_requests(struct load *l, int at_least)
{
    struct testutil_deadline deadline = testutil_deadline_ms(30000);

    while (atomic_load(&l->requests) < at_least && !testutil_deadline_passed(&deadline)) {
        testutil_nap(10);
    }
    assert_true(atomic_load(&l->requests) >= at_least);
}

/* The PEM text of the certificate a fresh connection is served. */
static void
served_cert(const struct fixture *f, char *out, size_t size)
{
    struct reply *r = calloc(1, sizeof *r);
    struct call c = { .method = "GET", .path = "/healthz", .fresh = true };

    request(f, &c, r);
    assert_int_equal(r->status, 200);
    snprintf(out, size, "%s", r->server_cert);
    free(r);
}

static bool
same_pem(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a == '\n' || *a == '\r') {
            a++;
        } else if (*b == '\n' || *b == '\r') {
            b++;
        } else if (*a++ != *b++) {
            return false;
        }
    }
    while (*a == '\n' || *a == '\r') {
        a++;
    }
    while (*b == '\n' || *b == '\r') {
        b++;
    }
    return *a == *b;
}

static bool
serving(const struct fixture *f, const char *pair)
{
    char served[8192];
    char *want = read_in(pair);
    bool same;

    served_cert(f, served, sizeof served);
    same = same_pem(served, want);
    free(want);
    return same;
}

static void
wait_serving(const struct fixture *f, const char *pair)
{
    struct testutil_deadline deadline = testutil_deadline_ms(15000);

    while (!serving(f, pair) && !testutil_deadline_passed(&deadline)) {
        testutil_nap(20);
    }
    assert_true(serving(f, pair));
}

static void
wait_metric(const struct fixture *f, const char *sample, double want)
{
    struct testutil_deadline deadline = testutil_deadline_ms(15000);

    while (metric_value(f, sample) != want && !testutil_deadline_passed(&deadline)) {
        testutil_nap(20);
    }
    assert_true(metric_value(f, sample) == want);
}

static void
test_httpserver_certificate_swap_under_load(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct httpserver_config cfg;
    char cert[128], key[128];
    struct load load = { .f = f };
    pthread_t threads[4];
    struct errmsg err = { "" };
    uint64_t start;
    int n;

    secret_init();
    f->metrics = metrics_create();
    cfg = config_plain(f->metrics);
    path_in(cert, sizeof cert, "secret/tls.crt");
    path_in(key, sizeof key, "secret/tls.key");
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    fixture_start(f, &cfg);
    assert_true(serving(f, "gen1/tls.crt"));

    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, load_main, &load), 0);
    }
    wait_requests(&load, 40);

    /* The swap Kubernetes does: a new directory, then ..data renamed onto it. */
    start = clock_monotonic_ms();
    secret_publish("gen2", "gen2/tls.crt", "gen2/tls.key");
    wait_serving(f, "gen2/tls.crt");
    print_message("new certificate served %llu ms after the swap\n",
                  (unsigned long long) (clock_monotonic_ms() - start));
    n = atomic_load(&load.requests);
    wait_requests(&load, n + 40);
    assert_int_equal(metric_value(f, PREFIX "_tls_reloads_total{result=\"success\"}"), 1);

    /* A broken pair (gen1's certificate with gen2's key) is refused, under load
     * too, and gen2 stays. */
    secret_publish("gen3", "gen1/tls.crt", "gen2/tls.key");
    wait_metric(f, PREFIX "_tls_reloads_total{result=\"failure\"}", 1);
    n = atomic_load(&load.requests);
    wait_requests(&load, n + 40);
    assert_true(serving(f, "gen2/tls.crt"));
    assert_int_equal(httpserver_reload_tls(f->server, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match"));

    /* Back to a good pair, through the explicit reload this time. */
    secret_publish("gen4", "gen1/tls.crt", "gen1/tls.key");
    httpserver_reload_tls(f->server, &err);
    wait_serving(f, "gen1/tls.crt");

    atomic_store(&load.stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    if (atomic_load(&load.failures) != 0) {
        fail_msg("%d of %d requests failed, last: %s", atomic_load(&load.failures),
                 atomic_load(&load.requests), load.last_error);
    }
    print_message("%d requests across 3 reloads, 0 failed\n", atomic_load(&load.requests));
    fixture_free(f);
}

/* ---- limits -------------------------------------------------------------- */

static int
connect_to(uint16_t port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether the server closed 'fd' within 'ms' (EOF or reset). */
static bool
closed_within(int fd, int ms)
{
    struct testutil_deadline deadline = testutil_deadline_ms((unsigned) ms);
    char buf[256];

    while (!testutil_deadline_passed(&deadline)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (poll(&p, 1, 50) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);

            if (n <= 0) {
                return true;
            }
        }
    }
    return false;
}

static void
test_httpserver_limits_and_slow_clients(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct httpserver_config cfg;
    int fds[3], slow;
    uint64_t start;
    bool closed = false;

    f->metrics = metrics_create();
    cfg = config_plain(f->metrics);
    cfg.max_connections_per_ip = 2;
    cfg.idle_timeout_s = 1;
    fixture_start(f, &cfg);

    /* A third connection from the same address is turned away at once. */
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(httpserver_port(f->server));
        assert_true(fds[i] >= 0);
    }
    assert_true(closed_within(fds[2], 2000));
    /* An idle one meets the idle timeout. */
    assert_true(closed_within(fds[0], 5000));
    for (int i = 0; i < 3; i++) {
        close(fds[i]);
    }

    /* Slow-loris: headers trickled a byte at a time, each before the idle
     * timeout, are cut at the request deadline (twice the idle timeout). */
    slow = connect_to(httpserver_port(f->server));
    assert_true(slow >= 0);
    assert_int_equal(send(slow, "GET /healthz HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
    start = clock_monotonic_ms();
    while (!closed && clock_monotonic_ms() - start < 10000) {
        if (send(slow, "X", 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
        closed = closed_within(slow, 300);
    }
    assert_true(closed);
    assert_true(clock_monotonic_ms() - start < 6000);
    close(slow);
    fixture_free(f);
}

/* ---- shutdown ---------------------------------------------------------------- */

struct slow_call {
    const struct fixture *f;
    struct reply reply;
};

static void *
slow_call_main(void *aux)
{
    struct slow_call *sc = aux;

    get(sc->f, "/slow", &sc->reply);
    return NULL;
}

struct shutdown_call {
    struct httpserver *server;
    atomic_bool done;
};

static void *
shutdown_main(void *aux)
{
    struct shutdown_call *sh = aux;

    httpserver_shutdown(sh->server, 20);
    atomic_store(&sh->done, true);
    return NULL;
}

static void
test_httpserver_shutdown_drains_in_flight(void **state)
{
    struct fixture *f = fixture_new(false);
    struct slow_call *sc = calloc(1, sizeof *sc);
    struct shutdown_call sh = { .server = f->server };
    pthread_t client, stopper;
    struct testutil_deadline deadline;
    bool refused = false, entered = false;
    int fd;

    sc->f = f;
    gate.entered = gate.released = false;
    assert_int_equal(pthread_create(&client, NULL, slow_call_main, sc), 0);
    deadline = testutil_deadline_ms(10000);
    while (!entered && !testutil_deadline_passed(&deadline)) {
        pthread_mutex_lock(&gate.lock);
        entered = gate.entered;
        pthread_mutex_unlock(&gate.lock);
        testutil_nap(5);
    }
    assert_true(entered);

    assert_int_equal(pthread_create(&stopper, NULL, shutdown_main, &sh), 0);
    /* New connections are refused while the slow request drains. */
    deadline = testutil_deadline_ms(10000);
    while (!refused && !testutil_deadline_passed(&deadline)) {
        fd = connect_to(httpserver_port(f->server));
        refused = fd < 0;
        if (fd >= 0) {
            close(fd);
            testutil_nap(10);
        }
    }
    assert_true(refused);
    assert_false(atomic_load(&sh.done));

    pthread_mutex_lock(&gate.lock);
    gate.released = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
    pthread_join(client, NULL);
    pthread_join(stopper, NULL);
    assert_true(atomic_load(&sh.done));
    assert_int_equal(sc->reply.rc, CURLE_OK);
    assert_int_equal(sc->reply.status, 200);
    assert_string_equal(sc->reply.body, "done");

    httpserver_shutdown(f->server, 1);  /* a second call does nothing */
    free(sc);
    fixture_free(f);
}

static void
test_httpserver_create_refuses_bad_tls(void **state)
{
    struct httpserver_config cfg = config_plain(NULL);
    struct httpserver *s = NULL;
    struct errmsg err = { "" };
    char cert[128], key[128];

    path_in(cert, sizeof cert, "gen1/tls.crt");
    path_in(key, sizeof key, "gen2/tls.key");
    cfg.tls_cert_file = cert;
    cfg.tls_key_file = key;
    assert_int_equal(httpserver_create(&cfg, &s, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match"));

    path_in(key, sizeof key, "gen1/missing.key");
    assert_int_equal(httpserver_create(&cfg, &s, &err), -ENOENT);
    assert_non_null(strstr(err.text, "missing.key"));
    /* A FIFO (no writer) or a directory is refused at once, never waited on. */
    path_in(key, sizeof key, "fifo.key");
    assert_int_equal(mkfifo(key, 0600), 0);
    assert_int_equal(httpserver_create(&cfg, &s, &err), -EINVAL);
    assert_non_null(strstr(err.text, "fifo.key' is a FIFO, not a regular file"));
    path_in(key, sizeof key, "gen1");
    assert_int_equal(httpserver_create(&cfg, &s, &err), -EINVAL);
    assert_non_null(strstr(err.text, "gen1' is a directory, not a regular file"));
    assert_null(s);
    httpserver_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpserver_routes_and_errors),
        cmocka_unit_test(test_httpserver_body_cap_413),
        cmocka_unit_test(test_httpserver_keepalive_reuses_connection),
        cmocka_unit_test(test_httpserver_health_and_metrics),
        cmocka_unit_test(test_httpserver_plain_http_and_listen_addresses),
        cmocka_unit_test(test_httpserver_tls_versions),
        cmocka_unit_test(test_httpserver_client_certificate_required),
        cmocka_unit_test(test_httpserver_certificate_swap_under_load),
        cmocka_unit_test(test_httpserver_limits_and_slow_clients),
        cmocka_unit_test(test_httpserver_shutdown_drains_in_flight),
        cmocka_unit_test(test_httpserver_create_refuses_bad_tls),
    };
    int r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return r;
}
