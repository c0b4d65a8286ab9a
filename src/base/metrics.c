/* metrics — a small Prometheus registry and its text exposition format 0.0.4.
 *
 * The registry lock guards the lists (families, and each family's series); the
 * values of a series are atomics, so updates from request threads take no lock
 * at all.  Lists only grow, in creation order, which is also the
 * rendering order: the output is deterministic and diffable. */
#include "exportflows/base/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"

/* Series are created from label values the program chooses (codes, results), but
 * a bug that labels with request data must not grow memory without bound. */
#define METRICS_MAX_SERIES 10000
#define METRICS_MAX_BUCKETS 64
#define METRICS_MAX_LABELS 1024
/* A rendered page: far above any real one (a few KiB), a bound all the same. */
#define METRICS_PAGE_MAX (64u << 20)

/* Values are atomics, not under a lock: every request updates several
 * series from every worker thread, and a worker preempted while holding a
 * series lock would stall the others' requests behind it. */
struct metrics_series {
    struct metrics_series *next;
    const struct metrics_family *family;
    char *labels;
    _Atomic double value;       /* counter, gauge; histogram sum */
    atomic_ullong count;        /* histogram */
    atomic_ullong *bucket_counts;   /* histogram, per bucket, not cumulative */
};

struct metrics_family {
    struct metrics_family *next;
    struct metrics *registry;
    enum metrics_type type;
    char *name;
    char *help;
    double *buckets;
    size_t n_buckets;
    struct metrics_series *series_head;
    struct metrics_series **series_tail;
    size_t n_series;
};

struct metrics {
    pthread_mutex_t lock;
    struct metrics_family *family_head;
    struct metrics_family **family_tail;
};

struct metrics *
metrics_create(void)
{
    struct metrics *m = calloc(1, sizeof *m);

    if (!m) {
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->family_tail = &m->family_head;
    return m;
}

static void
series_destroy(struct metrics_series *s)
{
    free(s->labels);
    free(s->bucket_counts);
    free(s);
}

static void
family_destroy(struct metrics_family *f)
{
    struct metrics_series *s = f->series_head;

    while (s) {
        struct metrics_series *next = s->next;

        series_destroy(s);
        s = next;
    }
    free(f->name);
    free(f->help);
    free(f->buckets);
    free(f);
}

void
metrics_destroy(struct metrics *m)
{
    struct metrics_family *f;

    if (!m) {
        return;
    }
    f = m->family_head;
    while (f) {
        struct metrics_family *next = f->next;

        family_destroy(f);
        f = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool
name_is_valid(const char *name)
{
    if (!name || !name[0] || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        char c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == ':')) {
            return false;
        }
    }
    return true;
}

static bool
buckets_are_valid(const double *buckets, size_t n)
{
    if (n > METRICS_MAX_BUCKETS || (n > 0 && !buckets)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
            return false;
        }
    }
    return true;
}

/* Caller holds the registry lock. */
static struct metrics_family *
family_find(const struct metrics *m, const char *name)
{
    for (struct metrics_family *f = m->family_head; f; f = f->next) {
        if (!strcmp(f->name, name)) {
            return f;
        }
    }
    return NULL;
}

static struct metrics_family *
family_new(struct metrics *m, enum metrics_type type, const char *name,
           const char *help, const double *buckets, size_t n_buckets)
{
    struct metrics_family *f = calloc(1, sizeof *f);

    if (!f) {
        return NULL;
    }
    f->registry = m;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->series_tail = &f->series_head;
    if (type == METRICS_HISTOGRAM && n_buckets > 0) {
        f->buckets = malloc(n_buckets * sizeof *f->buckets);
        if (f->buckets) {
            memcpy(f->buckets, buckets, n_buckets * sizeof *f->buckets);
            f->n_buckets = n_buckets;
        }
    }
    if (!f->name || !f->help || (type == METRICS_HISTOGRAM && n_buckets > 0
                                 && !f->buckets)) {
        family_destroy(f);
        return NULL;
    }
    return f;
}

