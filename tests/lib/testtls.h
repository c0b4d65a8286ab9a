/* testtls — a raw TLS client for tests of a server's TLS policy.
 *
 * One connection to 127.0.0.1:<port>, handshaken through OpenSSL with the
 * versions and cipher suites the test chooses.  The client's own security
 * level is 0 and the server's certificate is not checked, so a refused
 * handshake is always the server's doing: a test of "static RSA is refused"
 * must not pass because the client refused it.  After the handshake the
 * socket is the test's to trickle bytes on (testtls_send()) and to watch for
 * the server closing it (testtls_closed_within()), or to send a request bit by
 * bit and see when the answer comes (testtls_write_within(),
 * testtls_read_within(): a server that stops reading never stalls them). */
#ifndef EXPORTFLOWS_TESTS_TESTTLS_H
#define EXPORTFLOWS_TESTS_TESTTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the client offers.  0 / NULL: OpenSSL's defaults. */
struct testtls_offer {
    int min_version;            /* TLS1_2_VERSION, TLS1_3_VERSION */
    int max_version;
    const char *ciphers;        /* TLS 1.2 and older, OpenSSL names ("AES128-SHA") */
    const char *ciphersuites;   /* TLS 1.3 ("TLS_AES_128_GCM_SHA256") */
};

/* Caller-owned; zero it or let testtls_connect() fill it. */
struct testtls {
    int fd;
    void *ctx;                  /* SSL_CTX */
    void *ssl;                  /* SSL */
    char cipher[64];            /* the suite agreed on, OpenSSL's name */
    char version[16];           /* "TLSv1.2", "TLSv1.3" */
};

/* Connects and handshakes.  0 when the handshake completed; -ECONNREFUSED
 * when the TCP connection failed; -EPROTO when the handshake failed.  Release
 * 't' with testtls_close() in every case.  Ignores SIGPIPE from then on, so
 * that writing to a connection the server cut is an error, not death. */
int testtls_connect(struct testtls *t, int port, const struct testtls_offer *offer);

/* Whether a fresh connection with 'offer' completes its handshake; on
 * success the agreed suite is copied to 'cipher' (when not NULL). */
bool testtls_handshake_ok(int port, const struct testtls_offer *offer, char *cipher,
                          size_t size);

/* Writes 'len' bytes of application data; false when the connection is gone. */
bool testtls_send(struct testtls *t, const char *data, size_t len);

/* Whether the server closed the connection (end of file or reset) within
 * 'ms' milliseconds.  Meant for TLS 1.2 connections, on which the server sends
 * nothing unasked: anything readable is taken for a close. */
bool testtls_closed_within(struct testtls *t, unsigned ms);

/* Writes up to 'len' bytes, waiting at most 'ms' milliseconds for the server
 * to take them: the bytes written (fewer when the time ran out), -EPIPE when
 * the connection failed before any was. */
ssize_t testtls_write_within(struct testtls *t, const void *data, size_t len, unsigned ms);

/* Reads what arrives within 'ms' milliseconds into 'buf' ('size' bytes): the
 * bytes read, 0 when nothing came in time, -EPIPE at the end of the
 * connection. */
ssize_t testtls_read_within(struct testtls *t, char *buf, size_t size, unsigned ms);

/* Closes and frees; accepts a zeroed struct. */
void testtls_close(struct testtls *t);

#endif
