/* kubeauth — see include/exportflows/kube/kubeauth.h. */
#include "exportflows/kube/kubeauth.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"

#define DEFAULT_ALLOW_TTL_MS 60000u
#define DEFAULT_DENY_TTL_MS 10000u
#define DEFAULT_CACHE_SIZE 64u
#define MAX_CACHE_SIZE 4096u
#define DEFAULT_TIMEOUT_MS 5000u
#define DIGEST_LEN 32

#define TOKENREVIEWS "/apis/authentication.k8s.io/v1/tokenreviews"
#define SUBJECTACCESSREVIEWS "/apis/authorization.k8s.io/v1/subjectaccessreviews"

/* One cached answer.  'expires_ms' 0: the slot is free. */
struct entry {
    unsigned char digest[DIGEST_LEN];
    enum kubeauth_result result;
    uint64_t expires_ms;
};

enum check_outcome { OUT_ALLOWED, OUT_UNAUTHENTICATED, OUT_FORBIDDEN, OUT_ERROR, OUT_N };

struct kubeauth {
    char *verb, *path;
    unsigned allow_ttl_ms, deny_ttl_ms, timeout_ms;

    pthread_mutex_t cache_lock;     /* guards 'cache' */
    struct entry *cache;
    unsigned cache_size;

    pthread_mutex_t review_lock;    /* one review at a time; guards 'client' */
    struct kube_client *client;

    struct metrics_series *checks[OUT_N];
    struct metrics_series *token_reviews, *access_reviews;
};

/* ---- the Authorization header ---- */

/* RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then
 * any number of "=". */
static bool
is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* Finds the token in "Bearer <token>": true with it in '*token' (not
 * NUL-terminated) and its length in '*len'. */
static bool
parse_bearer(const char *header, const char **token, size_t *len)
{
    const char *p, *start;

    if (!header || strncasecmp(header, "Bearer ", 7)) {
        return false;
    }
    for (p = header + 7; *p == ' '; p++) {
    }
    start = p;
    while (is_token_char(*p)) {
        p++;
    }
    while (*p == '=') {
        p++;
    }
    *token = start;
    *len = (size_t) (p - start);
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return *p == '\0' && *len > 0 && *len <= KUBEAUTH_TOKEN_MAX;
}

/* ---- the cache ---- */

static bool
cache_lookup(struct kubeauth *a, const unsigned char *digest, uint64_t now,
             enum kubeauth_result *ret)
{
    bool found = false;

    pthread_mutex_lock(&a->cache_lock);
    for (unsigned i = 0; i < a->cache_size && !found; i++) {
        struct entry *e = &a->cache[i];

        if (e->expires_ms > now && !memcmp(e->digest, digest, DIGEST_LEN)) {
            *ret = e->result;
            found = true;
        }
    }
    pthread_mutex_unlock(&a->cache_lock);
    return found;
}

/* Keeps 'result' in the slot of the same token, else a free or expired one,
 * else the one that expires first. */
static void
cache_store(struct kubeauth *a, const unsigned char *digest,
            enum kubeauth_result result, uint64_t now)
{
    struct entry *slot = NULL;

    pthread_mutex_lock(&a->cache_lock);
    for (unsigned i = 0; i < a->cache_size; i++) {
        struct entry *e = &a->cache[i];

        if (!memcmp(e->digest, digest, DIGEST_LEN) || e->expires_ms <= now) {
            slot = e;
            break;
        }
        if (!slot || e->expires_ms < slot->expires_ms) {
            slot = e;
        }
    }
    memcpy(slot->digest, digest, DIGEST_LEN);
    slot->result = result;
    slot->expires_ms = now + (result == KUBEAUTH_ALLOWED ? a->allow_ttl_ms : a->deny_ttl_ms);
    pthread_mutex_unlock(&a->cache_lock);
}

/* ---- the reviews ---- */

/* TokenReview: the user the token belongs to (a new reference) in '*ret_user',
 * or NULL when the API server does not authenticate it. */
static int
token_review(struct kubeauth *a, const char *token, size_t len, json_t **ret_user,
             struct errmsg *err)
{
    json_t *review, *reply = NULL, *status;
    int rc;

