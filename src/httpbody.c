/* httpbody — see src/httpbody.h. */
#include "httpbody.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HTTPBODY_FIRST_CAP 4096

int
httpbody_reserve(struct httpbody *b, size_t size)
{
    b->data = malloc(size + 1);
    if (!b->data) {
        return -ENOMEM;
    }
    b->cap = size;
    return 0;
}

size_t
httpbody_room_for(const struct httpbody *b, size_t len, size_t max)
{
    size_t cap = b->cap ? b->cap : HTTPBODY_FIRST_CAP;

    if (b->len + len <= b->cap) {
        return b->cap;
    }
    while (cap < b->len + len) {
        cap = cap > max / 2 ? max : cap * 2;
    }
    return cap;
}

int
httpbody_append(struct httpbody *b, const char *data, size_t len, size_t max)
{
    if (b->len + len > b->cap) {
        size_t cap = httpbody_room_for(b, len, max);
        char *grown;

        grown = realloc(b->data, cap + 1);
        if (!grown) {
            return -ENOMEM;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void
httpbody_drop(struct httpbody *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = 0;
}

void
httpbody_terminate(struct httpbody *b)
{
    if (b->data) {
        b->data[b->len] = '\0';
    }
}
