/* report — the one shape in which a library module tells its caller what
 * happened on the side: a failure it retries by itself, a recovery.
 *
 * Library code never logs (log.h is for cmd/); a module that has something to
 * say outside its return values takes a report_fn and an aux pointer in its
 * config, and calls it with a level, a code and a message.  The caller (a
 * program in cmd/) turns the report into a log line; the level is the module's
 * advice on how loud that line should be.
 *
 * Used by the lease, the node status writer, kubewatch, the summarizer and the
 * ConfigMap config source.  Reports that carry more than a line (the applier's
 * and the publisher's, httpserver's TLS reloads) keep their own structs. */
#ifndef EXPORTFLOWS_REPORT_H
#define EXPORTFLOWS_REPORT_H

/* In the order of log.h's levels. */
enum report_level {
    REPORT_DEBUG,               /* the same thing again: worth a line only when debugging */
    REPORT_INFO,                /* something went right again */
    REPORT_WARN,                /* a failure the module retries by itself */
    REPORT_ERROR,
};

struct report {
    enum report_level level;
    int code;                   /* 0, or a negative errno value for a failure */
    const char *message;        /* one line, lowercase, cause first; borrowed for
                                 * the call */
};

/* Called from the module's thread: it must not call back into the module, and
 * must be quick. */
typedef void report_fn(void *aux, const struct report *report);

/* Calls 'fn' (when not NULL) with 'aux' and a report made of the other
 * arguments. */
void report_send(report_fn *fn, void *aux, enum report_level level, int code,
                 const char *message);

#endif
