/* httpconns — see src/http/httpconns.h. */
#include "httpconns.h"

#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "exportflows/base/clock.h"
#include "tlscreds.h"

void
httpconns_init(struct httpconns *conns)
{
    pthread_mutex_init(&conns->lock, NULL);
    conns->head = NULL;
}

void
httpconns_release(struct httpconns *conns)
{
    pthread_mutex_destroy(&conns->lock);
}

struct httpconn *
httpconn_new(struct httpconns *conns, struct httpserver *server, int fd)
{
    struct httpconn *c = calloc(1, sizeof *c);

    if (!c) {
        return NULL;
    }
    c->registry = conns;
    c->server = server;
    c->fd = fd;
    c->idle_since = clock_monotonic_now();
    return c;
}

void
httpconns_add(struct httpconns *conns, struct httpconn *c)
{
    pthread_mutex_lock(&conns->lock);
    c->next = conns->head;
    if (conns->head) {
        conns->head->prev = c;
    }
    conns->head = c;
    pthread_mutex_unlock(&conns->lock);
}

void
httpconns_remove(struct httpconns *conns, struct httpconn *c)
{
    pthread_mutex_lock(&conns->lock);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        conns->head = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    pthread_mutex_unlock(&conns->lock);
    tlscreds_release(c->creds);
    free(c);
}

void
httpconn_set_in_request(struct httpconn *c, bool in_request)
{
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->registry->lock);
    c->in_request = in_request;
    c->receiving = in_request;
    c->idle_since = clock_monotonic_now();
    pthread_mutex_unlock(&c->registry->lock);
}

void
httpconn_set_body_received(struct httpconn *c)
{
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->registry->lock);
    c->receiving = false;
    pthread_mutex_unlock(&c->registry->lock);
}

void
httpconns_reap_slow(struct httpconns *conns, unsigned header_deadline_s,
                    unsigned body_deadline_s)
{
    pthread_mutex_lock(&conns->lock);
    for (struct httpconn *c = conns->head; c; c = c->next) {
        unsigned deadline_s = !c->in_request ? header_deadline_s
                              : c->receiving ? body_deadline_s : 0;

        if (deadline_s && c->fd >= 0 && clock_seconds_since(&c->idle_since) > deadline_s) {
            shutdown(c->fd, SHUT_RDWR);
            c->fd = -1;
        }
    }
    pthread_mutex_unlock(&conns->lock);
}

bool
httpconns_have_input(struct httpconns *conns)
{
    bool pending = false;

    pthread_mutex_lock(&conns->lock);
    for (struct httpconn *c = conns->head; c && !pending; c = c->next) {
        int n = 0;

        pending = c->fd >= 0 && ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
    }
    pthread_mutex_unlock(&conns->lock);
    return pending;
}
