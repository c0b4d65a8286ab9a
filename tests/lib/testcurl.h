/* testcurl — libcurl helpers for tests that talk to a real server.
 *
 * One CURL handle is one client: requests made through the same handle reuse its
 * connection (keep-alive), which testcurl_connects() makes visible.  HTTPS is
 * verified against the given CA file, with no proxy, never against the system
 * store. */
#ifndef EXPORTFLOWS_TESTS_TESTCURL_H
#define EXPORTFLOWS_TESTS_TESTCURL_H

#include <curl/curl.h>
#include <stddef.h>

/* Replies larger than this are cut (and the request fails): tests never expect
 * more. */
#define TESTCURL_BODY_MAX (8u << 20)

struct testcurl_reply {
    long code;                  /* HTTP status, 0 when no reply */
    char *body;                 /* NUL-terminated; owned */
    size_t len;
    char content_type[128];
};

/* A handle with the CA file set ('ca_file' NULL: plain HTTP only) and a 20 s
 * timeout.  Caller frees with curl_easy_cleanup(); NULL on failure. */
CURL *testcurl_new(const char *ca_file);

/* Sends 'method' to 'url' with 'body' (may be NULL) of 'len' bytes and the
 * Content-Type 'content_type' (NULL: none).  Returns the CURLcode (0 = a reply
 * arrived, whatever its status) and fills 'reply', which the caller releases
 * with testcurl_reply_release() in every case. */
int testcurl_request(CURL *curl, const char *method, const char *url,
                     const char *content_type, const char *body, size_t len,
                     struct testcurl_reply *reply);

/* New connections the last request opened (0: it reused one). */
long testcurl_connects(CURL *curl);

void testcurl_reply_release(struct testcurl_reply *reply);

/* "https://127.0.0.1:<port><path>" or "http://..." into 'buf'. */
const char *testcurl_url(char *buf, size_t size, const char *scheme, int port,
                         const char *path);

#endif
