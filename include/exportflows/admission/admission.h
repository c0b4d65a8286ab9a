/* admission — one AdmissionReview v1 in, one AdmissionReview v1 out.
 *
 * admission_review() takes the body the kube-apiserver POSTs to the webhook and
 * produces the body to answer with HTTP 200 (DESIGN.md "AdmissionReview reply"):
 *   - a CREATE or UPDATE of networks.operator.openshift.io (no subresource) is
 *     checked with flowspec_validate(); every error goes into one deny, shaped as
 *     Kubernetes' NewInvalid (status code 422, reason "Invalid", details.causes
 *     one per error) so that kubectl prints
 *       The Network "cluster" is invalid: spec.exportNetworkFlows...: ...
 *   - an UPDATE whose exportNetworkFlows means the same as in oldObject
 *     (flowspec_same()) is allowed even when invalid, with warnings (rule 9,
 *     "ratcheting"), so unrelated edits are never blocked by an old mistake;
 *   - a CREATE or UPDATE of the ConfigMap ovs-flows-config in the network
 *     operator's namespace (ovsflowsconfig.h) is checked the same way: values
 *     that would break ovnkube-node deny, with field errors on data.<key>
 *     ("ConfigMap \"ovs-flows-config\" is invalid: data.sharedTarget: ..."),
 *     values the operator ignores are warnings, and an UPDATE that leaves the
 *     keys the operator reads unchanged is ratcheted like a Network;
 *   - DELETE, CONNECT, other resources and subresources are allowed unchecked.
 * Warnings stay within Kubernetes' limits (see fielderr.h).  A reply never holds
 * a patch.  The request is parsed with duplicate keys refused and "\u0000"
 * allowed in strings (JSONTEXT_PARSE_FLAGS: an annotation value may hold one);
 * a string the review reads must not hold one: a collector or the network
 * type is a field error, any other (uid, operation, kind, ...) a 400.  A body
 * that is not an AdmissionReview v1 request is an error for the caller to
 * answer with 400.
 * The body is validated once by jsonscan's scanner, which allocates nothing;
 * the requests Kubernetes sends are then reviewed without building a tree (see
 * jsonscan.h), anything else from a tree of only the members a review reads.
 * Only a body the scanner cannot read (nesting past JSONSCAN_MAX_DEPTH, objects
 * wider than JSONSCAN_MAX_OBJECT_KEYS, invalid JSON whose error jansson words)
 * is parsed whole by jansson.  All three give the same result.
 *
 * The work is bounded by the body size (the caller's cap), FIELDERR_MAX_ERRORS
 * and FLOWSPEC_MAX_COLLECTORS; the memory by ADMISSION_TREE_BYTES_MAX of jansson
 * trees per review, which holds once the program has called
 * jsonbudget_install() (the webhook does; see jsonbudget.h): a body that would
 * need more, a million empty objects in 3 MiB for instance, is refused rather
 * than parsed.  An optional deadline (the apiserver's ?timeout=) is checked
 * between the steps so a review that could no longer be delivered in time is
 * abandoned instead of answered late. */
#ifndef EXPORTFLOWS_ADMISSION_H
#define EXPORTFLOWS_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "exportflows/base/errmsg.h"

#define ADMISSION_API_VERSION "admission.k8s.io/v1"
#define ADMISSION_GROUP "operator.openshift.io"
#define ADMISSION_RESOURCE "networks"
#define ADMISSION_KIND "Network"

/* Sizes of the copies kept in 'struct admission_summary' (longer text is cut). */
#define ADMISSION_UID_SIZE 64
#define ADMISSION_OPERATION_SIZE 16
#define ADMISSION_NAME_SIZE 254

/* Most memory the jansson values of one review may take (trees of the
 * request, the reply), counted by jsonbudget.  The requests Kubernetes sends
 * take a few KiB; a whole-tree parse of a 3 MiB body of small values would
 * take 100 MiB and more. */
#define ADMISSION_TREE_BYTES_MAX (8 << 20)