    review = json_pack("{s:s, s:s, s:{s:s%}}", "apiVersion", "authentication.k8s.io/v1",
                       "kind", "TokenReview", "spec", "token", token, len);
    if (!review) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    metrics_add(a->token_reviews, 1);
    rc = kube_create(a->client, TOKENREVIEWS, review, a->timeout_ms, &reply, err);
    json_decref(review);
    if (rc < 0) {
        return rc;
    }
    status = json_object_get(reply, "status");
    *ret_user = json_is_true(json_object_get(status, "authenticated"))
                ? json_incref(json_object_get(status, "user")) : NULL;
    json_decref(reply);
    if (*ret_user && !json_is_object(*ret_user)) {
        json_decref(*ret_user);
        return errmsg_set(err, -EPROTO, "POST " TOKENREVIEWS ": authenticated without a user");
    }
    return 0;
}

/* Copies the user's 'key' into the review's spec as 'as', when present. */
static int
copy_user_field(json_t *spec, const json_t *user, const char *key, const char *as)
{
    json_t *v = json_object_get(user, key);

    return v ? json_object_set(spec, as, v) : 0;
}

/* SubjectAccessReview of 'user' (as a TokenReview returns it) for the verb on
 * the path: '*allowed'. */
static int
access_review(struct kubeauth *a, const json_t *user, bool *allowed, struct errmsg *err)
{
    json_t *review, *spec, *reply = NULL;
    int rc;

    review = json_pack("{s:s, s:s, s:{s:{s:s, s:s}}}", "apiVersion",
                       "authorization.k8s.io/v1", "kind", "SubjectAccessReview", "spec",
                       "nonResourceAttributes", "path", a->path, "verb", a->verb);
    spec = json_object_get(review, "spec");
    if (!review || copy_user_field(spec, user, "username", "user") < 0
        || copy_user_field(spec, user, "uid", "uid") < 0
        || copy_user_field(spec, user, "groups", "groups") < 0
        || copy_user_field(spec, user, "extra", "extra") < 0) {
        json_decref(review);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    metrics_add(a->access_reviews, 1);
    rc = kube_create(a->client, SUBJECTACCESSREVIEWS, review, a->timeout_ms, &reply, err);
    json_decref(review);
    if (rc == 0) {
        *allowed = json_is_true(json_object_get(json_object_get(reply, "status"), "allowed"));
    }
    json_decref(reply);
    return rc;
}

static int
review(struct kubeauth *a, const char *token, size_t len, enum kubeauth_result *ret,
       struct errmsg *err)
{
    json_t *user = NULL;
    bool allowed = false;
    int rc = token_review(a, token, len, &user, err);

    if (rc < 0) {
        return rc;
    }
    if (!user) {
        *ret = KUBEAUTH_UNAUTHENTICATED;
        return 0;
    }
    rc = access_review(a, user, &allowed, err);
    json_decref(user);
    if (rc == 0) {
        *ret = allowed ? KUBEAUTH_ALLOWED : KUBEAUTH_FORBIDDEN;
    }
    return rc;
}

/* ---- the public functions ---- */

static int
digest_token(const char *token, size_t len, unsigned char digest[DIGEST_LEN],
             struct errmsg *err)
{
    unsigned md_len = 0;

    if (!EVP_Digest(token, len, digest, &md_len, EVP_sha256(), NULL) || md_len != DIGEST_LEN) {
        return errmsg_set(err, -ENOMEM, "cannot hash the token");
    }
    return 0;
}

/* Looks the token up, and asks the API server when it is not cached. */
static int
check_token(struct kubeauth *a, const char *token, size_t len, enum kubeauth_result *ret,
            struct errmsg *err)
{
    unsigned char digest[DIGEST_LEN];
    int rc = digest_token(token, len, digest, err);

    if (rc < 0 || cache_lookup(a, digest, clock_monotonic_ms(), ret)) {
        return rc;
    }
    pthread_mutex_lock(&a->review_lock);
    /* Another thread may have asked for the same token while this one waited. */
    if (!cache_lookup(a, digest, clock_monotonic_ms(), ret)) {
        rc = review(a, token, len, ret, err);
        if (rc == 0) {
            cache_store(a, digest, *ret, clock_monotonic_ms());
        }
    }
    pthread_mutex_unlock(&a->review_lock);
    return rc;
}

int
kubeauth_check(struct kubeauth *auth, const char *authorization,
               enum kubeauth_result *ret, struct errmsg *err)
{
    enum kubeauth_result result = KUBEAUTH_UNAUTHENTICATED;
    const char *token;
    size_t len;
    int rc = 0;

    if (parse_bearer(authorization, &token, &len)) {
        rc = check_token(auth, token, len, &result, err);
    }
    metrics_add(auth->checks[rc < 0 ? OUT_ERROR
                             : result == KUBEAUTH_ALLOWED ? OUT_ALLOWED
                             : result == KUBEAUTH_FORBIDDEN ? OUT_FORBIDDEN
                             : OUT_UNAUTHENTICATED], 1);
    if (rc == 0) {
        *ret = result;
    }
    return rc;
}

static void
register_metrics(struct kubeauth *a, struct metrics *m, const char *prefix)
{
    static const char *const results[OUT_N] = {
        "allowed", "unauthenticated", "forbidden", "error",
    };
    struct metrics_family *checks, *reviews;
    char name[160], labels[40];

    if (!m) {
        return;
    }
    snprintf(name, sizeof name, "%s_auth_checks_total", prefix);
    checks = metrics_family(m, METRICS_COUNTER, name,
                            "Requests for a protected endpoint by authentication and "
                            "authorization result.", NULL, 0);
    for (int i = 0; i < OUT_N; i++) {
        snprintf(labels, sizeof labels, "result=\"%s\"", results[i]);
        a->checks[i] = metrics_series(checks, labels);
    }
    snprintf(name, sizeof name, "%s_auth_reviews_total", prefix);
    reviews = metrics_family(m, METRICS_COUNTER, name,
                             "TokenReviews and SubjectAccessReviews sent to the API server.",
                             NULL, 0);
    a->token_reviews = metrics_series(reviews, "kind=\"tokenreview\"");
    a->access_reviews = metrics_series(reviews, "kind=\"subjectaccessreview\"");
}

int
kubeauth_create(struct kubeconfig *cfg, const struct kubeauth_config *config,
                struct kubeauth **ret, struct errmsg *err)
{
    struct kubeauth *a;
    int rc;

    if (!config->verb || !*config->verb || !config->path || !*config->path) {
        return errmsg_set(err, -EINVAL, "a verb and a path to authorize are required");
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->cache_lock, NULL);
    pthread_mutex_init(&a->review_lock, NULL);
    a->allow_ttl_ms = config->allow_ttl_ms ? config->allow_ttl_ms : DEFAULT_ALLOW_TTL_MS;
    a->deny_ttl_ms = config->deny_ttl_ms ? config->deny_ttl_ms : DEFAULT_DENY_TTL_MS;
    a->timeout_ms = config->timeout_ms ? config->timeout_ms : DEFAULT_TIMEOUT_MS;
    a->cache_size = !config->cache_size ? DEFAULT_CACHE_SIZE
                    : config->cache_size > MAX_CACHE_SIZE ? MAX_CACHE_SIZE
                    : config->cache_size;
    a->verb = strdup(config->verb);
    a->path = strdup(config->path);
    a->cache = calloc(a->cache_size, sizeof *a->cache);
    if (!a->verb || !a->path || !a->cache) {
        kubeauth_destroy(a);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    rc = kube_client_create(cfg, &a->client, err);
    if (rc < 0) {
        kubeauth_destroy(a);
        return rc;
    }
    /* Reviews are small; a bigger reply is not one. */
    kube_client_set_max_body(a->client, 256 * 1024);
    register_metrics(a, config->metrics,
                     config->metrics_prefix ? config->metrics_prefix : "exportflows");
    *ret = a;
    return 0;
}

void
kubeauth_destroy(struct kubeauth *auth)
{
    if (!auth) {
        return;
    }
    kube_client_destroy(auth->client);
    pthread_mutex_destroy(&auth->cache_lock);
    pthread_mutex_destroy(&auth->review_lock);
    free(auth->cache);
    free(auth->verb);
    free(auth->path);
    free(auth);
}
