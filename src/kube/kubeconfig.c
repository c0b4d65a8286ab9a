/* kubeconfig — see include/exportflows/kube/kubeconfig.h. */
#include "exportflows/kube/kubeconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "exportflows/base/clock.h"
#include "exportflows/base/numparse.h"
#include "exportflows/base/readfile.h"

struct kubeconfig {
    char *server;
    char *namespace;
    bool insecure;
    struct kubeconfig_pem ca, cert, key;

    /* Token: either fixed ('token_file' NULL) or re-read from 'token_file'. */
    pthread_mutex_t token_lock;
    char *token;
    char *token_file;
    uint64_t token_read_ms;     /* CLOCK_MONOTONIC of the last successful read */
    unsigned token_refresh_ms;
};

static void
wipe_free(void *p, size_t len)
{
    if (p) {
        explicit_bzero(p, len);
        free(p);
    }
}

static void
wipe_free_str(char *s)
{
    if (s) {
        wipe_free(s, strlen(s));
    }
}

/* Reads all of 'path' (at most KUBECONFIG_MAX_FILE bytes): any of them may hold
 * a secret, so nothing is left behind on failure.  Caller frees '*ret' (with
 * wipe_free() for secrets). */
static int
read_file(const char *what, const char *path, char **ret, size_t *ret_len,
          struct errmsg *err)
{
    return readfile(path, what, KUBECONFIG_MAX_FILE, READFILE_WIPE, ret, ret_len, err);
}

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    } else if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    } else if (c == '+') {
        return 62;
    } else if (c == '/') {
        return 63;
    }
    return -1;
}

/* Decodes standard base64 'text' (white space ignored, padding optional) into a
 * new buffer, NUL-terminated for convenience.  -EINVAL on any other character. */
static int
base64_decode(const char *text, unsigned char **ret, size_t *ret_len)
{
    size_t cap = strlen(text) / 4 * 3 + 4, len = 0;
    unsigned char *out = malloc(cap);
    uint32_t acc = 0;
    int bits = 0;
    bool padding = false;

    if (!out) {
        return -ENOMEM;
    }
    for (const char *p = text; *p; p++) {
        int v = b64_value((unsigned char) *p);

        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            continue;
        }
        if (*p == '=') {
            padding = true;
            continue;
        }
        if (v < 0 || padding) {
            wipe_free(out, cap);
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char) (acc >> bits);
        }
    }
    out[len] = '\0';
    *ret = out;
    *ret_len = len;
    return 0;
}

/* ---- YAML document access ---- */

static yaml_node_t *
ymap_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);

        if (k && k->type == YAML_SCALAR_NODE
            && k->data.scalar.length == strlen(key)
            && !memcmp(k->data.scalar.value, key, k->data.scalar.length)) {
            return yaml_document_get_node(doc, p->value);
        }
    }
    return NULL;
}

/* The scalar under 'key' of 'map' as a string (borrowed from 'doc'), NULL when the
 * key is absent, empty or null.  A non-scalar is reported as -EINVAL. */
static int
ymap_str(yaml_document_t *doc, yaml_node_t *map, const char *key, const char **ret)
{
    yaml_node_t *n = ymap_get(doc, map, key);
    const char *v;

    *ret = NULL;
    if (!n) {
        return 0;
    }
    if (n->type != YAML_SCALAR_NODE) {
        return -EINVAL;
    }
    v = (const char *) n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length) {
        return -EINVAL;             /* an embedded NUL */
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && (!strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null"))) {
        return 0;
    }
    *ret = v;
    return 0;
}

/* In the sequence 'list' of {name: N, <inner>: {...}} entries, the <inner> mapping
 * of the entry named 'name'. */
static yaml_node_t *
ynamed(yaml_document_t *doc, yaml_node_t *list, const char *name, const char *inner)
{
    if (!list || list->type != YAML_SEQUENCE_NODE) {
        return NULL;
    }
    for (yaml_node_item_t *i = list->data.sequence.items.start;
         i < list->data.sequence.items.top; i++) {
        yaml_node_t *entry = yaml_document_get_node(doc, *i);
        const char *n;

        if (!ymap_str(doc, entry, "name", &n) && n && !strcmp(n, name)) {
            yaml_node_t *v = ymap_get(doc, entry, inner);

            return v && v->type == YAML_MAPPING_NODE ? v : NULL;
        }
    }
    return NULL;
}

