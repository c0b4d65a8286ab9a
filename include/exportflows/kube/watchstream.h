/* watchstream — the body of a Kubernetes watch reply, cut into events.
 *
 * A watch reply is a chunked HTTP body of newline-delimited JSON objects
 * {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}.
 * Transfer pieces arrive split at arbitrary places; watchstream_feed() keeps the
 * incomplete tail in a buffer capped at 'max_line' bytes (one event) and hands each
 * complete line to a callback.  watchstream_parse_event() turns one line into a
 * 'struct watchstream_event' (parsed with JSONTEXT_PARSE_FLAGS: a string of
 * the object may hold a NUL byte, see jsontext.h).  No I/O here: kubewatch
 * does that. */
#ifndef EXPORTFLOWS_WATCHSTREAM_H
#define EXPORTFLOWS_WATCHSTREAM_H

#include <jansson.h>
#include <stddef.h>

#include "exportflows/base/errmsg.h"

#define WATCHSTREAM_MAX_LINE_DEFAULT (4u * 1024 * 1024)

struct watchstream;

/* Caller destroys '*ret' with watchstream_destroy().  'max_line' 0 means
 * WATCHSTREAM_MAX_LINE_DEFAULT.  -ENOMEM. */
int watchstream_create(size_t max_line, struct watchstream **ret);

/* Accepts NULL. */
void watchstream_destroy(struct watchstream *ws);

/* Forgets a partial line (a new reply begins). */
void watchstream_reset(struct watchstream *ws);

/* Bytes of an unfinished line held; non-zero at the end of a reply means the reply
 * was cut in the middle of an event. */
size_t watchstream_pending(const struct watchstream *ws);

/* Receives one complete line without its '\n' ('line' is NUL-terminated and only
 * valid during the call).  Returns 0 to go on or a negative errno value to stop. */
typedef int watchstream_line_fn(void *ctx, const char *line, size_t len);

/* Appends 'data' and calls 'fn' for each line it completes, in order; blank lines
 * are skipped.  Returns 0, the first error 'fn' returned, or -EMSGSIZE (with a
 * message) when a line would exceed the cap; after an error the stream must be
 * reset. */
int watchstream_feed(struct watchstream *ws, const char *data, size_t len,
                     watchstream_line_fn *fn, void *ctx, struct errmsg *err);

enum watchstream_type {
    WATCHSTREAM_ADDED,
    WATCHSTREAM_MODIFIED,
    WATCHSTREAM_DELETED,
    WATCHSTREAM_BOOKMARK,
    WATCHSTREAM_ERROR,
};

/* Name of a type as on the wire ("ADDED"). */
const char *watchstream_type_name(enum watchstream_type type);

struct watchstream_event {
    enum watchstream_type type;
    json_t *object;             /* owned: the object, or the Status for ERROR */
    const char *resource_version; /* borrowed from 'object'; NULL for ERROR */
    long code;                  /* ERROR: Status code (410 Gone: relist); else 0 */
    const char *message;        /* ERROR: Status message or ""; borrowed from 'object' */
};

/* Parses one line into '*ret'; caller releases it with watchstream_event_release().
 * -EPROTO with a message when the line is not a watch event, when an object event
 * has no metadata.resourceVersion, or an ERROR has no Status object. */
int watchstream_parse_event(const char *line, size_t len, struct watchstream_event *ret,
                            struct errmsg *err);

/* Drops the event's reference to its object; accepts a zeroed event. */
void watchstream_event_release(struct watchstream_event *ev);

#endif
