/* httpbody — a request body held whole in memory, grown up to a cap.
 *
 * Private to httpserver, which decides what is kept (a route's body, within
 * the cap) and what is only counted and dropped.  The buffer always has one
 * byte past its capacity, so that the whole body can be handed to a handler as
 * a NUL-terminated string. */
#ifndef EXPORTFLOWS_HTTPBODY_H
#define EXPORTFLOWS_HTTPBODY_H

#include <stddef.h>

/* Zero-initialised: empty, nothing allocated. */
struct httpbody {
    char *data;                     /* NULL until reserved or appended to */
    size_t len;                     /* bytes taken, kept or dropped */
    size_t cap;                     /* bytes 'data' holds, without the NUL */
};

/* Allocates room for exactly 'size' bytes (a declared Content-Length within
 * the cap), on an empty body.  -ENOMEM. */
int httpbody_reserve(struct httpbody *b, size_t size);

/* The room httpbody_append() would give 'b' to take 'len' more bytes ('cap'
 * when they fit already), so that the caller can account for it first. */
size_t httpbody_room_for(const struct httpbody *b, size_t len, size_t max);

/* Appends 'len' bytes, doubling the room (from 4 KiB) but never past 'max';
 * the caller has checked that b->len + len <= max.  -ENOMEM, the body as it
 * was. */
int httpbody_append(struct httpbody *b, const char *data, size_t len, size_t max);

/* Frees what is kept; 'len' stays, so that dropped bytes go on being counted. */
void httpbody_drop(struct httpbody *b);

/* Puts the NUL after what is kept, if anything is. */
void httpbody_terminate(struct httpbody *b);

#endif
