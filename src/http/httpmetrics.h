/* httpmetrics — the HTTP server's own metrics: requests by status code, request
 * duration, requests in flight, and for TLS the certificate expiry and reloads.
 *
 * Private to httpserver.  Registration failures (ENOMEM) cost metrics, never
 * the server: every series may be NULL, and every metrics call accepts NULL. */
#ifndef EXPORTFLOWS_HTTPMETRICS_H
#define EXPORTFLOWS_HTTPMETRICS_H

#include <stdbool.h>

#include "exportflows/base/metrics.h"

/* Series borrowed from the registry, which outlives the server. */
struct httpmetrics {
    struct metrics_family *requests;
    /* requests{code="200"}, looked up on the first 200 and kept: most requests
     * then update it without the registry lock. */
    struct metrics_series *_Atomic requests_ok;
    struct metrics_series *duration;
    struct metrics_series *in_flight;
    struct metrics_series *not_after;
    struct metrics_series *reloads_ok;
    struct metrics_series *reloads_failed;
};

/* Registers the families named "<prefix>_..." in 'registry' (NULL: none) and
 * fills '*m'; the TLS ones only when 'tls'.  Leaves '*m' zeroed on NULL. */
void httpmetrics_register(struct httpmetrics *m, struct metrics *registry,
                          const char *prefix, bool tls);

/* The requests{code=...} series for 'status' (borrowed; NULL on ENOMEM or
 * without a registry).  Safe from any thread. */
struct metrics_series *httpmetrics_requests(struct httpmetrics *m, unsigned status);

#endif
