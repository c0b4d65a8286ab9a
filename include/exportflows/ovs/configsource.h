/* configsource — where the applier gets its struct flowconfig from.
 *
 * A replaceable source behind a small vtable, polled like every other part of the
 * applier's loop (run/wait).  Two kinds:
 *   - file: a file watched with inotify (configsource_file.h), for --config-file
 *     and for a ConfigMap mounted as a volume;
 *   - kubernetes: a watch on the ConfigMap through the API (configsource_kube.h).
 *
 * A kind only says what it saw: new text, or no text (why, as a code and a
 * message).  This base owns what is done with it, the same for every kind:
 *   - the same text seen again changes nothing (no CHANGED, no error);
 *   - text that does not parse is refused and reported once per distinct text;
 *     the last good config stays current;
 *   - no text (a missing or unreadable file, a missing ConfigMap or key) is
 *     reported once per distinct reason, and the last good config stays
 *     current: the message then ends with ": keeping the last config".  The
 *     remembered text is forgotten, so that the same text coming back is news.
 *
 * Implementations embed 'struct configsource' as their first member, set it up
 * with configsource_init() and leave its other members to this module. */
#ifndef EXPORTFLOWS_CONFIGSOURCE_H
#define EXPORTFLOWS_CONFIGSOURCE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"

struct configsource;

/* What a kind's poll() saw. */
enum configsource_seen {
    CONFIGSOURCE_SEEN_NOTHING,  /* nothing new since the last poll() */
    CONFIGSOURCE_SEEN_TEXT,     /* text: in '*ret_text' (malloc()ed, taken) */
    CONFIGSOURCE_SEEN_NO_TEXT,  /* none: '*ret_code' (-errno) and a message in 'err' */
};

struct configsource_class {
    const char *kind;           /* "file", "kubernetes" */
    /* Frees the kind's own state and the struct (the base's members are already
     * released). */
    void (*destroy)(struct configsource *source);
    /* Does pending work (reads events, rereads) and says what it saw. */
    enum configsource_seen (*poll)(struct configsource *source, uint64_t now_ms,
                                   char **ret_text, size_t *ret_len, int *ret_code,
                                   struct errmsg *err);
    void (*wait)(const struct configsource *source, uint64_t now_ms,
                 struct pollfd *pfd, int *timeout_ms);
};

/* The base's state, owned by configsource.c. */
struct configsource {
    const struct configsource_class *class;
    char description[600];      /* "config file '/etc/...'", for messages */
    char *text;                 /* the last text taken, valid or not; NULL when
                                 * the last thing seen was no text */
    size_t text_len;
    bool reported_no_text;      /* 'no_text' was reported and nothing came since */
    int no_text_code;
    struct errmsg no_text;
    bool has_config;
    struct flowconfig config;
};

/* Sets up the base of a new source of 'class', described as 'fmt'. */
void configsource_init(struct configsource *source, const struct configsource_class *class,
                       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Returned by configsource_run(). */
enum {
    CONFIGSOURCE_UNCHANGED = 0,
    CONFIGSOURCE_CHANGED = 1,   /* a new, valid config is current */
};

/* Does pending work and applies the policy above.  Returns CONFIGSOURCE_CHANGED
 * when a new valid config became current (also when only its generation or hash
 * changed), CONFIGSOURCE_UNCHANGED when nothing new happened, or -errno with a
 * message in 'err' when new text was refused or there was no text — once per
 * distinct refused text or reason, not on every call; the previous config stays
 * current.  'now_ms' is CLOCK_MONOTONIC in milliseconds. */
int configsource_run(struct configsource *source, uint64_t now_ms, struct errmsg *err);

/* Fills 'pfd' (fd -1 when nothing to poll) and lowers '*timeout_ms' (-1:
 * infinite) to the source's next deadline. */
void configsource_wait(const struct configsource *source, uint64_t now_ms,
                       struct pollfd *pfd, int *timeout_ms);

/* The current config (borrowed, valid until the next configsource_run()), or
 * NULL before the first valid one. */
const struct flowconfig *configsource_current(const struct configsource *source);

/* "config file '/etc/exportflows/config.json'" (borrowed), for log lines. */
const char *configsource_describe(const struct configsource *source);

/* Frees the source; accepts NULL. */
void configsource_destroy(struct configsource *source);

#endif