/* ---- building the configuration ---- */

static struct kubeconfig *
kubeconfig_alloc(void)
{
    struct kubeconfig *cfg = calloc(1, sizeof *cfg);

    if (cfg) {
        pthread_mutex_init(&cfg->token_lock, NULL);
        cfg->token_refresh_ms = KUBECONFIG_TOKEN_REFRESH_MS;
    }
    return cfg;
}

void
kubeconfig_destroy(struct kubeconfig *cfg)
{
    if (!cfg) {
        return;
    }
    free(cfg->server);
    free(cfg->namespace);
    free((void *) cfg->ca.data);
    free((void *) cfg->cert.data);
    wipe_free((void *) cfg->key.data, cfg->key.len);
    wipe_free_str(cfg->token);
    free(cfg->token_file);
    pthread_mutex_destroy(&cfg->token_lock);
    free(cfg);
}

/* Stores 'url' without trailing slashes after checking its scheme. */
static int
set_server(struct kubeconfig *cfg, const char *url, struct errmsg *err)
{
    size_t len = strlen(url);

    if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
        return errmsg_set(err, -EINVAL, "server '%s' is not an http(s) URL", url);
    }
    while (len > 0 && url[len - 1] == '/') {
        len--;
    }
    cfg->server = strndup(url, len);
    return cfg->server ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
}

/* 'name' relative to the directory of the kubeconfig file 'base', as a new string. */
static char *
resolve_path(const char *base, const char *name)
{
    const char *slash = strrchr(base, '/');
    size_t dirlen = slash ? (size_t) (slash - base) + 1 : 0;
    size_t len = strlen(name);
    char *p;

    if (name[0] == '/' || !dirlen) {
        return strdup(name);
    }
    p = malloc(dirlen + len + 1);
    if (p) {
        memcpy(p, base, dirlen);
        memcpy(p + dirlen, name, len + 1);
    }
    return p;
}

/* Fills 'pem' from the base64 'data' or else the file 'file' (relative to 'base'),
 * whichever is set; neither is fine. */
static int
load_pem(const char *what, const char *data, const char *file, const char *base,
         struct kubeconfig_pem *pem, struct errmsg *err)
{
    unsigned char *buf = NULL;
    char *path = NULL, *text = NULL;
    size_t len = 0;
    int r = 0;

    if (data) {
        r = base64_decode(data, &buf, &len);
        if (r) {
            return errmsg_set(err, r, "%s-data is not valid base64", what);
        }
    } else if (file) {
        path = resolve_path(base, file);
        if (!path) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
        r = read_file(what, path, &text, &len, err);
        free(path);
        if (r) {
            return r;
        }
        buf = (unsigned char *) text;
    } else {
        return 0;
    }
    if (len == 0) {
        wipe_free(buf, 1);
        return errmsg_set(err, -EINVAL, "%s is empty", what);
    }
    pem->data = buf;
    pem->len = len;
    return 0;
}

/* Strips trailing white space (a token file usually ends with a newline). */
static void
rstrip(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '
                       || s[len - 1] == '\t')) {
        s[--len] = '\0';
    }
}

/* Whether 'token' can go into an "Authorization: Bearer" header as it is: not
 * empty, and no control character (a CR or LF would end the header and start
 * another one the token's author chose). */
static bool
token_ok(const char *token)
{
    if (!token[0]) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *) token; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static int
read_token_file(const char *path, char **ret, struct errmsg *err)
{
    char *text;
    size_t len;
    int r = read_file("token file", path, &text, &len, err);

    if (r) {
        return r;
    }
    rstrip(text);
    if (!token_ok(text)) {
        wipe_free(text, len);
        return errmsg_set(err, -EINVAL, "token file '%s' does not hold one token", path);
    }
    *ret = text;
    return 0;
}

