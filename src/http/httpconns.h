/* httpconns — the HTTP server's open connections, for cutting slow clients and
 * for telling whether a drain may stop.
 *
 * Private to httpserver.  Each libmicrohttpd connection gets a 'struct
 * httpconn' as its socket context; the registry lists them under a lock so that
 * the background thread can shut down connections that hold a slot without ever
 * finishing a request (slow-loris), and the drain can see requests that arrived
 * but that no worker has started on. */
#ifndef EXPORTFLOWS_HTTPCONNS_H
#define EXPORTFLOWS_HTTPCONNS_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

struct httpserver;
struct tlscreds;
struct httpconns;

/* One connection. */
struct httpconn {
    struct httpconn *prev, *next;   /* in registry->head, under registry->lock */
    struct httpconns *registry;
    struct httpserver *server;
    int fd;
    struct tlscreds *creds;         /* what the handshake used, or NULL */
    bool in_request;                /* under registry->lock */
    bool receiving;                 /* ... and its body not all in; same lock */
    struct timespec idle_since;     /* under registry->lock */
};

struct httpconns {
    pthread_mutex_t lock;
    struct httpconn *head;
};

void httpconns_init(struct httpconns *conns);
/* Once every connection was removed. */
void httpconns_release(struct httpconns *conns);

/* A new connection on socket 'fd' (-1: unknown), idle since now, not yet
 * listed; NULL when out of memory.  The caller lists it with httpconns_add(). */
struct httpconn *httpconn_new(struct httpconns *conns, struct httpserver *server,
                              int fd);

void httpconns_add(struct httpconns *conns, struct httpconn *c);

/* Unlists 'c', releases its TLS credentials and frees it.  libmicrohttpd reports
 * the close before it closes the socket, so the reaper, which works under the
 * same lock, never touches a descriptor number that was already reused. */
void httpconns_remove(struct httpconns *conns, struct httpconn *c);

/* Marks 'c' (NULL accepted) as serving a request (its body not yet in) or
 * idle, from now. */
void httpconn_set_in_request(struct httpconn *c, bool in_request);

/* Marks the body of the request 'c' serves (NULL accepted) as all in. */
void httpconn_set_body_received(struct httpconn *c);

/* Shuts down the sockets of connections that have not completed a request's
 * headers within 'header_deadline_s' (they trickle bytes to hold a slot; an
 * idle one would have met the idle timeout first), or its body within
 * 'body_deadline_s' of the headers (a body held back keeps its buffer, up to
 * the body cap); libmicrohttpd closes them. */
void httpconns_reap_slow(struct httpconns *conns, unsigned header_deadline_s,
                         unsigned body_deadline_s);

/* Whether a connection has bytes the server has not read yet: a request that
 * arrived but that no worker has started on, which the drain must not cut. */
bool httpconns_have_input(struct httpconns *conns);

#endif
