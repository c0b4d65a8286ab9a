/* review — see review.h.
 *
 * Answers:
 *   200  an AdmissionReview reply (allowed, or denied with every error)
 *   400  not an AdmissionReview v1 request, or a malformed ?timeout=
 *   413  a body too complex to review within ADMISSION_TREE_BYTES_MAX
 *   500  out of memory
 *   503  the reviews running at once hold all the memory set aside for
 *        them (Retry-After: the server adds it)
 *   504  the apiserver's ?timeout= passed before the reply was ready
 * The HTTP-level classes (404, 405, 413, 415) are the server's. */
#include "review.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exportflows/admission/admission.h"
#include "exportflows/base/clock.h"
#include "exportflows/base/log.h"

#define PREFIX "exportflows_webhook_admission_"
/* A review whose jansson values took more than this gives the freed memory
 * back to the system at once: glibc keeps freed small blocks in the worker's
 * arena, where a refused hostile body would leave megabytes behind.  Reviews
 * of what Kubernetes sends take a few KiB and never pay for it. */
#define TRIM_AFTER_TREE_BYTES (1u << 20)

/* Reviews take tens of microseconds; the upper buckets catch stalls. */
static const double duration_buckets[] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1,
};

void
review_handler_init(struct review_handler *h, struct metrics *metrics)
{
    struct metrics_family *reviews = NULL, *ratcheted = NULL, *warnings = NULL;
    struct metrics_family *duration = NULL;

    if (metrics) {
        reviews = metrics_family(metrics, METRICS_COUNTER, PREFIX "reviews_total",
                                 "Admission reviews answered, by result.", NULL, 0);
        ratcheted = metrics_family(metrics, METRICS_COUNTER, PREFIX "ratcheted_total",
                                   "Updates allowed because exportNetworkFlows was "
                                   "unchanged though invalid.", NULL, 0);
        warnings = metrics_family(metrics, METRICS_COUNTER, PREFIX "warnings_total",
                                  "Warnings returned in admission replies.", NULL, 0);
        duration = metrics_family(metrics, METRICS_HISTOGRAM,
                                  PREFIX "review_duration_seconds",
                                  "Time spent reviewing one request, body read excluded.",
                                  duration_buckets,
                                  sizeof duration_buckets / sizeof duration_buckets[0]);
    }
    h->allowed = metrics_series(reviews, "result=\"allowed\"");
    h->denied = metrics_series(reviews, "result=\"denied\"");
    h->error = metrics_series(reviews, "result=\"error\"");
    h->ratcheted = metrics_series(ratcheted, "");
    h->warnings = metrics_series(warnings, "");
    h->duration = metrics_series(duration, "");
}

/* The deadline from ?timeout=, if any.  0 or -EINVAL with 'err' set. */
static int
request_deadline(const struct http_request *req, struct timespec *deadline,
                 bool *has_deadline, struct errmsg *err)
{
    const char *text = http_request_query(req, "timeout");
    uint64_t us;

    *has_deadline = false;
    if (!text) {
        return 0;
    }
    if (admission_parse_timeout(text, &us)) {
        return errmsg_set(err, -EINVAL,
                          "timeout must be a Go duration between 1us and 1h, such as 10s");
    }
    *deadline = admission_deadline(us);
    *has_deadline = true;
    return 0;
}

/* Writes 'v' in decimal into 'buf' and returns it: two of these per review,
 * where snprintf() cost more than the rest of the log line. */
static const char *
decimal(unsigned long long v, char buf[24])
{
    char *p = buf + 23;

    *p = '\0';
    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* The one line per review: who, what, the verdict, how long. */
static void
log_review(const struct admission_summary *s, unsigned long long us)
{
    char errors_buf[24], micros_buf[24];
    const char *errors, *micros;

    if (!log_enabled(LOG_INFO)) {
        return;
    }
    errors = decimal(s->n_errors, errors_buf);
    micros = decimal(us, micros_buf);
    log_event(LOG_INFO, "review", "uid", s->uid, "operation", s->operation,
              "checked", s->flows_config ? "ovs-flows-config" : s->checked ? "network" : "no",
              "name", s->name, "allowed", s->allowed ? "true" : "false",
              "errors", errors, "duration_us", micros, NULL);
}

/* The one line for a request that got no review: the 400's reason, a timeout
 * or ENOMEM. */
static void
log_failure(const struct admission_summary *s, int error, const char *why,
            unsigned long long us)
{
    char micros[24];

    snprintf(micros, sizeof micros, "%llu", us);
    log_event(error == -EINVAL || error == -E2BIG || error == -EBUSY ? LOG_WARN : LOG_ERROR,
              "cannot review request",
              "uid", s->uid, "error", why, "duration_us", micros, NULL);
}

/* The HTTP status for admission_review()'s error. */
static unsigned
failure_status(int error)
{
    switch (error) {
    case -EINVAL:
        return 400;
    case -E2BIG:
        return 413;
    case -EBUSY:
        return 503;
    case -ETIMEDOUT:
        return 504;
    default:
        return 500;
    }
}

void
review_handle(void *aux, const struct http_request *req, struct http_response *resp)
{
    struct review_handler *h = aux;
    struct admission_summary summary = { .allowed = false };
    unsigned long long start = clock_monotonic_us(), us;
    struct errmsg err = { "" };
    struct timespec deadline;
    bool has_deadline;
    size_t len;
    const char *body = http_request_body(req, &len);
    char *reply = NULL;
    size_t reply_len = 0;
    int error;

    if (!body) {
        body = "";
        len = 0;
    }
    error = request_deadline(req, &deadline, &has_deadline, &err);
    if (!error) {
        error = admission_review(body, len, has_deadline ? &deadline : NULL,
                                 &reply, &reply_len, &summary, &err);
    }
    if (summary.tree_bytes > TRIM_AFTER_TREE_BYTES) {
        malloc_trim(0);
    }
    us = clock_monotonic_us() - start;
    metrics_observe(h->duration, (double) us / 1e6);
    if (error) {
        metrics_add(h->error, 1);
        log_failure(&summary, error, err.text, us);
        http_response_text(resp, failure_status(error), err.text);
        return;
    }
    metrics_add(summary.allowed ? h->allowed : h->denied, 1);
    if (summary.ratcheted) {
        metrics_add(h->ratcheted, 1);
    }
    metrics_add(h->warnings, (double) summary.n_warnings);
    log_review(&summary, us);
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = reply;
    resp->body_len = reply_len;
}
