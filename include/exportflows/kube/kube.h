/* kube — a thin Kubernetes API client on libcurl and jansson.
 *
 * One 'struct kube_client' is one libcurl easy handle driven through a private
 * multi handle: the connection (TLS session included) is kept and reused from one
 * call to the next, every call has a deadline, and kube_client_interrupt() can
 * abort a transfer in progress from another thread at once.
 *
 * Threading contract: a kube_client is used by one thread at a time; nothing in it
 * is thread-safe except kube_client_interrupt().  Use one client per thread (a
 * kubewatch and a lease each make their own).  kube_client_create() calls
 * curl_global_init() and kube_client_destroy() the matching curl_global_cleanup();
 * libcurl (7.84 and later, built thread-safe) counts these calls, so libcurl's
 * global state lives exactly as long as some client does.
 *
 * Errors: every call returns 0 or a negative errno value with a one-line message in
 * 'err' ("GET /api/v1/namespaces/x/configmaps/y: 404 Not Found: configmaps \"y\"
 * not found").  HTTP statuses map to:
 *     400 -EINVAL   401, 403 -EACCES   404 -ENOENT   405 -EOPNOTSUPP
 *     409 AlreadyExists -EEXIST, any other 409 (a stale resourceVersion) -EAGAIN
 *     410 -ESTALE   413 -E2BIG   415 -EINVAL   422 -EINVAL   429 -EBUSY
 *     other 4xx -EPROTO    5xx -EIO
 * and transport failures to -ECONNREFUSED, -ETIMEDOUT (deadline), -ECANCELED
 * (interrupted), -EMSGSIZE (reply over the cap), -EPROTO (TLS or HTTP problem),
 * -EIO.  A reply body larger than the cap (8 MiB by default) is an error; the
 * client never grows a buffer past it.
 *
 * A 401 with a token file re-reads the token and retries the call once: service
 * account tokens rotate.  kube_meta() is the one reader of an object's metadata. */
#ifndef EXPORTFLOWS_KUBE_H
#define EXPORTFLOWS_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"

#define KUBE_MAX_BODY_DEFAULT (8u * 1024 * 1024)
#define KUBE_TIMEOUT_DEFAULT_MS 10000u
#define KUBE_CONNECT_TIMEOUT_MS 5000u
#define KUBE_PATH_MAX 1024
#define KUBE_NAME_MAX 253       /* the longest DNS-1123 subdomain */

struct kube_client;

/* Makes a client for 'cfg' (borrowed; it must outlive the client).  Caller
 * destroys '*ret' with kube_client_destroy().  -ENOMEM or -EIO from libcurl. */
int kube_client_create(struct kubeconfig *cfg, struct kube_client **ret,
                       struct errmsg *err);

/* Closes the connection and frees the client; accepts NULL. */
void kube_client_destroy(struct kube_client *client);

/* The member 'key' of 'object's metadata (NULL when either is absent); the
 * second gives its string value (NULL when not a string). */
json_t *kube_meta(const json_t *object, const char *key);
const char *kube_meta_string(const json_t *object, const char *key);

/* Changes the reply body cap (0: KUBE_MAX_BODY_DEFAULT). */
void kube_client_set_max_body(struct kube_client *client, size_t max);

/* Thread-safe and sticky: aborts the transfer in progress (its call returns
 * -ECANCELED promptly) and makes every later call on 'client' fail the same way.
 * Used to stop a thread that owns the client: 'client' is a struct kube_client,
 * untyped so that this is a worker_fn (worker.h). */
void kube_client_interrupt(void *client);

/* How many new connections the client has opened so far (a call that reuses the
 * connection adds none); for tests and metrics. */
unsigned long kube_client_connections(const struct kube_client *client);

/* How many calls the client has made so far (kube_request() and the functions on
 * it, kube_stream()), failed ones included; for tests and metrics. */
unsigned long kube_client_requests(const struct kube_client *client);

/* Sends 'method' to 'path' (the part after the server URL, with any query, e.g.
 * "/api/v1/namespaces/default/configmaps?limit=500") with 'body' (borrowed, may be
 * NULL) serialised as JSON and sent as 'content_type' (NULL: application/json).
 * 'timeout_ms' bounds the whole call (0: KUBE_TIMEOUT_DEFAULT_MS).  On a 2xx reply
 * returns 0 and, when 'ret' is not NULL, a new reference to the parsed body in
 * '*ret' (JSON null for an empty body; caller json_decref()s it; parsed with
 * JSONTEXT_PARSE_FLAGS, so a string may hold a NUL byte: see jsontext.h).
 * '*http_status' (may be NULL) receives the HTTP status whenever a reply
 * arrived, also on error, and 0 when none did. */
int kube_request(struct kube_client *client, const char *method, const char *path,
                 const char *content_type, const json_t *body, unsigned timeout_ms,
                 long *http_status, json_t **ret, struct errmsg *err);

/* GET 'path'; '*ret' as in kube_request(). */
int kube_get(struct kube_client *client, const char *path, unsigned timeout_ms,
             json_t **ret, struct errmsg *err);

/* POST 'obj' to the collection 'path'; -EEXIST when it already exists. */
int kube_create(struct kube_client *client, const char *path, const json_t *obj,
                unsigned timeout_ms, json_t **ret, struct errmsg *err);

