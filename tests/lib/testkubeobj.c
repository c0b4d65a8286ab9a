/* testkubeobj — see testkubeobj.h. */
#include "testkubeobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stores 'obj' with the next resourceVersion; with the lock held. */
static void
store(struct testkubeobj *o, json_t *obj)
{
    char rv[16], *text;

    o->rv++;
    snprintf(rv, sizeof rv, "%u", o->rv);
    if (!json_is_object(json_object_get(obj, "metadata"))) {
        json_object_set_new(obj, "metadata", json_object());
    }
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
    text = json_dumps(obj, JSON_COMPACT);
    snprintf(o->body, sizeof o->body, "%s", text ? text : "{}");
    free(text);
    o->exists = true;
}

static unsigned
rv_of(const json_t *obj)
{
    const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                       "resourceVersion"));

    return rv ? (unsigned) strtoul(rv, NULL, 10) : 0;
}

/* Plays the API server for one request; with the lock held. */
static void
answer_locked(struct testkubeobj *o, int fd, const char *request)
{
    const char *body = strstr(request, "\r\n\r\n");
    bool get = !strncmp(request, "GET", 3), post = !strncmp(request, "POST", 4);
    size_t used = strlen(o->methods);
    json_t *obj;

    o->requests++;
    testhttp_request_line(request, o->line, sizeof o->line);
    if (used < sizeof o->methods - 1) {
        o->methods[used] = get ? 'G' : post ? 'P' : 'U';
    }
    obj = body ? json_loads(body + 4, 0, NULL) : NULL;
    if (o->fail_first) {
        o->fail_first--;
        testhttp_reply_status(fd, 500, "InternalError");
    } else if (get) {
        o->exists ? testhttp_reply(fd, 200, "OK", o->body)
                  : testhttp_reply_status(fd, 404, "NotFound");
    } else if (!json_is_object(obj)) {
        testhttp_reply_status(fd, 400, "BadRequest");
    } else if (post && o->exists) {
        testhttp_reply_status(fd, 409, "AlreadyExists");
    } else if (!post && !o->exists) {
        testhttp_reply_status(fd, 404, "NotFound");
    } else if (!post && rv_of(obj) != o->rv) {
        testhttp_reply_status(fd, 409, "Conflict");
    } else {
        store(o, obj);
        testhttp_reply(fd, post ? 201 : 200, post ? "Created" : "OK", o->body);
    }
    json_decref(obj);
}

static void
serve(void *ctx, int fd, const char *request)
{
    struct testkubeobj *o = ctx;

    if (o->delay_ms) {
        testhttp_wait_readable(&o->http, o->http.quit[0], (int) o->delay_ms);
    }
    testkubeobj_answer(o, fd, request);
}

void
testkubeobj_answer(struct testkubeobj *o, int fd, const char *request)
{
    pthread_mutex_lock(&o->lock);
    answer_locked(o, fd, request);
    pthread_mutex_unlock(&o->lock);
}

void
testkubeobj_init(struct testkubeobj *o)
{
    pthread_mutex_init(&o->lock, NULL);
}

void
testkubeobj_release(struct testkubeobj *o)
{
    pthread_mutex_destroy(&o->lock);
}

int
testkubeobj_start(struct testkubeobj *o)
{
    int r;

    testkubeobj_init(o);
    r = testhttp_start(&o->http, serve, o);
    if (r < 0) {
        testkubeobj_release(o);
    }
    return r;
}

void
testkubeobj_stop(struct testkubeobj *o)
{
    testhttp_stop(&o->http);
    testkubeobj_release(o);
}

void
testkubeobj_set(struct testkubeobj *o, const char *json)
{
    json_t *obj = json_loads(json, 0, NULL);

    if (!obj) {
        abort();                /* a broken test */
    }
    pthread_mutex_lock(&o->lock);
    store(o, obj);
    pthread_mutex_unlock(&o->lock);
    json_decref(obj);
}

void
testkubeobj_touch(struct testkubeobj *o)
{
    json_t *obj;

    pthread_mutex_lock(&o->lock);
    obj = json_loads(o->body, 0, NULL);
    if (obj) {
        store(o, obj);
    }
    pthread_mutex_unlock(&o->lock);
    json_decref(obj);
}

void
testkubeobj_delete(struct testkubeobj *o)
{
    pthread_mutex_lock(&o->lock);
    o->exists = false;
    pthread_mutex_unlock(&o->lock);
}

void
testkubeobj_fail_next(struct testkubeobj *o, unsigned n)
{
    pthread_mutex_lock(&o->lock);
    o->fail_first = n;
    pthread_mutex_unlock(&o->lock);
}

unsigned
testkubeobj_requests(struct testkubeobj *o)
{
    unsigned n;

    pthread_mutex_lock(&o->lock);
    n = o->requests;
    pthread_mutex_unlock(&o->lock);
    return n;
}

bool
testkubeobj_has(struct testkubeobj *o, const char *text)
{
    bool has;

    pthread_mutex_lock(&o->lock);
    has = o->exists && strstr(o->body, text) != NULL;
    pthread_mutex_unlock(&o->lock);
    return has;
}

json_t *
testkubeobj_get(struct testkubeobj *o)
{
    json_t *obj = NULL;

    pthread_mutex_lock(&o->lock);
    if (o->exists) {
        obj = json_loads(o->body, 0, NULL);
    }
    pthread_mutex_unlock(&o->lock);
    return obj;
}

void
testkubeobj_methods(struct testkubeobj *o, char *buf, size_t size)
{
    pthread_mutex_lock(&o->lock);
    snprintf(buf, size, "%s", o->methods);
    pthread_mutex_unlock(&o->lock);
}