/* Longest ?timeout= admission_parse_timeout() accepts, in microseconds (1 h;
 * Kubernetes itself caps webhook timeouts at 30 s). */
#define ADMISSION_TIMEOUT_MAX_US (3600ULL * 1000 * 1000)

/* What happened, for the caller's log line and metrics.  Text fields are
 * NUL-terminated copies with control characters replaced by '?', so they are
 * safe to log; "" when the request had none. */
struct admission_summary {
    char uid[ADMISSION_UID_SIZE];
    char operation[ADMISSION_OPERATION_SIZE];
    char name[ADMISSION_NAME_SIZE];
    bool allowed;
    bool checked;           /* false: not a Network (or ovs-flows-config)
                             * CREATE/UPDATE, allowed as is */
    bool flows_config;      /* the object was ovs-flows-config */
    bool ratcheted;         /* UPDATE with exportNetworkFlows unchanged */
    size_t n_errors;        /* every error found, kept in the reply or not */
    size_t n_warnings;      /* warnings in the reply */
    size_t tree_bytes;      /* most memory the review's jansson values took at once
                             * (0 without jsonbudget_install()) */
};

/* The ways admission_review_by() can read a body; they give the same result,
 * which the tests check. */
enum admission_reader {
    ADMISSION_READER_AUTO,      /* the fast path, then the sparse tree */
    ADMISSION_READER_SPARSE,    /* a tree of the members a review reads */
    ADMISSION_READER_WHOLE,     /* a tree of the whole body */
};

/* Reviews the AdmissionReview in 'body' ('len' bytes, borrowed).
 *
 * On success returns 0 and writes '*ret_reply' (a NUL-terminated JSON text the
 * caller frees with free()), '*ret_len' (its length without the NUL) and, when
 * 'summary' is not NULL, '*summary'.  Fails with
 *   -EINVAL     the body is not an AdmissionReview v1 request (not JSON, a
 *               duplicate key, wrong apiVersion or kind, no request or uid, a
 *               NUL in a string the review reads outside the spec, ...);
 *               'err' holds a one-line reason for the 400 answer
 *   -ETIMEDOUT  'deadline' (CLOCK_MONOTONIC; NULL for none) passed
 *   -E2BIG      the review would take more than ADMISSION_TREE_BYTES_MAX
 *   -EBUSY      the reviews running at once took the whole jsonbudget total
 *   -ENOMEM
 * with 'err' holding a one-line reason in every case.  'summary' is filled as
 * far as the request was understood, also on failure. */
int admission_review(const char *body, size_t len, const struct timespec *deadline,
                     char **ret_reply, size_t *ret_len,
                     struct admission_summary *summary, struct errmsg *err);

/* admission_review() with the reader chosen: for tests that compare them. */
int admission_review_by(enum admission_reader reader, const char *body, size_t len,
                        const struct timespec *deadline, char **ret_reply,
                        size_t *ret_len, struct admission_summary *summary,
                        struct errmsg *err);

/* Parses a request body into one tree as admission_review()'s whole-tree
 * reader does: validated by the scanner, then built once, through
 * jsonscan_load() when the scanner read it, else through jansson with
 * JSONTEXT_PARSE_FLAGS (which words the error), with the same result either
 * way.  Returns 0 and a new reference in
 * '*ret', -EINVAL with a one-line reason, or -ENOMEM. */
int admission_parse_body(const char *body, size_t len, json_t **ret, struct errmsg *err);

/* Parses the apiserver's ?timeout= value, a Go duration such as "10s", "1m0s",
 * "2.5s" or "500ms" (goduration.h), into microseconds, rounded up.  Returns 0,
 * -EINVAL for malformed text, -ERANGE for zero, a negative duration or more
 * than ADMISSION_TIMEOUT_MAX_US; '*ret_us' is written only on success. */
int admission_parse_timeout(const char *text, uint64_t *ret_us);

/* The CLOCK_MONOTONIC time 'timeout_us' from now, for admission_review(). */
struct timespec admission_deadline(uint64_t timeout_us);

#endif
