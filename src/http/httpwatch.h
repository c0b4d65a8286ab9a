/* httpwatch — a background thread of the HTTP server: it wakes periodically
 * and, when given files, whenever they change.
 *
 * Private to httpserver, which runs two: one without files that reaps slow
 * clients, one that watches the certificate files.  They are kept apart so that
 * a reload, whatever it meets on disk, never delays the reaper.  The files are
 * watched through inotify on their directories, with a periodic "look anyway"
 * as fallback; after a burst of events the thread waits for a quiet moment, so
 * that a writer replacing the certificate and the key one after the other is
 * seen once, whole. */
#ifndef EXPORTFLOWS_HTTPWATCH_H
#define EXPORTFLOWS_HTTPWATCH_H

#include <pthread.h>
#include <stdbool.h>

#include "exportflows/base/errmsg.h"

/* Called from the thread on every wake-up (at least every 500 ms);
 * 'files_due' when the watched files may have changed (events settled, or
 * the periodic check came round) — never without watched files. */
typedef void httpwatch_tick_fn(void *aux, bool files_due);

struct httpwatch {
    pthread_t thread;
    bool running;
    int wake_fd;                    /* eventfd: stop the thread */
    int inotify_fd;                 /* -1: no files watched */
    httpwatch_tick_fn *tick;
    void *aux;
};

/* No descriptors, no thread: httpwatch_close() is safe from here on. */
void httpwatch_init(struct httpwatch *w);

/* Watches the directories of 'cert_file' and 'key_file' (which catches the
 * "..data" symlink swap of Kubernetes secret volumes and editors that write a
 * new file and rename it).  -errno and a message on failure. */
int httpwatch_files(struct httpwatch *w, const char *cert_file, const char *key_file,
                    struct errmsg *err);

/* Makes the descriptor that stops the thread.  -errno and a message. */
int httpwatch_open(struct httpwatch *w, struct errmsg *err);

/* Starts the thread (after httpwatch_open()), calling 'tick' with 'aux'.
 * -errno and a message. */
int httpwatch_start(struct httpwatch *w, httpwatch_tick_fn *tick, void *aux,
                    struct errmsg *err);

/* Stops and joins the thread if it runs; returns once no tick runs. */
void httpwatch_stop(struct httpwatch *w);

/* Closes the descriptors; after httpwatch_stop(). */
void httpwatch_close(struct httpwatch *w);

#endif
