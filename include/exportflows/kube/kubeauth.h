/* kubeauth — who may read an HTTP endpoint, asked of the Kubernetes API server,
 * the way kube-rbac-proxy guards the metrics of OpenShift's own components.
 *
 * kubeauth_check() takes a request's Authorization header ("Bearer <token>"),
 * sends the token in a TokenReview (authentication.k8s.io/v1) and, when the API
 * server authenticates it, a SubjectAccessReview (authorization.k8s.io/v1) for
 * that user (name, uid, groups, extra) with the configured verb on the
 * configured non-resource URL ("get" "/metrics": what a ClusterRole grants with
 * `nonResourceURLs: ["/metrics"]`).  The caller's own credentials (the
 * kubeconfig) must allow creating both reviews (the ClusterRole
 * system:auth-delegator).
 *
 * Answers are cached so that scrapes do not hammer the API server: by the
 * SHA-256 of the token (the token itself is never kept), "allowed" for
 * 'allow_ttl_ms' and a refusal for 'deny_ttl_ms'.  The cache holds at most
 * 'cache_size' answers; when full, the one that expires first makes room.  A
 * failure to reach the API server is not cached.  A header that is missing,
 * is not "Bearer", or holds a token with characters RFC 6750 does not allow or
 * longer than KUBEAUTH_TOKEN_MAX is refused without asking.
 *
 * Threading: kubeauth_check() may be called from any thread.  Cache lookups
 * take a short lock; reviews are made one at a time (one kube_client), and a
 * check that waited for another re-reads the cache first, so concurrent
 * requests with the same new token cost one pair of reviews.
 *
 * Metrics (when a registry is given): <prefix>_auth_checks_total{result=
 * "allowed|unauthenticated|forbidden|error"} and <prefix>_auth_reviews_total
 * {kind="tokenreview|subjectaccessreview"}, the requests sent to the API
 * server. */
#ifndef EXPORTFLOWS_KUBEAUTH_H
#define EXPORTFLOWS_KUBEAUTH_H

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/metrics.h"

#define KUBEAUTH_TOKEN_MAX 8192

enum kubeauth_result {
    KUBEAUTH_ALLOWED,
    KUBEAUTH_UNAUTHENTICATED,   /* no token, or the API server does not know it: 401 */
    KUBEAUTH_FORBIDDEN,         /* a known user without the permission: 403 */
};

struct kubeauth_config {
    const char *verb;           /* "get" */
    const char *path;           /* "/metrics" */
    unsigned allow_ttl_ms;      /* 0: 60000 */
    unsigned deny_ttl_ms;       /* 0: 10000 */
    unsigned cache_size;        /* 0: 64 */
    unsigned timeout_ms;        /* per review; 0: 5000 */
    struct metrics *metrics;    /* borrowed; may be NULL */
    const char *metrics_prefix; /* "exportflows_applier" */
};

struct kubeauth;

/* Makes a checker that asks the API server of 'cfg' (borrowed; it must outlive
 * the checker).  'config' is copied.  Caller destroys '*ret' with
 * kubeauth_destroy().  -EINVAL for a missing verb or path, -ENOMEM. */
int kubeauth_create(struct kubeconfig *cfg, const struct kubeauth_config *config,
                    struct kubeauth **ret, struct errmsg *err);

/* Accepts NULL.  No check may be running. */
void kubeauth_destroy(struct kubeauth *auth);

/* Decides on a request whose Authorization header is 'authorization' (NULL
 * when it has none).  0 with the decision in '*ret'; -errno and a message when
 * the API server could not answer (nothing is cached then). */
int kubeauth_check(struct kubeauth *auth, const char *authorization,
                   enum kubeauth_result *ret, struct errmsg *err);

#endif
