/* testhttp — a loopback HTTP/1.1 server for unit tests that play the Kubernetes
 * API server.
 *
 * One thread accepts connections on 127.0.0.1 (a port the kernel picks) one at a
 * time, reads one request from each (the head and a body of Content-Length bytes,
 * at most TESTHTTP_REQUEST_MAX in all) and hands it to the test's handler, which
 * writes the whole reply on the connection ("Connection: close"); the server
 * closes the connection when the handler returns.  Every wait in the server, the
 * handler's included when it uses testhttp_wait_readable() or watches 'quit[0]',
 * ends at testhttp_stop(), so a handler holding a watch open does not stall a
 * test.  Each wait gives up after TESTHTTP_WAIT_MS as well. */
#ifndef EXPORTFLOWS_TESTS_TESTHTTP_H
#define EXPORTFLOWS_TESTS_TESTHTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "exportflows/kube/kubeconfig.h"

#define TESTHTTP_REQUEST_MAX (20u << 10)
#define TESTHTTP_WAIT_MS 10000

/* Called on the server thread with one request, NUL-terminated ('request' is
 * borrowed for the call); the reply goes to 'fd'. */
typedef void testhttp_handler(void *ctx, int fd, const char *request);

/* Caller-owned; the members are read-only for the caller. */
struct testhttp {
    int listen_fd, quit[2], port;
    pthread_t thread;
    testhttp_handler *handler;
    void *ctx;
};

/* Starts serving with 'handler' and 'ctx'.  0 or -errno (nothing left to stop). */
int testhttp_start(struct testhttp *s, testhttp_handler *handler, void *ctx);
/* Stops the thread and closes everything. */
void testhttp_stop(struct testhttp *s);

/* True once 'fd' is readable; false after 'timeout_ms' or when the server is
 * stopping.  Waiting on 'quit[0]' itself is a pause that testhttp_stop() ends. */
bool testhttp_wait_readable(struct testhttp *s, int fd, int timeout_ms);

/* The request line of 'request' ("GET /path HTTP/1.1"), cut to fit 'size'. */
void testhttp_request_line(const char *request, char *line, size_t size);

/* Writes one whole reply on 'fd': "HTTP/1.1 <code> <reason>", 'body' as
 * application/json with its Content-Length.  False when the client is gone. */
bool testhttp_reply(int fd, int code, const char *reason, const char *body);
/* The same with a Kubernetes Status object (status Failure, 'code', 'reason',
 * 'reason' again as the message) as the body: how the API server refuses. */
bool testhttp_reply_status(int fd, int code, const char *reason);

/* Loads a kubeconfig whose server is this one (plain HTTP, no credentials)
 * into '*ret', which the caller destroys with kubeconfig_destroy().  0 or
 * -errno. */
int testhttp_kubeconfig(const struct testhttp *s, struct kubeconfig **ret);

#endif
