/* watchstream — see include/exportflows/watchstream.h. */
#include "exportflows/watchstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/jsontext.h"

struct watchstream {
    char *buf;                  /* the unfinished line; room for a NUL */
    size_t len, cap, max_line;
};

int
watchstream_create(size_t max_line, struct watchstream **ret)
{
    struct watchstream *ws = calloc(1, sizeof *ws);

    if (!ws) {
        return -ENOMEM;
    }
    ws->max_line = max_line ? max_line : WATCHSTREAM_MAX_LINE_DEFAULT;
    *ret = ws;
    return 0;
}

void
watchstream_destroy(struct watchstream *ws)
{
    if (ws) {
        free(ws->buf);
        free(ws);
    }
}

void
watchstream_reset(struct watchstream *ws)
{
    ws->len = 0;
}

size_t
watchstream_pending(const struct watchstream *ws)
{
    return ws->len;
}

/* Makes room for 'extra' more bytes plus a NUL, never past the cap. */
static int
reserve(struct watchstream *ws, size_t extra, struct errmsg *err)
{
    size_t need = ws->len + extra + 1, cap;
    char *p;

    if (extra > ws->max_line - ws->len) {
        return errmsg_set(err, -EMSGSIZE, "watch event larger than %zu bytes", ws->max_line);
    }
    if (need <= ws->cap) {
        return 0;
    }
    cap = ws->cap ? ws->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    if (cap > ws->max_line + 1) {
        cap = ws->max_line + 1;
    }
    p = realloc(ws->buf, cap);
    if (!p) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    ws->buf = p;
    ws->cap = cap;
    return 0;
}

static int
emit(char *line, size_t len, watchstream_line_fn *fn, void *ctx)
{
    if (len > 0 && line[len - 1] == '\r') {
        line[--len] = '\0';
    }
    return len ? fn(ctx, line, len) : 0;
}

int
watchstream_feed(struct watchstream *ws, const char *data, size_t len,
                 watchstream_line_fn *fn, void *ctx, struct errmsg *err)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t) (nl - data) : len;
        int r;

        r = reserve(ws, take, err);
        if (r) {
            return r;
        }
        memcpy(ws->buf + ws->len, data, take);
        ws->len += take;
        ws->buf[ws->len] = '\0';
        if (!nl) {
            break;
        }
        /* Even a line that arrived whole is copied: 'fn' gets a C string. */
        r = emit(ws->buf, ws->len, fn, ctx);
        ws->len = 0;
        if (r) {
            return r;
        }
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

static const char *const type_names[] = {
    [WATCHSTREAM_ADDED] = "ADDED",
    [WATCHSTREAM_MODIFIED] = "MODIFIED",
    [WATCHSTREAM_DELETED] = "DELETED",
    [WATCHSTREAM_BOOKMARK] = "BOOKMARK",
    [WATCHSTREAM_ERROR] = "ERROR",
};

const char *
watchstream_type_name(enum watchstream_type type)
{
    return (unsigned) type < sizeof type_names / sizeof *type_names ? type_names[type] : "?";
}

static int
parse_type(const char *name, enum watchstream_type *ret)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++) {
        if (name && !strcmp(name, type_names[i])) {
            *ret = (enum watchstream_type) i;
            return 0;
        }
    }
    return -EPROTO;
}

int
watchstream_parse_event(const char *line, size_t len, struct watchstream_event *ret,
                        struct errmsg *err)
{
    struct watchstream_event ev = { 0 };
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSONTEXT_PARSE_FLAGS, &jerr);
    json_t *object;
    int r = 0;

    if (!root) {
        return errmsg_set(err, -EPROTO, "watch event is not JSON: %s", jerr.text);
    }
    object = json_object_get(root, "object");
    if (parse_type(json_string_value(json_object_get(root, "type")), &ev.type)
        || !json_is_object(object)) {
        r = errmsg_set(err, -EPROTO, "watch event without a known type and an object");
        goto out;
    }
    ev.object = json_incref(object);
    if (ev.type == WATCHSTREAM_ERROR) {
        json_t *code = json_object_get(object, "code");
        const char *message = json_string_value(json_object_get(object, "message"));

        ev.code = json_is_integer(code) ? (long) json_integer_value(code) : 0;
        ev.message = message ? message : "";
    } else {
        ev.resource_version = json_string_value(
            json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
        if (!ev.resource_version || !ev.resource_version[0]) {
            r = errmsg_set(err, -EPROTO, "%s watch event without metadata.resourceVersion",
                           watchstream_type_name(ev.type));
            goto out;
        }
    }
    *ret = ev;
    ev.object = NULL;
out:
    json_decref(ev.object);
    json_decref(root);
    return r;
}

void
watchstream_event_release(struct watchstream_event *ev)
{
    json_decref(ev->object);
    ev->object = NULL;
}
