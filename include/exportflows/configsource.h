/* configsource — where the applier gets its struct flowconfig from.
 *
 * A replaceable source behind a small vtable, polled like every other part of the
 * applier's loop (run/wait).  Implementations embed 'struct configsource' as their
 * first member:
 *   - file: a file watched with inotify (configsource_file_create()), for
 *     --config-file and for a ConfigMap mounted as a volume: kubelet updates
 *     those by writing a new timestamped directory and atomically renaming the
 *     "..data" symlink, which the watch on the file's directory sees;
 *   - kubernetes: a watch on the ConfigMap through the API
 *     (configsource_kube_create() in configsource_kube.h).
 *
 * A source keeps the last good config: new content that is unreadable or invalid
 * is reported once and refused, and the previous config stays current. */
#ifndef EXPORTFLOWS_CONFIGSOURCE_H
#define EXPORTFLOWS_CONFIGSOURCE_H

#include <poll.h>
#include <stdint.h>

#include "exportflows/errmsg.h"
#include "exportflows/flowconfig.h"

struct configsource;

struct configsource_class {
    const char *kind;           /* "file", "kubernetes" */
    void (*destroy)(struct configsource *source);
    int (*run)(struct configsource *source, uint64_t now_ms, struct errmsg *err);
    void (*wait)(const struct configsource *source, uint64_t now_ms,
                 struct pollfd *pfd, int *timeout_ms);
    const struct flowconfig *(*current)(const struct configsource *source);
    const char *(*describe)(const struct configsource *source);
};

struct configsource {
    const struct configsource_class *class;
};

/* Returned by configsource_run(). */
enum {
    CONFIGSOURCE_UNCHANGED = 0,
    CONFIGSOURCE_CHANGED = 1,   /* a new, valid config is current */
};

/* Does pending work (reads events, reloads).  Returns CONFIGSOURCE_CHANGED when a
 * new valid config became current (also when only its generation or hash
 * changed), CONFIGSOURCE_UNCHANGED when nothing new happened, or -errno with a
 * message in 'err' when new content was refused — once per distinct refused
 * content or error, not on every call; the previous config stays current.
 * 'now_ms' is CLOCK_MONOTONIC in milliseconds. */
int configsource_run(struct configsource *source, uint64_t now_ms, struct errmsg *err);

/* Fills 'pfd' (fd -1 when nothing to poll) and lowers '*timeout_ms' (-1:
 * infinite) to the source's next deadline. */
void configsource_wait(const struct configsource *source, uint64_t now_ms,
                       struct pollfd *pfd, int *timeout_ms);

/* The current config (borrowed, valid until the next configsource_run()), or
 * NULL before the first valid one. */
const struct flowconfig *configsource_current(const struct configsource *source);

/* "file '/etc/exportflows/config.json'" (borrowed), for log lines. */
const char *configsource_describe(const struct configsource *source);

/* Frees the source; accepts NULL. */
void configsource_destroy(struct configsource *source);

/* A source reading the file 'path' (copied).  The file is read by the first
 * configsource_run(); it may not exist yet.  The directory holding it is watched
 * with inotify, and the file is also re-read every 'recheck_ms' (0: 10000) in case
 * an event was missed or the directory appeared late.  Caller destroys '*ret'
 * with configsource_destroy().  -errno with a message in 'err'. */
int configsource_file_create(const char *path, unsigned recheck_ms,
                             struct configsource **ret, struct errmsg *err);

#endif
