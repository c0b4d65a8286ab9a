/* watchstream — see include/exportflows/kube/watchstream.h. */
#include "exportflows/kube/watchstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/jsontext.h"

struct watchstream {
    struct capbuf line;         /* the unfinished line, capped at one event */
};

int
watchstream_create(size_t max_line, struct watchstream **ret)
{
    struct watchstream *ws = calloc(1, sizeof *ws);

    if (!ws) {
        return -ENOMEM;
    }
    capbuf_init(&ws->line, max_line ? max_line : WATCHSTREAM_MAX_LINE_DEFAULT, 0);
    *ret = ws;
    return 0;
}

void
watchstream_destroy(struct watchstream *ws)
{
    if (ws) {
        capbuf_release(&ws->line);
        free(ws);
    }
}

void
watchstream_reset(struct watchstream *ws)
{
    capbuf_reset(&ws->line);
}

size_t
watchstream_pending(const struct watchstream *ws)
{
    return ws->line.len;
}

/* Hands the line gathered so far, without a trailing '\r', to 'fn'. */
static int
emit(struct capbuf *line, watchstream_line_fn *fn, void *ctx)
{
    if (line->len > 0 && line->data[line->len - 1] == '\r') {
        capbuf_truncate(line, line->len - 1);
    }
    return line->len ? fn(ctx, line->data, line->len) : 0;
}

int
watchstream_feed(struct watchstream *ws, const char *data, size_t len,
                 watchstream_line_fn *fn, void *ctx, struct errmsg *err)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t) (nl - data) : len;
        int r = capbuf_append(&ws->line, data, take);

        if (r == -E2BIG) {
            return errmsg_set(err, -EMSGSIZE, "watch event larger than %zu bytes",
                              ws->line.max);
        } else if (r < 0) {
            return errmsg_set(err, r, "out of memory");
        }
        if (!nl) {
            break;
        }
        /* Even a line that arrived whole is copied: 'fn' gets a C string. */
        r = emit(&ws->line, fn, ctx);
        capbuf_reset(&ws->line);
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
