/* testcurl — see testcurl.h. */
#include "testcurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
on_body(char *data, size_t size, size_t n, void *aux)
{
    struct testcurl_reply *reply = aux;
    size_t add = size * n;
    char *bigger;

    if (reply->len + add + 1 > TESTCURL_BODY_MAX) {
        return 0;               /* makes curl fail the transfer */
    }
    bigger = realloc(reply->body, reply->len + add + 1);
    if (!bigger) {
        return 0;
    }
    reply->body = bigger;
    memcpy(reply->body + reply->len, data, add);
    reply->len += add;
    reply->body[reply->len] = '\0';
    return add;
}

CURL *
testcurl_new(const char *ca_file)
{
    CURL *curl = curl_easy_init();

    if (!curl) {
        return NULL;
    }
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    if (ca_file) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    return curl;
}

int
testcurl_request(CURL *curl, const char *method, const char *url,
                 const char *content_type, const char *body, size_t len,
                 struct testcurl_reply *reply)
{
    struct curl_slist *headers = NULL;
    char header[256];
    const char *type = NULL;
    CURLcode rc;

    memset(reply, 0, sizeof *reply);
    if (content_type) {
        snprintf(header, sizeof header, "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, header);
    }
    /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_NOBODY, strcmp(method, "HEAD") ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->code);
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) {
        snprintf(reply->content_type, sizeof reply->content_type, "%s", type);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    return (int) rc;
}

long
testcurl_connects(CURL *curl)
{
    long n = -1;

    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &n);
    return n;
}

void
testcurl_reply_release(struct testcurl_reply *reply)
{
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

const char *
testcurl_url(char *buf, size_t size, const char *scheme, int port, const char *path)
{
    snprintf(buf, size, "%s://127.0.0.1:%d%s", scheme, port, path);
    return buf;
}
