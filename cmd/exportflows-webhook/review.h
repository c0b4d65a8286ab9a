/* review — the webhook's POST /validate handler: HTTP around admission_review(),
 * the review metrics and one log line per review. */
#ifndef EXPORTFLOWS_WEBHOOK_REVIEW_H
#define EXPORTFLOWS_WEBHOOK_REVIEW_H

#include "exportflows/http/httpserver.h"
#include "exportflows/base/metrics.h"

/* The handler's state: borrowed metric series, valid for the registry's life. */
struct review_handler {
    struct metrics_series *allowed;     /* ..._admission_reviews_total{result=...} */
    struct metrics_series *denied;
    struct metrics_series *error;
    struct metrics_series *ratcheted;   /* ..._admission_ratcheted_total */
    struct metrics_series *warnings;    /* ..._admission_warnings_total */
    struct metrics_series *duration;    /* ..._admission_review_duration_seconds */
};

/* Registers the review metrics in 'metrics' (borrowed, may be NULL). */
void review_handler_init(struct review_handler *h, struct metrics *metrics);

/* An http_handler_fn; 'aux' is a 'struct review_handler *'. */
void review_handle(void *aux, const struct http_request *req, struct http_response *resp);

#endif
