/* httpmetrics — see src/http/httpmetrics.h. */
#include "httpmetrics.h"

#include <stdatomic.h>
#include <stdio.h>

#define HTTPMETRICS_STATUS_OK 200

static const double duration_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static struct metrics_series *
family_series(struct metrics *m, enum metrics_type type, const char *prefix,
              const char *suffix, const char *help, const char *labels,
              struct metrics_family **ret_family)
{
    char name[256];
    struct metrics_family *f;

    snprintf(name, sizeof name, "%s_%s", prefix, suffix);
    f = metrics_family(m, type, name, help, duration_buckets,
                       type == METRICS_HISTOGRAM
                       ? sizeof duration_buckets / sizeof duration_buckets[0] : 0);
    if (ret_family) {
        *ret_family = f;
    }
    return labels ? metrics_series(f, labels) : NULL;
}

void
httpmetrics_register(struct httpmetrics *hm, struct metrics *m, const char *prefix,
                     bool tls)
{
    struct metrics_family *reloads;

    if (!m) {
        return;
    }
    family_series(m, METRICS_COUNTER, prefix, "http_requests_total",
                  "HTTP requests by status code.", NULL, &hm->requests);
    hm->duration = family_series(m, METRICS_HISTOGRAM, prefix,
                                 "http_request_duration_seconds",
                                 "Time from request headers to response sent.", "", NULL);
    hm->in_flight = family_series(m, METRICS_GAUGE, prefix, "http_requests_in_flight",
                                  "Requests being served.", "", NULL);
    if (!tls) {
        return;
    }
    hm->not_after = family_series(m, METRICS_GAUGE, prefix,
                                  "tls_certificate_not_after_seconds",
                                  "Expiry of the serving certificate, Unix time.", "", NULL);
    hm->reloads_ok = family_series(m, METRICS_COUNTER, prefix, "tls_reloads_total",
                                   "Certificate reloads by result.",
                                   "result=\"success\"", &reloads);
    hm->reloads_failed = metrics_series(reloads, "result=\"failure\"");
}

struct metrics_series *
httpmetrics_requests(struct httpmetrics *hm, unsigned status)
{
    struct metrics_series *series;
    char labels[32];

    if (status == HTTPMETRICS_STATUS_OK && (series = atomic_load(&hm->requests_ok))) {
        return series;
    }
    snprintf(labels, sizeof labels, "code=\"%u\"", status);
    series = metrics_series(hm->requests, labels);
    if (status == HTTPMETRICS_STATUS_OK) {
        atomic_store(&hm->requests_ok, series);
    }
    return series;
}
