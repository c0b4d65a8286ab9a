/* testkubeobj — one Kubernetes object kept the way the API server keeps it,
 * behind a loopback testhttp server, for unit tests of the modules that
 * converge an object (the node status Lease, the election Lease):
 *   GET   answers the object, 404 NotFound while it is absent;
 *   POST  creates it, 409 AlreadyExists when it exists;
 *   PUT   replaces it, 404 NotFound when absent, 409 Conflict when its
 *         metadata.resourceVersion is not the current one;
 * every write stores the body sent with a new resourceVersion and answers with
 * it, as the API server does.  The test can fail the next requests with 500,
 * delay every reply, or change and delete the object behind the writer's back.
 * The members are under 'lock' once started; read them through the functions. */
#ifndef EXPORTFLOWS_TESTS_TESTKUBEOBJ_H
#define EXPORTFLOWS_TESTS_TESTKUBEOBJ_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "testhttp.h"

#define TESTKUBEOBJ_BODY_MAX 16384

/* Zero it, set 'fail_first' and 'delay_ms' if wanted, then start it. */
struct testkubeobj {
    struct testhttp http;
    unsigned fail_first;        /* answer 500 to this many requests */
    unsigned delay_ms;          /* before each reply */
    pthread_mutex_t lock;
    bool exists;
    unsigned rv;                /* the current resourceVersion */
    unsigned requests;
    char methods[64];           /* one letter per request: G(ET), P(OST), U (PUT) */
    char line[512];             /* the last request line */
    char body[TESTKUBEOBJ_BODY_MAX];    /* the object as stored */
};

/* Starts the server; 0 or -errno. */
int testkubeobj_start(struct testkubeobj *o);
void testkubeobj_stop(struct testkubeobj *o);

/* Without a server of its own: the object behind another fake that routes the
 * requests for it here ('http' and 'delay_ms' unused).  Release with
 * testkubeobj_release(). */
void testkubeobj_init(struct testkubeobj *o);
void testkubeobj_release(struct testkubeobj *o);
/* Answers one request for the object on 'fd', from a testhttp handler. */
void testkubeobj_answer(struct testkubeobj *o, int fd, const char *request);

/* Stores 'json' as if another client had written it (a new resourceVersion). */
void testkubeobj_set(struct testkubeobj *o, const char *json);
/* Another client updated the object: a new resourceVersion, same content. */
void testkubeobj_touch(struct testkubeobj *o);
/* The object was deleted (the garbage collector, a person). */
void testkubeobj_delete(struct testkubeobj *o);
/* Answers the next 'n' requests with 500. */
void testkubeobj_fail_next(struct testkubeobj *o, unsigned n);

unsigned testkubeobj_requests(struct testkubeobj *o);
/* Whether the stored object contains 'text'. */
bool testkubeobj_has(struct testkubeobj *o, const char *text);
/* The stored object parsed (caller json_decref()s it); NULL when absent. */
json_t *testkubeobj_get(struct testkubeobj *o);
/* Copies the methods so far ("GPU") into 'buf'. */
void testkubeobj_methods(struct testkubeobj *o, char *buf, size_t size);

#endif
