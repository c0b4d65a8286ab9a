/* testtls — see testtls.h. */
#include "testtls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testutil.h"

#define TESTTLS_TIMEOUT_S 20

static int
connect_loopback(int port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    struct timeval tv = { TESTTLS_TIMEOUT_S, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    /* A handshake the server never answers fails the test instead of hanging it. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static SSL_CTX *
ctx_new(const struct testtls_offer *offer)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        return NULL;
    }
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if ((offer->min_version && !SSL_CTX_set_min_proto_version(ctx, offer->min_version))
        || (offer->max_version && !SSL_CTX_set_max_proto_version(ctx, offer->max_version))
        || (offer->ciphers && !SSL_CTX_set_cipher_list(ctx, offer->ciphers))
        || (offer->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, offer->ciphersuites))) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
testtls_connect(struct testtls *t, int port, const struct testtls_offer *offer)
{
    static const struct testtls_offer none;
    SSL *ssl;

    memset(t, 0, sizeof *t);
    signal(SIGPIPE, SIG_IGN);
    t->fd = connect_loopback(port);
    if (t->fd < 0) {
        return -ECONNREFUSED;
    }
    t->ctx = ctx_new(offer ? offer : &none);
    if (!t->ctx) {
        return -EINVAL;     /* the test asked OpenSSL for something it lacks */
    }
    ssl = SSL_new(t->ctx);
    t->ssl = ssl;
    if (!ssl || !SSL_set_fd(ssl, t->fd)) {
        return -ENOMEM;
    }
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        return -EPROTO;
    }
    snprintf(t->cipher, sizeof t->cipher, "%s", SSL_get_cipher_name(ssl));
    snprintf(t->version, sizeof t->version, "%s", SSL_get_version(ssl));
    return 0;
}

bool
testtls_handshake_ok(int port, const struct testtls_offer *offer, char *cipher,
                     size_t size)
{
    struct testtls t;
    int r = testtls_connect(&t, port, offer);

    if (r == 0 && cipher) {
        snprintf(cipher, size, "%s", t.cipher);
    }
    testtls_close(&t);
    return r == 0;
}

bool
testtls_send(struct testtls *t, const char *data, size_t len)
{
    ERR_clear_error();
    return t->ssl && SSL_write(t->ssl, data, (int) len) == (int) len;
}

bool
testtls_closed_within(struct testtls *t, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);

    do {
        struct pollfd p = { .fd = t->fd, .events = POLLIN };

        if (poll(&p, 1, (int) testutil_deadline_left_ms(&d)) > 0) {
            return true;
        }
    } while (!testutil_deadline_passed(&d));
    return false;
}

void
testtls_close(struct testtls *t)
{
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    if (t->fd > 0) {
        close(t->fd);
    }
    memset(t, 0, sizeof *t);
}

/* Waits until the socket is ready for what OpenSSL asked ('error', from
 * SSL_get_error()), up to the deadline.  False when the time ran out or the
 * error is not a wait. */
static bool
wait_for(struct testtls *t, int error, const struct testutil_deadline *d)
{
    struct pollfd pfd = { t->fd, 0, 0 };

    if (error == SSL_ERROR_WANT_READ) {
        pfd.events = POLLIN;
    } else if (error == SSL_ERROR_WANT_WRITE) {
        pfd.events = POLLOUT;
    } else {
        return false;
    }
    return poll(&pfd, 1, (int) testutil_deadline_left_ms(d)) > 0;
}

/* Makes the socket non-blocking, so that OpenSSL calls come back at once and
 * the callers wait with poll() up to their own deadlines. */
static void
set_nonblocking(struct testtls *t)
{
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

ssize_t
testtls_write_within(struct testtls *t, const void *data, size_t len, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);
    size_t done = 0;

    set_nonblocking(t);
    while (done < len) {
        int n = SSL_write(t->ssl, (const char *) data + done, (int) (len - done));

        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        n = SSL_get_error(t->ssl, n);
        if (n != SSL_ERROR_WANT_READ && n != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return done ? (ssize_t) done : -EPIPE;
        }
        if (testutil_deadline_passed(&d) || !wait_for(t, n, &d)) {
            break;
        }
    }
    return (ssize_t) done;
}

ssize_t
testtls_read_within(struct testtls *t, char *buf, size_t size, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);

    set_nonblocking(t);
    for (;;) {
        int n = SSL_read(t->ssl, buf, (int) size);

        if (n > 0) {
            return n;
        }
        n = SSL_get_error(t->ssl, n);
        if (n != SSL_ERROR_WANT_READ && n != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            return -EPIPE;
        }
        if (testutil_deadline_passed(&d) || !wait_for(t, n, &d)) {
            return 0;
        }
    }
}