struct metrics_family *
metrics_family(struct metrics *m, enum metrics_type type, const char *name,
               const char *help, const double *buckets, size_t n_buckets)
{
    struct metrics_family *f;

    if (!m || !name_is_valid(name)
        || (type == METRICS_HISTOGRAM && !buckets_are_valid(buckets, n_buckets))) {
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    f = family_find(m, name);
    if (f) {
        f = f->type == type ? f : NULL;
    } else {
        f = family_new(m, type, name, help, buckets, n_buckets);
        if (f) {
            *m->family_tail = f;
            m->family_tail = &f->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return f;
}

/* Caller holds the registry lock. */
static struct metrics_series *
series_find(const struct metrics_family *f, const char *labels)
{
    for (struct metrics_series *s = f->series_head; s; s = s->next) {
        if (!strcmp(s->labels, labels)) {
            return s;
        }
    }
    return NULL;
}

static struct metrics_series *
series_new(const struct metrics_family *f, const char *labels)
{
    struct metrics_series *s = calloc(1, sizeof *s);

    if (!s) {
        return NULL;
    }
    s->family = f;
    s->labels = strdup(labels);
    if (f->type == METRICS_HISTOGRAM) {
        s->bucket_counts = calloc(f->n_buckets + 1, sizeof *s->bucket_counts);
    }
    if (!s->labels || (f->type == METRICS_HISTOGRAM && !s->bucket_counts)) {
        series_destroy(s);
        return NULL;
    }
    return s;
}

/* A raw line break would split an exposition line in two. */
static bool
labels_are_valid(const char *labels)
{
    return strlen(labels) <= METRICS_MAX_LABELS && !strpbrk(labels, "\n\r");
}

struct metrics_series *
metrics_series(struct metrics_family *family, const char *labels)
{
    struct metrics *m;
    struct metrics_series *s;

    if (!family) {
        return NULL;
    }
    labels = labels ? labels : "";
    if (!labels_are_valid(labels)) {
        return NULL;
    }
    m = family->registry;
    pthread_mutex_lock(&m->lock);
    s = series_find(family, labels);
    if (!s && family->n_series < METRICS_MAX_SERIES) {
        s = series_new(family, labels);
        if (s) {
            *family->series_tail = s;
            family->series_tail = &s->next;
            family->n_series++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* Adds 'delta' to '*value' without a lock. */
static void
atomic_add_double(_Atomic double *value, double delta)
{
    double old = atomic_load(value);

    while (!atomic_compare_exchange_weak(value, &old, old + delta)) {
        continue;       /* 'old' now holds the current value: retry with it */
    }
}

void
metrics_add(struct metrics_series *s, double delta)
{
    if (!s || s->family->type == METRICS_HISTOGRAM) {
        return;
    }
    atomic_add_double(&s->value, delta);
}

void
metrics_set(struct metrics_series *s, double value)
{
    if (!s || s->family->type == METRICS_HISTOGRAM) {
        return;
    }
    atomic_store(&s->value, value);
}

void
metrics_observe(struct metrics_series *s, double value)
{
    const struct metrics_family *f;
    size_t i;

    if (!s || s->family->type != METRICS_HISTOGRAM) {
        return;
    }
    f = s->family;
    for (i = 0; i < f->n_buckets && value > f->buckets[i]; i++) {
        continue;
    }
    /* The count first, the bucket last: render_histogram() reads the buckets
     * first and the count last, so its +Inf bucket is never below the others. */
    atomic_fetch_add(&s->count, 1);
    atomic_add_double(&s->value, value);
    atomic_fetch_add(&s->bucket_counts[i], 1);
}

/* Shortest text that reads back as the same double, as Prometheus clients print
 * ("0.1", not "0.10000000000000001"). */
static void
format_double(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    } else {
        for (int precision = 15; precision <= 17; precision++) {
            snprintf(buf, size, "%.*g", precision, v);
            if (strtod(buf, NULL) == v) {
                break;
            }
        }
    }
}

static void
render_help(struct capbuf *sb, const struct metrics_family *f)
{
    capbuf_printf(sb, "# HELP %s ", f->name);
    for (const char *p = f->help; *p; p++) {
        if (*p == '\\') {
            capbuf_printf(sb, "\\\\");
        } else if (*p == '\n') {
            capbuf_printf(sb, "\\n");
        } else {
            capbuf_printf(sb, "%c", *p);
        }
    }
    static const char *const type_names[] = {
        [METRICS_COUNTER] = "counter",
        [METRICS_GAUGE] = "gauge",
        [METRICS_HISTOGRAM] = "histogram",
    };
    capbuf_printf(sb, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
}

/* "{labels}" or "" when there are none. */
static void
render_sample(struct capbuf *sb, const char *name, const char *suffix,
              const char *labels, double value)
{
    char num[64];

    format_double(value, num, sizeof num);
    if (labels[0]) {
        capbuf_printf(sb, "%s%s{%s} %s\n", name, suffix, labels, num);
    } else {
        capbuf_printf(sb, "%s%s %s\n", name, suffix, num);
    }
}

static void
render_histogram(struct capbuf *sb, const struct metrics_family *f,
                 struct metrics_series *s)
{
    unsigned long long cumulative = 0;
    unsigned long long count;
    double sum;
    const char *sep = s->labels[0] ? "," : "";
    char le[64];

    for (size_t i = 0; i < f->n_buckets; i++) {
        cumulative += atomic_load(&s->bucket_counts[i]);
        format_double(f->buckets[i], le, sizeof le);
        capbuf_printf(sb, "%s_bucket{%s%sle=\"%s\"} %llu\n",
                      f->name, s->labels, sep, le, cumulative);
    }
    count = atomic_load(&s->count);
    sum = atomic_load(&s->value);
    capbuf_printf(sb, "%s_bucket{%s%sle=\"+Inf\"} %llu\n",
                  f->name, s->labels, sep, count);
    render_sample(sb, f->name, "_sum", s->labels, sum);
    render_sample(sb, f->name, "_count", s->labels, (double) count);
}

static void
render_family(struct capbuf *sb, const struct metrics_family *f)
{
    render_help(sb, f);
    for (struct metrics_series *s = f->series_head; s; s = s->next) {
        if (f->type == METRICS_HISTOGRAM) {
            render_histogram(sb, f, s);
        } else {
            double value;

            value = atomic_load(&s->value);
            render_sample(sb, f->name, "", s->labels, value);
        }
    }
}

char *
metrics_render(const struct metrics *m)
{
    struct metrics *mm = (struct metrics *) m;  /* the lock is not the content */
    struct capbuf sb;
    char *page = NULL;

    if (!m) {
        return NULL;
    }
    capbuf_init(&sb, METRICS_PAGE_MAX, 0);
    pthread_mutex_lock(&mm->lock);
    for (const struct metrics_family *f = m->family_head; f; f = f->next) {
        render_family(&sb, f);
    }
    pthread_mutex_unlock(&mm->lock);
    if (capbuf_take(&sb, &page, NULL) < 0) {
        capbuf_release(&sb);
    }
    return page;
}
