/* metrics — a small Prometheus registry and its text exposition format.
 *
 * Families are registered once, at start-up; a series is one label combination of
 * a family, created on first use and kept for the life of the registry.  Updating
 * a series is thread-safe and does not allocate.  Every pointer returned here is
 * borrowed from the registry and valid until metrics_destroy().  Functions that
 * take a series accept NULL and do nothing, so a failed registration (ENOMEM)
 * costs a metric, never a crash.
 *
 *   struct metrics_family *reviews = metrics_family(m, METRICS_COUNTER,
 *       "exportflows_admission_reviews_total", "Admission reviews by result.", NULL, 0);
 *   metrics_add(metrics_series(reviews, "result=\"denied\""), 1);
 */
#ifndef EXPORTFLOWS_METRICS_H
#define EXPORTFLOWS_METRICS_H

#include <stddef.h>

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics;
struct metrics_family;
struct metrics_series;

/* Caller destroys the result with metrics_destroy(); NULL on ENOMEM. */
struct metrics *metrics_create(void);
void metrics_destroy(struct metrics *m);

/* Registers (or finds) a family.  'buckets' (ascending upper bounds, copied) only
 * for histograms.  NULL on ENOMEM or when 'name' exists with another type. */
struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type,
                                      const char *name, const char *help,
                                      const double *buckets, size_t n_buckets);

/* The series of 'family' with 'labels', already formatted as Prometheus label
 * pairs without braces ("code=\"200\"", or "" for none).  NULL on ENOMEM or when
 * 'family' is NULL. */
struct metrics_series *metrics_series(struct metrics_family *family,
                                      const char *labels);

void metrics_add(struct metrics_series *s, double delta);      /* counter, gauge */
void metrics_set(struct metrics_series *s, double value);      /* gauge */
void metrics_observe(struct metrics_series *s, double value);  /* histogram */

/* The whole registry in text exposition format 0.0.4.  Caller frees with free();
 * NULL on ENOMEM or past 64 MiB. */
char *metrics_render(const struct metrics *m);

#endif