/* PUT 'obj' to the object 'path'.  With metadata.resourceVersion in 'obj' the
 * update only succeeds against that version: -EAGAIN (409 Conflict) when the object
 * changed meanwhile; re-read and retry (kube_modify() does this). */
int kube_update(struct kube_client *client, const char *path, const json_t *obj,
                unsigned timeout_ms, json_t **ret, struct errmsg *err);

/* Server-side apply: PATCH 'obj' (the fields this manager owns, with apiVersion,
 * kind and metadata.name) to the object 'path' as application/apply-patch+yaml
 * (JSON is YAML) with fieldManager='field_manager' and, when 'force', force=true
 * (take over fields owned by other managers instead of failing with -EAGAIN).
 * Creates the object when absent. */
int kube_apply(struct kube_client *client, const char *path, const json_t *obj,
               const char *field_manager, bool force, unsigned timeout_ms,
               json_t **ret, struct errmsg *err);

/* DELETE the object 'path'; -ENOENT when it is already gone. */
int kube_delete(struct kube_client *client, const char *path, unsigned timeout_ms,
                struct errmsg *err);

/* What a kube_modify() callback wants done with the object it was given. */
enum kube_modify_result {
    KUBE_MODIFY_UPDATE,         /* the object was changed (or filled) in place: write it */
    KUBE_MODIFY_UNCHANGED,      /* nothing to write */
};

/* Changes the object 'obj' (borrowed, owned by kube_modify) in place and returns a
 * kube_modify_result, or a negative errno value to give up (returned as is).  When
 * 'exists' is false the object is absent and 'obj' is an empty JSON object for the
 * callback to fill with the whole object to create.  The callback may replace
 * everything in 'obj', metadata.resourceVersion included: kube_modify() puts back
 * the version it read before it writes. */
typedef int kube_modify_fn(void *ctx, json_t *obj, bool exists, struct errmsg *err);

#define KUBE_MODIFY_ATTEMPTS 5

/* One object to converge with kube_modify(); the strings are borrowed. */
struct kube_modify_op {
    const char *path;           /* the object */
    const char *collection;     /* POST it here when absent; NULL: -ENOENT instead */
    kube_modify_fn *fn;
    void *ctx;
    unsigned attempts;          /* rounds, each may lose a race; 0: KUBE_MODIFY_ATTEMPTS */
    unsigned timeout_ms;        /* of each request; 0: KUBE_TIMEOUT_DEFAULT_MS */
};

/* Read-modify-write with optimistic concurrency, the one way this project writes
 * an object it shares with others.  A round GETs op->path, calls op->fn and PUTs the
 * result guarded by the resourceVersion that was read; when the object is absent
 * and op->collection is set, op->fn fills a new object which is POSTed there
 * instead.  A round that loses a race (409 Conflict, 409 AlreadyExists, or 404 on
 * the PUT with a collection to create in) starts over, at most op->attempts rounds.
 *
 * 'stored' (may be NULL) is in and out.  In: when '*stored' is not NULL it is the
 * object as the caller's last write stored it, and the first round edits a copy
 * of it and PUTs it without a GET (client-go's fast path: one request instead of
 * two); a stale resourceVersion there makes it a 409, and the next round GETs.
 * Out: on success '*stored' is the object as stored now (a new reference; the
 * object as read when op->fn said unchanged; NULL when it was absent and nothing
 * was created), the old one released.  On -EAGAIN, -EEXIST or -ENOENT (the object
 * changed or went away) '*stored' is released and NULL; on any other failure it
 * is left as it was, and the next call PUTs from it again.
 *
 * Returns 0, op->fn's negative value, -EAGAIN (or -EEXIST, -ENOENT) when every
 * round lost a race, -ENOENT when absent without a collection, or another -errno
 * from the requests. */
int kube_modify(struct kube_client *client, const struct kube_modify_op *op,
                json_t **stored, struct errmsg *err);

/* Receives the body of a streamed reply as it arrives.  Returns 0 to go on or a
 * negative errno value to end the transfer (kube_stream() then returns it). */
typedef int kube_stream_fn(void *ctx, const char *data, size_t len);

/* GETs 'path' and hands a 2xx reply's body to 'fn' piece by piece as it arrives
 * (a watch).  Returns 0 when the server ended the reply (a watch timeout),
 * -ETIMEDOUT when 'timeout_ms' (0: none; rely on the server's timeoutSeconds)
 * passed, -ECANCELED on kube_client_interrupt(), or an error as in kube_request()
 * for a non-2xx reply (its Status message in 'err').  '*http_status' as in
 * kube_request().  The connection stays up to 'low_speed_s' seconds (0: none)
 * without any byte before it counts as dead (-ETIMEDOUT). */
int kube_stream(struct kube_client *client, const char *path, unsigned timeout_ms,
                unsigned low_speed_s, kube_stream_fn *fn, void *ctx,
                long *http_status, struct errmsg *err);

/* Formats a path into 'buf' like snprintf(); -ENAMETOOLONG when it does not fit. */
int kube_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when 's' (may be NULL) is a DNS-1123 subdomain of at most 'max'
 * characters: lowercase alphanumerics, '-' and '.', alphanumeric at both ends.
 * Most object names are; check names before they go into a path. */
bool kube_name_valid(const char *s, size_t max);

#endif
