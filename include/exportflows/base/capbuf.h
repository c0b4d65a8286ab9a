/* capbuf — a byte buffer with a cap: the one place where bytes are gathered.
 *
 * Anything an outside party can grow (a reply body, a watch line, an OVSDB
 * message, a file) and anything built piece by piece (a metrics page, a log
 * line, an ovs-vsctl line) goes through a capbuf.  Past its cap an append is
 * an error, never a realloc: -E2BIG, and the buffer keeps what it held.
 *
 * Two kinds of storage:
 *   - its own (capbuf_init()): allocated to fit the first bytes (a declared
 *     size, say), then grown by doubling, never past 'max' bytes (plus the
 *     NUL; 'max' < SIZE_MAX); capbuf_release() frees it;
 *   - the caller's (capbuf_init_fixed()): a fixed array, for hot paths that
 *     must not allocate (the log line, the canonical config text).  Nothing is
 *     ever allocated or freed then.
 *
 * Flags:
 *   CAPBUF_WIPE  the bytes are secret (a private key): every byte given back,
 *                on growth, consume, truncate, reset or release, is zeroed
 *                first, and growth copies instead of realloc() so that no
 *                stale copy is left in the heap;
 *   CAPBUF_CUT   text for people: what passes the cap is cut (an append or
 *                printf keeps the bytes that fit) instead of refused; the
 *                call still returns -E2BIG.
 *
 * Failures are remembered: capbuf_take() fails with the first one since the
 * last reset, so that a builder may append without checking each call.  The
 * contents are always NUL-terminated (capbuf_str()).  Callers may read the
 * fields; only this module writes them.  Not thread-safe. */
#ifndef EXPORTFLOWS_CAPBUF_H
#define EXPORTFLOWS_CAPBUF_H

#include <stdarg.h>
#include <stddef.h>

#define CAPBUF_WIPE (1u << 0)
#define CAPBUF_CUT (1u << 1)

struct capbuf {
    char *data;                 /* NULL until the first byte (own storage) */
    size_t len;                 /* bytes held, without the NUL */
    size_t cap;                 /* bytes 'data' has room for, the NUL's aside */
    size_t max;                 /* the cap: most bytes held, without the NUL */
    unsigned flags;             /* CAPBUF_* and the module's own */
    int error;                  /* first failure since the last reset, or 0 */
};

/* An empty buffer with its own storage, holding at most 'max' bytes. */
void capbuf_init(struct capbuf *b, size_t max, unsigned flags);

/* An empty buffer in 'storage' (borrowed, 'size' >= 1 bytes): at most
 * 'size' - 1 bytes and the NUL.  It never allocates. */
void capbuf_init_fixed(struct capbuf *b, char *storage, size_t size, unsigned flags);

/* Frees what the buffer allocated (wiping first with CAPBUF_WIPE) and leaves
 * it empty, ready for use with the same cap.  Accepts a zeroed buffer. */
void capbuf_release(struct capbuf *b);

/* Empties the buffer and forgets past failures; keeps the storage. */
void capbuf_reset(struct capbuf *b);

/* Appends 'len' bytes of 'data'.  0; -E2BIG when they would pass the cap (with
 * CAPBUF_CUT, those that fit are appended); -ENOMEM.  On failure the buffer
 * holds what it held before. */
int capbuf_append(struct capbuf *b, const void *data, size_t len);

/* Appends formatted text; same results as capbuf_append(), and -EINVAL for a
 * format vsnprintf() cannot write. */
int capbuf_printf(struct capbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int capbuf_vprintf(struct capbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Makes room for 'n' more bytes and writes where they go to '*ret': the caller
 * writes up to 'n' bytes there (a read(2), say), then calls capbuf_commit().
 * -E2BIG when 'n' bytes would pass the cap, -ENOMEM. */
int capbuf_reserve(struct capbuf *b, size_t n, char **ret);

/* Counts 'n' bytes written after capbuf_reserve() (at most what it reserved). */
void capbuf_commit(struct capbuf *b, size_t n);

/* Drops the first 'n' bytes (at most 'len'), moving the rest to the front. */
void capbuf_consume(struct capbuf *b, size_t n);

/* Shortens the contents to 'len' bytes (no-op when already shorter). */
void capbuf_truncate(struct capbuf *b, size_t len);

/* The room 'data' would have (the NUL's aside) once 'n' more bytes are
 * appended ('cap' when they fit already), for callers that budget memory. */
size_t capbuf_cap_for(const struct capbuf *b, size_t n);

/* How many more bytes the cap allows. */
size_t capbuf_room(const struct capbuf *b);

/* The contents as a C string: "" when empty; valid until the next change. */
const char *capbuf_str(const struct capbuf *b);

/* Hands the contents to the caller, who frees '*ret' with free() (with a wipe
 * first for CAPBUF_WIPE); writes their length (without the NUL) to '*ret_len'
 * when not NULL.  The buffer is left empty.  From caller storage the contents
 * are copied.  Fails with the first failure since the last reset (the buffer
 * is then left as it was), or -ENOMEM. */
int capbuf_take(struct capbuf *b, char **ret, size_t *ret_len);

#endif