static int
set_token(struct kubeconfig *cfg, const char *token, const char *token_file,
          const char *base, struct errmsg *err)
{
    if (token) {
        if (!token_ok(token)) {
            return errmsg_set(err, -EINVAL, "token is empty or holds a control character");
        }
        cfg->token = strdup(token);
        return cfg->token ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (!token_file) {
        return 0;
    }
    cfg->token_file = resolve_path(base, token_file);
    if (!cfg->token_file) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    cfg->token_read_ms = clock_monotonic_ms();
    return read_token_file(cfg->token_file, &cfg->token, err);
}

static int
parse_bool(const char *text, bool *ret)
{
    if (!text || !strcmp(text, "false")) {
        *ret = false;
    } else if (!strcmp(text, "true")) {
        *ret = true;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* The cluster part of a context. */
static int
apply_cluster(struct kubeconfig *cfg, yaml_document_t *doc, yaml_node_t *cluster,
              const char *name, const char *base, struct errmsg *err)
{
    const char *server, *ca_data, *ca_file, *insecure;
    int r;

    if (ymap_str(doc, cluster, "server", &server)
        || ymap_str(doc, cluster, "certificate-authority-data", &ca_data)
        || ymap_str(doc, cluster, "certificate-authority", &ca_file)
        || ymap_str(doc, cluster, "insecure-skip-tls-verify", &insecure)) {
        return errmsg_set(err, -EINVAL, "cluster '%s': a field is not a string", name);
    }
    if (!server) {
        return errmsg_set(err, -EINVAL, "cluster '%s' has no server", name);
    }
    if (parse_bool(insecure, &cfg->insecure)) {
        return errmsg_set(err, -EINVAL,
                          "cluster '%s': insecure-skip-tls-verify is not a boolean", name);
    }
    r = set_server(cfg, server, err);
    if (!r) {
        r = load_pem("certificate-authority", ca_data, ca_file, base, &cfg->ca, err);
    }
    return r ? errmsg_prefix(err, r, "cluster '%s'", name) : 0;
}

/* The user part of a context. */
static int
apply_user(struct kubeconfig *cfg, yaml_document_t *doc, yaml_node_t *user,
           const char *name, const char *base, struct errmsg *err)
{
    const char *token, *token_file, *cert_data, *cert_file, *key_data, *key_file, *pw;
    int r;

    if (ymap_get(doc, user, "exec") || ymap_get(doc, user, "auth-provider")) {
        return errmsg_set(err, -ENOTSUP,
                          "user '%s': credential plugins (exec, auth-provider) are not "
                          "supported; use a token or a client certificate", name);
    }
    if (ymap_str(doc, user, "token", &token)
        || ymap_str(doc, user, "tokenFile", &token_file)
        || ymap_str(doc, user, "client-certificate-data", &cert_data)
        || ymap_str(doc, user, "client-certificate", &cert_file)
        || ymap_str(doc, user, "client-key-data", &key_data)
        || ymap_str(doc, user, "client-key", &key_file)
        || ymap_str(doc, user, "password", &pw)) {
        return errmsg_set(err, -EINVAL, "user '%s': a field is not a string", name);
    }
    if (pw) {
        return errmsg_set(err, -ENOTSUP, "user '%s': basic authentication is not supported",
                          name);
    }
    r = set_token(cfg, token, token_file, base, err);
    if (!r) {
        r = load_pem("client-certificate", cert_data, cert_file, base, &cfg->cert, err);
    }
    if (!r) {
        r = load_pem("client-key", key_data, key_file, base, &cfg->key, err);
    }
    if (!r && !cfg->cert.data != !cfg->key.data) {
        r = errmsg_set(err, -EINVAL, "a client certificate needs a client key and "
                       "the other way round");
    }
    return r ? errmsg_prefix(err, r, "user '%s'", name) : 0;
}

/* Resolves 'context' (or current-context) in the loaded document. */
static int
apply_document(struct kubeconfig *cfg, yaml_document_t *doc, const char *context,
               const char *base, struct errmsg *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc), *ctx, *cluster, *user = NULL;
    const char *cluster_name, *user_name, *ns;
    int r;

    if (!root || root->type != YAML_MAPPING_NODE) {
        return errmsg_set(err, -EINVAL, "not a kubeconfig (no top-level mapping)");
    }
    if (!context && (ymap_str(doc, root, "current-context", &context) || !context)) {
        return errmsg_set(err, -EINVAL, "no current-context is set");
    }
    ctx = ynamed(doc, ymap_get(doc, root, "contexts"), context, "context");
    if (!ctx) {
        return errmsg_set(err, -EINVAL, "context '%s' not found", context);
    }
    if (ymap_str(doc, ctx, "cluster", &cluster_name) || !cluster_name
        || ymap_str(doc, ctx, "user", &user_name) || ymap_str(doc, ctx, "namespace", &ns)) {
        return errmsg_set(err, -EINVAL, "context '%s' names no cluster", context);
    }
    cluster = ynamed(doc, ymap_get(doc, root, "clusters"), cluster_name, "cluster");
    if (!cluster) {
        return errmsg_set(err, -EINVAL, "cluster '%s' of context '%s' not found",
                          cluster_name, context);
    }
    /* A context without a user is fine: the server may not need credentials. */
    if (user_name) {
        user = ynamed(doc, ymap_get(doc, root, "users"), user_name, "user");
        if (!user) {
            return errmsg_set(err, -EINVAL, "user '%s' of context '%s' not found",
                              user_name, context);
        }
    }
    cfg->namespace = strdup(ns ? ns : "default");
    if (!cfg->namespace) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = apply_cluster(cfg, doc, cluster, cluster_name, base, err);
    if (!r && user) {
        r = apply_user(cfg, doc, user, user_name, base, err);
    }
    return r;
}

static int
parse_yaml(const char *text, size_t len, yaml_document_t *doc, struct errmsg *err)
{
    yaml_parser_t parser;
    int r = 0;

    if (!yaml_parser_initialize(&parser)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    if (!yaml_parser_load(&parser, doc)) {
        r = errmsg_set(err, -EINVAL, "invalid YAML at line %zu: %s",
                       parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "parse error");
    }
    yaml_parser_delete(&parser);
    return r;
}

int
kubeconfig_load_file(const char *path, const char *context, struct kubeconfig **ret,
                     struct errmsg *err)
{
    struct kubeconfig *cfg = NULL;
    yaml_document_t doc;
    bool have_doc = false;
    char *text = NULL;
    size_t len = 0;
    int r;

    r = read_file("kubeconfig", path, &text, &len, err);
    if (r) {
        return r;
    }
    r = parse_yaml(text, len, &doc, err);
    if (r) {
        goto out;
    }
    have_doc = true;
    cfg = kubeconfig_alloc();
    if (!cfg) {
        r = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    r = apply_document(cfg, &doc, context, path, err);
    if (!r) {
        *ret = cfg;
        cfg = NULL;
    }
out:
    if (r) {
        errmsg_prefix(err, r, "kubeconfig '%s'", path);
    }
    kubeconfig_destroy(cfg);
    if (have_doc) {
        yaml_document_delete(&doc);
    }
    wipe_free(text, len);
    return r;
}

/* "https://HOST:PORT", with brackets for an IPv6 host. */
static int
incluster_server(struct kubeconfig *cfg, const char *host, const char *port,
                 struct errmsg *err)
{
    char url[300];
    uint64_t p;

    if (!host || !*host || !port || !*port) {
        return errmsg_set(err, -ENOENT, "KUBERNETES_SERVICE_HOST and "
                          "KUBERNETES_SERVICE_PORT must be set in a cluster");
    }
    if (numparse_u64(port, 1, 65535, &p)) {
        return errmsg_set(err, -EINVAL, "KUBERNETES_SERVICE_PORT '%s' is not a port", port);
    }
    if ((size_t) snprintf(url, sizeof url, strchr(host, ':') ? "https://[%s]:%s"
                          : "https://%s:%s", host, port) >= sizeof url) {
        return errmsg_set(err, -EINVAL, "KUBERNETES_SERVICE_HOST is too long");
    }
    return set_server(cfg, url, err);
}

static int
incluster_namespace(struct kubeconfig *cfg, const char *path, struct errmsg *err)
{
    char *text = NULL;
    size_t len;
    int r = read_file("namespace file", path, &text, &len, err);

    if (r == -ENOENT) {
        cfg->namespace = strdup("default");
    } else if (r) {
        return r;
    } else {
        rstrip(text);
        if (!text[0]) {
            free(text);
            return errmsg_set(err, -EINVAL, "namespace file '%s' is empty", path);
        }
        cfg->namespace = text;
    }
    return cfg->namespace ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
}

int
kubeconfig_load_incluster(const struct kubeconfig_incluster *paths,
                          struct kubeconfig **ret, struct errmsg *err)
{
    static const struct kubeconfig_incluster none;
    const struct kubeconfig_incluster *p = paths ? paths : &none;
    const char *dir = KUBECONFIG_INCLUSTER_DIR "/";
    struct kubeconfig *cfg = kubeconfig_alloc();
    char token_file[256], ca_file[256], ns_file[256];
    int r;

    if (!cfg) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    snprintf(token_file, sizeof token_file, "%stoken", dir);
    snprintf(ca_file, sizeof ca_file, "%sca.crt", dir);
    snprintf(ns_file, sizeof ns_file, "%snamespace", dir);
    r = incluster_server(cfg, p->host ? p->host : getenv("KUBERNETES_SERVICE_HOST"),
                         p->port ? p->port : getenv("KUBERNETES_SERVICE_PORT"), err);
    if (!r) {
        r = set_token(cfg, NULL, p->token_file ? p->token_file : token_file, "", err);
    }
    if (!r) {
        r = load_pem("CA file", NULL, p->ca_file ? p->ca_file : ca_file, "", &cfg->ca, err);
    }
    if (!r) {
        r = incluster_namespace(cfg, p->namespace_file ? p->namespace_file : ns_file, err);
    }
    if (r) {
        kubeconfig_destroy(cfg);
        return errmsg_prefix(err, r, "in-cluster configuration");
    }
    *ret = cfg;
    return 0;
}

int
kubeconfig_load_default(const char *flag, struct kubeconfig **ret, struct errmsg *err)
{
    const char *env = getenv("KUBECONFIG");

    if (flag && *flag) {
        return kubeconfig_load_file(flag, NULL, ret, err);
    }
    if (env && *env && *env != ':') {
        /* Only the first entry of a list: merging several files is not supported. */
        char *first = strndup(env, strcspn(env, ":"));
        int r;

        if (!first) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
        r = kubeconfig_load_file(first, NULL, ret, err);
        free(first);
        return r;
    }
    if (getenv("KUBERNETES_SERVICE_HOST")) {
        return kubeconfig_load_incluster(NULL, ret, err);
    }
    return errmsg_set(err, -ENOENT, "no Kubernetes configuration: give --kubeconfig, "
                      "set KUBECONFIG, or run in a cluster");
}

const char *
kubeconfig_server(const struct kubeconfig *cfg)
{
    return cfg->server;
}

const char *
kubeconfig_namespace(const struct kubeconfig *cfg)
{
    return cfg->namespace;
}

bool
kubeconfig_insecure(const struct kubeconfig *cfg)
{
    return cfg->insecure;
}

struct kubeconfig_pem
kubeconfig_ca(const struct kubeconfig *cfg)
{
    return cfg->ca;
}

struct kubeconfig_pem
kubeconfig_client_cert(const struct kubeconfig *cfg)
{
    return cfg->cert;
}

struct kubeconfig_pem
kubeconfig_client_key(const struct kubeconfig *cfg)
{
    return cfg->key;
}

/* Re-reads the token file when due; called with the lock held.  A failed re-read
 * keeps the old token (a rotation writes the new file atomically, so a failure is
 * transient) unless there is none. */
static int
refresh_token_locked(struct kubeconfig *cfg, bool reload, struct errmsg *err)
{
    uint64_t now = clock_monotonic_ms();
    char *fresh = NULL;
    int r;

    if (!cfg->token_file || (!reload && cfg->token
                             && now - cfg->token_read_ms < cfg->token_refresh_ms)) {
        return 0;
    }
    r = read_token_file(cfg->token_file, &fresh, err);
    if (r) {
        return cfg->token ? 0 : r;
    }
    wipe_free_str(cfg->token);
    cfg->token = fresh;
    cfg->token_read_ms = now;
    return 0;
}

int
kubeconfig_token(struct kubeconfig *cfg, bool reload, char **ret, struct errmsg *err)
{
    char *copy = NULL;
    int r;

    pthread_mutex_lock(&cfg->token_lock);
    r = refresh_token_locked(cfg, reload, err);
    if (!r && cfg->token) {
        copy = strdup(cfg->token);
        if (!copy) {
            r = errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&cfg->token_lock);
    if (!r) {
        *ret = copy;
    }
    return r;
}

void
kubeconfig_set_token_refresh(struct kubeconfig *cfg, unsigned ms)
{
    pthread_mutex_lock(&cfg->token_lock);
    cfg->token_refresh_ms = ms;
    pthread_mutex_unlock(&cfg->token_lock);
}
