/* testjsondiff — see testjsondiff.h. */
#include "testjsondiff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "exportflows/admission/jsonscan.h"

/* jansson's value at 'path' (borrowed), NULL when absent. */
static const json_t *
jansson_at(const json_t *root, const char *const *path)
{
    for (; root && *path; path++) {
        root = json_object_get(root, *path);
    }
    return root;
}

static enum jsonscan_type
jansson_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return JSONSCAN_OBJECT;
    case JSON_ARRAY: return JSONSCAN_ARRAY;
    case JSON_STRING: return JSONSCAN_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return JSONSCAN_NUMBER;
    case JSON_TRUE: return JSONSCAN_TRUE;
    case JSON_FALSE: return JSONSCAN_FALSE;
    default: return JSONSCAN_NULL;
    }
}

/* The string 'v' decoded by jsonscan_string() into a new buffer ('*len' its
 * length), or NULL when it does not decode. */
static char *
decoded(const struct jsonscan_value *v, size_t *len)
{
    char *buf = malloc(v->len + 1);     /* decoding never lengthens */

    if (!buf) {
        abort();
    }
    if (jsonscan_string(v, buf, v->len + 1, len)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A string found by the scanner decodes to jansson's string, NUL bytes
 * included, and jsonscan_string_is() and jsonscan_string_has_nul() say what
 * jansson's length says: equal to its C string only without a NUL inside. */
static int
check_string(const struct jsonscan_value *got, const json_t *expected, struct errmsg *why)
{
    const char *text = json_string_value(expected);
    bool has_nul = strlen(text) != json_string_length(expected);
    size_t len;
    char *s = decoded(got, &len);
    int r = 0;

    if (!s || len != json_string_length(expected) || memcmp(s, text, len)) {
        r = errmsg_set(why, -1, "string '%.*s' decodes unlike jansson's", (int) got->len,
                       got->text);
    } else if (jsonscan_string_is(got, text) == has_nul) {
        r = errmsg_set(why, -1, "jsonscan_string_is() %s for '%.*s'",
                       has_nul ? "true" : "false", (int) got->len, got->text);
    } else if (jsonscan_string_has_nul(got) != has_nul) {
        r = errmsg_set(why, -1, "jsonscan_string_has_nul() wrong for '%.*s'",
                       (int) got->len, got->text);
    }
    free(s);
    return r;
}

/* A value found by the scanner is, as JSON text, what jansson has there. */
static int
check_value(const struct jsonscan_value *got, const json_t *expected, struct errmsg *why)
{
    json_t *parsed;
    int r = 0;

    if (!expected) {
        return got->type == JSONSCAN_ABSENT
               ? 0 : errmsg_set(why, -1, "found a member jansson does not have");
    }
    if (got->type != jansson_type(expected)) {
        return errmsg_set(why, -1, "type %d where jansson has %d: '%.*s'", (int) got->type,
                          (int) jansson_type(expected), (int) got->len, got->text);
    }
    parsed = json_loadb(got->text, got->len, TESTJSONDIFF_FLAGS | JSON_DECODE_ANY, NULL);
    if (!parsed || !json_equal(parsed, expected)) {
        r = errmsg_set(why, -1, "value '%.*s' differs from jansson's", (int) got->len,
                       got->text);
    } else if (got->type == JSONSCAN_STRING) {
        r = check_string(got, expected, why);
    }
    json_decref(parsed);
    return r;
}

/* Walks 'got' (found by the scanner) with jsonscan_iter_next() and checks
 * every member or element, and those below, against jansson's 'expected'. */
static int
check_walk(const struct jsonscan_value *got, const json_t *expected, struct errmsg *why)
{
    struct jsonscan_value key, value;
    struct jsonscan_iter it;
    size_t n = 0;

    if (got->type != JSONSCAN_OBJECT && got->type != JSONSCAN_ARRAY) {
        return jsonscan_iter_init(&it, got) == -EINVAL
               ? 0 : errmsg_set(why, -1, "walk started on a scalar");
    }
    if (jsonscan_iter_init(&it, got)) {
        return errmsg_set(why, -1, "walk refused a container");
    }
    while (jsonscan_iter_next(&it, &key, &value)) {
        const json_t *child;

        if (got->type == JSONSCAN_OBJECT) {
            size_t name_len;
            char *name = decoded(&key, &name_len);

            child = name ? json_object_getn(expected, name, name_len) : NULL;
            free(name);
        } else {
            child = json_array_get(expected, n);
        }
        if (!child) {
            return errmsg_set(why, -1, "walk found a member jansson does not have: %.*s",
                              (int) got->len, got->text);
        }
        if (check_value(&value, child, why) || check_walk(&value, child, why)) {
            return -1;
        }
        n++;
    }
    if (n != (json_is_object(expected) ? json_object_size(expected)
                                       : json_array_size(expected))) {
        return errmsg_set(why, -1, "walk found %zu members, jansson has more", n);
    }
    return 0;
}

/* jsonscan_fields() against jansson. */
static int
check_fields(const char *text, size_t len, const char *const *const *paths, size_t n_paths,
             struct testjsondiff_counts *counts, struct errmsg *why)
{
    json_t *expected = json_loadb(text, len, TESTJSONDIFF_FLAGS, NULL);
    struct jsonscan_value values[JSONSCAN_MAX_PATHS];
    int error = jsonscan_fields(text, len, paths, n_paths, values), r = 0;

    if (error == 0) {
        if (!expected) {
            r = errmsg_set(why, -1, "scanner accepted what jansson refuses");
        }
        for (size_t i = 0; !r && i < n_paths; i++) {
            r = check_value(&values[i], jansson_at(expected, paths[i]), why);
        }
        if (!r) {
            r = check_walk(&values[0], expected, why);  /* the whole document */
        }
        counts->scanned++;
    } else if (error == -EINVAL && expected && !memchr(text, '\0', len)) {
        /* jansson 2.14 skips a NUL byte that follows a number or a literal
         * ("[1\0]" loads); the scanner refuses it, which is safe: a refusal
         * sends the text to jansson. */
        r = errmsg_set(why, -1, "scanner called invalid what jansson accepts");
    } else if (error != -EINVAL && error != -ENOTSUP) {
        r = errmsg_set(why, -1, "scanner: unexpected %d", error);
    }
    json_decref(expected);
    return r;
}

/* jsonscan_load() against jansson. */
static int
check_load(const char *text, size_t len, struct testjsondiff_counts *counts,
           struct errmsg *why)
{
    json_t *loaded = NULL, *any;
    int error = jsonscan_load(text, len, &loaded), r = 0;

    if (error == -ENOMEM) {
        abort();
    }
    if (error == 0) {
        any = json_loadb(text, len, TESTJSONDIFF_FLAGS | JSON_DECODE_ANY, NULL);
        if (!any || !json_equal(any, loaded)) {
            r = errmsg_set(why, -1, "builder differs from jansson");
        }
        counts->loaded++;
        json_decref(any);
        json_decref(loaded);
    } else if (error != -ENOTSUP) {
        r = errmsg_set(why, -1, "builder: unexpected %d", error);
    }
    return r;
}

int
testjsondiff_check(const char *text, size_t len, const char *const *const *paths,
                   size_t n_paths, struct testjsondiff_counts *counts, struct errmsg *why)
{
    struct testjsondiff_counts ignored;

    if (!counts) {
        counts = &ignored;
    }
    counts->checked++;
    if (check_fields(text, len, paths, n_paths, counts, why)
        || check_load(text, len, counts, why)) {
        errmsg_prefix(why, -1, "on '%.*s'", (int) (len < 200 ? len : 200), text);
        return -1;
    }
    return 0;
}
