/* fuzz_admission_review — the body a client POSTs to the webhook's /validate.
 *
 * admission_review() on any bytes.  Checks, besides the sanitizers:
 *   - a reply is one JSON AdmissionReview v1 whose response carries the
 *     request's uid and the allowed flag the summary reports;
 *   - the fast path and the tree paths agree (as tests/unit/admission/test_admission.c
 *     checks on its cases): the body is reviewed again with a first member
 *     the scanner gives up on (nesting past JSONSCAN_MAX_DEPTH; its key holds
 *     an escape too) and that the review ignores, so that the whole tree reads
 *     it; the outcome, the reply bytes and the summary (but for the memory
 *     the trees took) must be the same;
 *   - admission_parse_body(), the tree path's parser, accepts every body that
 *     got a reply;
 *   - "\u0000" is read as everywhere (jansson with JSON_ALLOW_NUL, and the
 *     scanner alike, so both paths still read the same bodies), but never
 *     reaches a reply as a NUL byte: the reply parses without JSON_ALLOW_NUL;
 *     and a Network CREATE or UPDATE allowed without ratcheting has a spec
 *     that flowspec_validate() finds valid on jansson's own tree (which
 *     fuzz_flowspec checks never holds a NUL where it is read). */
#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "exportflows/admission/admission.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/admission/jsonscan.h"
#include "fuzz.h"

#define EXTRA_KEY "\"\\u0078-fuzz-tree-path\":"
#define EXTRA_DEPTH (JSONSCAN_MAX_DEPTH + 6)

struct outcome {
    int error;
    char *reply;
    size_t len;
    struct admission_summary summary;
    struct errmsg err;
};

static void
review(const char *body, size_t len, struct outcome *o)
{
    o->reply = NULL;
    o->len = 0;
    memset(&o->summary, 0, sizeof o->summary);
    o->err.text[0] = '\0';
    o->error = admission_review(body, len, NULL, &o->reply, &o->len, &o->summary, &o->err);
}

/* The reply is an AdmissionReview answering the request the summary names. */
static void
check_reply(const struct outcome *o)
{
    json_t *root, *response;
    const char *api_version;

    FUZZ_CHECK(o->reply && strlen(o->reply) == o->len, "reply length");
    /* Without JSON_ALLOW_NUL: a NUL byte never reaches a reply. */
    root = json_loadb(o->reply, o->len, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(root != NULL, "reply is not JSON: %s", o->reply);
    api_version = json_string_value(json_object_get(root, "apiVersion"));
    FUZZ_CHECK(api_version && !strcmp(api_version, ADMISSION_API_VERSION), "apiVersion: %s",
               o->reply);
    response = json_object_get(root, "response");
    FUZZ_CHECK(json_is_string(json_object_get(response, "uid")), "uid: %s", o->reply);
    FUZZ_CHECK(json_is_boolean(json_object_get(response, "allowed"))
               && json_is_true(json_object_get(response, "allowed")) == o->summary.allowed,
               "allowed: %s", o->reply);
    json_decref(root);
}

/* An allowed Network CREATE or UPDATE (not ratcheted): its spec is valid as
 * jansson reads the body.  An allowed ovs-flows-config has no Network spec to
 * check (its object's "spec", if any, means nothing). */
static void
check_allowed_spec(const char *body, size_t len, const struct outcome *o)
{
    json_t *root;
    struct fielderr_list report;
    struct flowspec spec;

    if (!o->summary.checked || o->summary.flows_config || !o->summary.allowed
        || o->summary.ratcheted) {
        return;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(root != NULL, "jansson refuses a body that got a reply");
    fielderr_list_init(&report);
    FUZZ_CHECK(flowspec_validate(json_object_get(json_object_get(json_object_get(root,
                                                                                 "request"),
                                                                 "object"), "spec"),
                                 &report, &spec) == 0, "allowed, but the spec is invalid");
    fielderr_list_release(&report);
    json_decref(root);
}

/* 'body' with the extra member put first, or NULL when the body does not start
 * with '{' (it is then refused on both paths alike).  Caller frees. */
static char *
tree_path_body(const char *body, size_t len, size_t *ret_len)
{
    size_t at = 0, extra = strlen(EXTRA_KEY) + 2 * EXTRA_DEPTH + 1, n = 0;
    char *out;

    while (at < len && strchr(" \t\r\n", body[at]) && body[at]) {
        at++;
    }
    if (at == len || body[at] != '{') {
        return NULL;
    }
    at++;
    out = malloc(len + extra);
    FUZZ_CHECK(out != NULL, "out of memory");
    memcpy(out, body, at);
    n = at;
    memcpy(out + n, EXTRA_KEY, strlen(EXTRA_KEY));
    n += strlen(EXTRA_KEY);
    memset(out + n, '[', EXTRA_DEPTH);
    n += EXTRA_DEPTH;
    memset(out + n, ']', EXTRA_DEPTH);
    n += EXTRA_DEPTH;
    out[n++] = ',';
    memcpy(out + n, body + at, len - at);
    *ret_len = n + len - at;
    return out;
}

static void
check_paths_agree(const char *body, size_t len, const struct outcome *fast)
{
    size_t tree_len = 0;
    char *tree_body = tree_path_body(body, len, &tree_len);
    struct outcome tree;

    if (!tree_body) {
        return;
    }
    review(tree_body, tree_len, &tree);
    /* The body may hold the extra key itself: jansson then refuses a duplicate. */
    if (!(tree.error == -EINVAL && strstr(tree.err.text, "duplicate"))) {
        FUZZ_CHECK(fast->error == tree.error, "fast path %d (%s), tree path %d (%s)",
                   fast->error, fast->err.text, tree.error, tree.err.text);
    }
    if (!fast->error && !tree.error) {
        FUZZ_CHECK(fast->len == tree.len && !memcmp(fast->reply, tree.reply, tree.len),
                   "replies differ:\n%s\n%s", fast->reply, tree.reply);
        tree.summary.tree_bytes = fast->summary.tree_bytes;
        FUZZ_CHECK(!memcmp(&fast->summary, &tree.summary, sizeof tree.summary),
                   "summaries differ");
    }
    free(tree.reply);
    free(tree_body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *) data;
    struct outcome fast;
    json_t *tree = NULL;
    struct errmsg err;

    review(body, size, &fast);
    FUZZ_CHECK(!fast.error || fast.error == -EINVAL, "unexpected %d (%s)", fast.error,
               fast.err.text);
    if (!fast.error) {
        check_reply(&fast);
        check_allowed_spec(body, size, &fast);
        FUZZ_CHECK(admission_parse_body(body, size, &tree, &err) == 0, "%s", err.text);
        json_decref(tree);
    }
    check_paths_agree(body, size, &fast);
    free(fast.reply);
    return 0;
}
