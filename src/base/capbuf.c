/* capbuf — see include/exportflows/base/capbuf.h. */
#include "exportflows/base/capbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The buffer writes into the caller's array. */
#define CAPBUF_FIXED (1u << 8)

static void
init(struct capbuf *b, char *data, size_t cap, size_t max, unsigned flags)
{
    *b = (struct capbuf) { .data = data, .cap = cap, .max = max, .flags = flags };
    if (data) {
        data[0] = '\0';
    }
}

void
capbuf_init(struct capbuf *b, size_t max, unsigned flags)
{
    init(b, NULL, 0, max, flags & (CAPBUF_WIPE | CAPBUF_CUT));
}

void
capbuf_init_fixed(struct capbuf *b, char *storage, size_t size, unsigned flags)
{
    init(b, storage, size - 1, size - 1, (flags & (CAPBUF_WIPE | CAPBUF_CUT)) | CAPBUF_FIXED);
}

/* Zeroes 'n' bytes at 'p' when the buffer holds secrets. */
static void
wipe(const struct capbuf *b, char *p, size_t n)
{
    if (b->flags & CAPBUF_WIPE && p) {
        explicit_bzero(p, n);
    }
}

void
capbuf_release(struct capbuf *b)
{
    if (b->flags & CAPBUF_FIXED) {
        wipe(b, b->data, b->len);
        init(b, b->data, b->cap, b->max, b->flags);
        return;
    }
    wipe(b, b->data, b->cap + 1);
    free(b->data);
    init(b, NULL, 0, b->max, b->flags);
}

void
capbuf_reset(struct capbuf *b)
{
    capbuf_truncate(b, 0);
    b->error = 0;
}

/* Records a failure and returns it. */
static int
fail(struct capbuf *b, int error)
{
    if (!b->error) {
        b->error = error;
    }
    return error;
}

size_t
capbuf_room(const struct capbuf *b)
{
    return b->max - b->len;
}

size_t
capbuf_cap_for(const struct capbuf *b, size_t n)
{
    size_t need = b->len + n, cap;

    if (n > capbuf_room(b) || need <= b->cap || b->flags & CAPBUF_FIXED) {
        return b->cap;
    }
    cap = b->cap > b->max / 2 ? b->max : b->cap * 2;
    return cap > need ? cap : need;
}

/* Moves the contents to new memory for 'cap' bytes and the NUL; a plain
 * realloc() unless the old copy must be wiped. */
static int
resize(struct capbuf *b, size_t cap)
{
    char *p;

    if (!(b->flags & CAPBUF_WIPE)) {
        p = realloc(b->data, cap + 1);
    } else if ((p = malloc(cap + 1)) && b->data) {
        memcpy(p, b->data, b->len + 1);
        wipe(b, b->data, b->cap + 1);
        free(b->data);
    }
    if (!p) {
        return -ENOMEM;
    }
    if (!b->data) {
        p[0] = '\0';
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
capbuf_reserve(struct capbuf *b, size_t n, char **ret)
{
    size_t cap;

    if (n > capbuf_room(b)) {
        return fail(b, -E2BIG);
    }
    cap = capbuf_cap_for(b, n);
    if ((cap != b->cap || !b->data) && resize(b, cap) < 0) {
        return fail(b, -ENOMEM);
    }
    *ret = b->data + b->len;
    return 0;
}

void
capbuf_commit(struct capbuf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

int
capbuf_append(struct capbuf *b, const void *data, size_t len)
{
    size_t take = len;
    char *p;
    int r;

    if (len > capbuf_room(b) && b->flags & CAPBUF_CUT) {
        take = capbuf_room(b);
    }
    if ((r = capbuf_reserve(b, take, &p)) < 0) {
        return r;
    }
    if (take) {
        memcpy(p, data, take);
        capbuf_commit(b, take);
    }
    return take == len ? 0 : fail(b, -E2BIG);
}

int
capbuf_vprintf(struct capbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    size_t fits, n;
    char *p;
    int w, r;

    /* First into the room already there, which is usually enough. */
    fits = b->data ? b->cap - b->len + 1 : 0;
    va_copy(again, ap);
    w = vsnprintf(b->data ? b->data + b->len : NULL, fits, fmt, ap);
    if (w < 0) {
        va_end(again);
        return fail(b, -EINVAL);
    }
    n = (size_t) w;
    if (n < fits && n <= capbuf_room(b)) {
        va_end(again);
        b->len += n;
        return 0;
    }
    if (n > capbuf_room(b) && b->flags & CAPBUF_CUT) {
        n = capbuf_room(b);
    }
    if ((r = capbuf_reserve(b, n, &p)) == 0) {
        /* vsnprintf() writes at most n bytes and the NUL: cut when it must. */
        vsnprintf(p, n + 1, fmt, again);
        b->len += n;
        r = n == (size_t) w ? 0 : fail(b, -E2BIG);
    } else if (b->data) {
        b->data[b->len] = '\0';     /* the first try may have written past it */
    }
    va_end(again);
    return r;
}

int
capbuf_printf(struct capbuf *b, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = capbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void
capbuf_consume(struct capbuf *b, size_t n)
{
    if (n > b->len) {
        n = b->len;
    }
    if (n == 0) {
        return;
    }
    memmove(b->data, b->data + n, b->len - n + 1);
    b->len -= n;
    wipe(b, b->data + b->len + 1, n);
}

void
capbuf_truncate(struct capbuf *b, size_t len)
{
    if (len >= b->len) {
        return;
    }
    wipe(b, b->data + len, b->len - len);
    b->len = len;
    b->data[len] = '\0';
}

const char *
capbuf_str(const struct capbuf *b)
{
    return b->data ? b->data : "";
}

int
capbuf_take(struct capbuf *b, char **ret, size_t *ret_len)
{
    size_t len = b->len;
    char *text;

    if (b->error) {
        return b->error;
    }
    if (b->flags & CAPBUF_FIXED || !b->data) {
        text = malloc(len + 1);
        if (!text) {
            return -ENOMEM;
        }
        memcpy(text, capbuf_str(b), len + 1);
    } else {
        text = b->data;
        b->data = NULL;
    }
    capbuf_release(b);
    if (ret_len) {
        *ret_len = len;
    }
    *ret = text;
    return 0;
}
