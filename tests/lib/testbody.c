/* testbody — see testbody.h. */
#include "testbody.h"

#include <stdlib.h>
#include <string.h>

static const char head[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"u\",\"operation\":\"CREATE\",\"resource\":{\"group\":\"operator.openshift.io\","
    "\"version\":\"v1\",\"resource\":\"networks\"},\"name\":\"cluster\",\"object\":{"
    "\"apiVersion\":\"operator.openshift.io/v1\",\"kind\":\"Network\","
    "\"metadata\":{\"name\":\"cluster\"},\"spec\":{";
static const char foot[] = "}}}}";

/* Appends 'n' bytes of 'text' at '*len'. */
static void
put(char *buf, size_t *len, const char *text, size_t n)
{
    memcpy(buf + *len, text, n);
    *len += n;
}

char *
testbody_filled(const char *open, const char *unit, const char *tail, const char *close,
                size_t size, size_t *ret_len)
{
    size_t fixed = strlen(head) + strlen(open) + strlen(tail) + strlen(close) + strlen(foot);
    size_t unit_len = strlen(unit), len = 0;
    char *buf = malloc(size + 1);

    if (!buf || size < fixed) {
        abort();
    }
    put(buf, &len, head, strlen(head));
    put(buf, &len, open, strlen(open));
    while (len + unit_len + 1 + fixed - strlen(head) - strlen(open) <= size) {
        put(buf, &len, unit, unit_len);
        put(buf, &len, ",", 1);
    }
    put(buf, &len, tail, strlen(tail));
    put(buf, &len, close, strlen(close));
    put(buf, &len, foot, strlen(foot));
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

char *
testbody_nested(unsigned depth)
{
    char *text = malloc(2 * (size_t) depth + 1);

    if (!text) {
        abort();
    }
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    return text;
}
