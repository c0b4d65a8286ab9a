/* Tests of the admission module: AdmissionReview v1 in, reply out.
 *
 * Most cases are files: tests/data/admission/<case>/request.json with either
 * expected.json (the exact reply) or expected-error (the one-line reason of the
 * 400 answer).  With EXPORTFLOWS_UPDATE_EXPECTED=1 the test writes those files
 * from what the code does instead, for a person to review. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>


#include <dirent.h>
#include <jansson.h>

#include "exportflows/admission/admission.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/jsonbudget.h"
#include "exportflows/base/jsontext.h"
#include "../../lib/testalloc.h"
#include "../../lib/testbody.h"
#include "../../lib/testmutate.h"
#include "../../lib/testutil.h"

#define DATA_DIR "tests/data/admission"

/* Reviews 'body' and returns the parsed reply, asserting success. */
static json_t *
review_ok(const char *body, struct admission_summary *summary)
{
    struct errmsg err = { "" };
    char *reply = NULL;
    size_t len = 0;
    json_error_t jerr;
    json_t *json;
    int error;

    error = admission_review(body, strlen(body), NULL, &reply, &len, summary, &err);
    if (error) {
        fail_msg("admission_review: %d %s", error, err.text);
    }
    assert_int_equal(strlen(reply), len);
    json = json_loadb(reply, len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(json);
    free(reply);
    return json;
}

static char *
read_case_file(const char *dir, const char *name)
{
    char *path = testutil_path(dir, name);
    char *text = testutil_read_file(path, NULL);

    free(path);
    return text;
}

static bool
update_mode(void)
{
    const char *v = getenv("EXPORTFLOWS_UPDATE_EXPECTED");

    return v && !strcmp(v, "1");
}

static void
write_case_file(const char *dir, const char *name, const char *text)
{
    char *path = testutil_path(dir, name);

    assert_int_equal(testutil_write_file(path, text, strlen(text)), 0);
    free(path);
}

/* Checks what every reply must be: the envelope, the echoed uid, no patch,
 * warnings within Kubernetes' limits. */
static void
check_reply_invariants(const json_t *reply, const char *uid)
{
    const json_t *response = json_object_get(reply, "response");
    const json_t *warnings = json_object_get(response, "warnings");
    size_t total = 0, i;
    const json_t *w;

    assert_string_equal(json_string_value(json_object_get(reply, "apiVersion")),
                        "admission.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(reply, "kind")), "AdmissionReview");
    assert_string_equal(json_string_value(json_object_get(response, "uid")), uid);
    assert_true(json_is_boolean(json_object_get(response, "allowed")));
    assert_null(json_object_get(response, "patch"));
    assert_null(json_object_get(response, "patchType"));
    json_array_foreach(warnings, i, w) {
        assert_true(strlen(json_string_value(w)) <= FIELDERR_WARNING_MAX);
        total += strlen(json_string_value(w));
    }
    assert_true(total <= FIELDERR_WARNINGS_TOTAL_MAX);
}

static void
run_reply_case(const char *dir, const char *body)
{
    struct admission_summary summary;
    json_t *request = json_loads(body, JSON_ALLOW_NUL, NULL);
    json_t *reply = review_ok(body, &summary);
    char *expected_text = read_case_file(dir, "expected.json");
    const char *uid = json_string_value(json_object_get(json_object_get(request, "request"),
                                                        "uid"));

    check_reply_invariants(reply, uid);
    assert_string_equal(summary.uid, uid);
    assert_int_equal(summary.allowed,
                     json_is_true(json_object_get(json_object_get(reply, "response"),
                                                  "allowed")));
    if (update_mode()) {
        char *text = json_dumps(reply, JSON_INDENT(2));

        write_case_file(dir, "expected.json", text);
        free(text);
    } else {
        json_t *expected;

        if (!expected_text) {
            fail_msg("%s: no expected.json", dir);
        }
        expected = json_loads(expected_text, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(expected);
        if (!json_equal(expected, reply)) {
            char *got = json_dumps(reply, JSON_INDENT(2));

            fail_msg("%s: reply differs from expected.json; got:\n%s", dir, got);
        }
        json_decref(expected);
    }
    free(expected_text);
    json_decref(reply);
    json_decref(request);
}

static void
run_error_case(const char *dir, const char *body, size_t len)
{
    struct errmsg err = { "" };
    char *reply = NULL, *expected;
    size_t reply_len = 0;

    assert_int_equal(admission_review(body, len, NULL, &reply, &reply_len, NULL, &err),
                     -EINVAL);
    assert_null(reply);
    assert_null(strchr(err.text, '\n'));
    if (update_mode()) {
        char line[ERRMSG_MAX + 1];

        snprintf(line, sizeof line, "%s\n", err.text);
        write_case_file(dir, "expected-error", line);
        return;
    }
    expected = read_case_file(dir, "expected-error");
    assert_non_null(expected);
    expected[strcspn(expected, "\n")] = '\0';
    assert_string_equal(err.text, expected);
    free(expected);
}

static void
test_admission_data_cases(void **state)
{
    DIR *d = opendir(DATA_DIR);
    struct dirent *e;
    size_t n_cases = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *dir, *body;
        size_t len;

        if (e->d_name[0] == '.') {
            continue;
        }
        dir = testutil_path(DATA_DIR, e->d_name);
        {
            char *path = testutil_path(dir, "request.json");

            body = testutil_read_file(path, &len);
            free(path);
        }
        assert_non_null(body);
        print_message("case %s\n", e->d_name);
        if (!strncmp(e->d_name, "bad-", 4)) {
            run_error_case(dir, body, len);
        } else {
            run_reply_case(dir, body);
        }
        n_cases++;
        free(body);
        free(dir);
    }
    closedir(d);
    assert_true(n_cases >= 20);
}

static char *
case_body(const char *name)
{
    char *dir = testutil_path(DATA_DIR, name);
    char *body = read_case_file(dir, "request.json");

    free(dir);
    assert_non_null(body);
    return body;
}

/* kubectl prints "The Network \"cluster\" is invalid: <field>: <message>" from
 * details.causes; the names below are what it reads. */
static void
test_admission_deny_is_kubernetes_invalid(void **state)
{
    char *body = case_body("denied-duplicate");
    struct admission_summary summary;
    json_t *reply = review_ok(body, &summary);
    const json_t *status = json_object_get(json_object_get(reply, "response"), "status");
    const json_t *details = json_object_get(status, "details");
    const json_t *cause = json_array_get(json_object_get(details, "causes"), 0);

    assert_false(summary.allowed);
    assert_true(summary.checked);
    assert_int_equal(summary.n_errors, 1);
    assert_string_equal(summary.operation, "CREATE");
    assert_string_equal(summary.name, "cluster");
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 422);
    assert_string_equal(json_string_value(json_object_get(status, "reason")), "Invalid");
    assert_string_equal(json_string_value(json_object_get(details, "kind")), "Network");
    assert_string_equal(json_string_value(json_object_get(details, "name")), "cluster");
    assert_string_equal(json_string_value(json_object_get(details, "group")),
                        "operator.openshift.io");
    assert_string_equal(json_string_value(json_object_get(cause, "field")),
                        "spec.exportNetworkFlows.netFlow[2]");
    assert_string_equal(json_string_value(json_object_get(cause, "reason")),
                        "FieldValueDuplicate");
    assert_non_null(strstr(json_string_value(json_object_get(cause, "message")),
                           "Duplicate value: \"172.30.158.150:2056\""));
    assert_non_null(strstr(json_string_value(json_object_get(status, "message")),
                           "Network.operator.openshift.io \"cluster\" is invalid: "
                           "spec.exportNetworkFlows.netFlow[2]: Duplicate value"));
    json_decref(reply);
    free(body);
}

/* Rule 9: an UPDATE that leaves an invalid exportNetworkFlows as it was, in
 * another shape and spelling, is allowed with warnings naming the errors. */
static void
test_admission_ratchets_unchanged_update(void **state)
{
    char *body = case_body("allowed-ratchet-unchanged-invalid");
    struct admission_summary summary;
    json_t *reply = review_ok(body, &summary);
    const json_t *response = json_object_get(reply, "response");

    assert_true(summary.allowed);
    assert_true(summary.ratcheted);
    assert_true(summary.n_errors > 0);
    assert_true(json_is_true(json_object_get(response, "allowed")));
    assert_null(json_object_get(response, "status"));
    assert_true(json_array_size(json_object_get(response, "warnings")) >= 2);
    json_decref(reply);
    free(body);
}

static void
test_admission_delete_allowed_unchecked(void **state)
{
    char *body = case_body("allowed-delete");
    struct admission_summary summary;
    json_t *reply = review_ok(body, &summary);

    assert_true(summary.allowed);
    assert_false(summary.checked);
    assert_string_equal(summary.operation, "DELETE");
    json_decref(reply);
    free(body);
}

static void
test_admission_deadline_passed(void **state)
{
    char *body = case_body("allowed-proposal");
    struct timespec past = { 0, 0 };
    struct errmsg err = { "" };
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(admission_review(body, strlen(body), &past, &reply, &len, NULL, &err),
                     -ETIMEDOUT);
    assert_null(reply);
    assert_true(strlen(err.text) > 0);
    free(body);
}

static void
test_admission_deadline_future(void **state)
{
    char *body = case_body("allowed-proposal");
    struct timespec later = admission_deadline(10 * 1000 * 1000);
    char *reply = NULL;
    size_t len = 0;

    assert_int_equal(admission_review(body, strlen(body), &later, &reply, &len, NULL, NULL), 0);
    assert_non_null(reply);
    free(reply);
    free(body);
}

/* A uid with control characters must not reach a log line as is. */
static void
test_admission_summary_is_printable(void **state)
{
    const char *body =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
        "\"request\":{\"uid\":\"a\\nb\\u0001\",\"operation\":\"DELETE\","
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"}}}";
    struct admission_summary summary;
    json_t *reply = review_ok(body, &summary);

    assert_string_equal(summary.uid, "a?b?");
    assert_string_equal(json_string_value(json_object_get(json_object_get(reply, "response"),
                                                          "uid")), "a\nb\001");
    json_decref(reply);
}

/* Many long errors under ratcheting: warnings stay within Kubernetes' limits. */
static void
test_admission_warnings_within_limits(void **state)
{
    json_t *request = json_load_file(DATA_DIR "/allowed-ratchet-unchanged-invalid/request.json",
                                     0, NULL);
    json_t *list = json_array();
    json_t *spec_old, *spec_new;
    struct admission_summary summary;
    char *body;
    json_t *reply;

    assert_non_null(request);
    for (int i = 0; i < 10; i++) {
        json_array_append_new(list, json_sprintf("[fd00:1234:5678:9abc:def0:1234:5678:%x]:%d",
                                                 i, 70000 + i));
    }
    spec_new = json_object_get(json_object_get(json_object_get(request, "request"), "object"),
                               "spec");
    spec_old = json_object_get(json_object_get(json_object_get(request, "request"),
                                               "oldObject"), "spec");
    json_object_set_new(spec_new, "exportNetworkFlows",
                        json_pack("{s:O, s:O, s:O}", "netFlow", list, "sFlow", list,
                                  "ipfix", list));
    json_object_set_new(spec_old, "exportNetworkFlows",
                        json_pack("{s:O, s:O, s:O}", "netFlow", list, "sFlow", list,
                                  "ipfix", list));
    body = json_dumps(request, JSON_COMPACT);
    reply = review_ok(body, &summary);
    check_reply_invariants(reply, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_true(summary.ratcheted);
    assert_true(summary.n_errors >= 20);
    assert_true(summary.n_warnings > 10);
    json_decref(reply);
    free(body);
    json_decref(list);
    json_decref(request);
}

static void
test_admission_parse_timeout(void **state)
{
    static const struct { const char *text; int error; uint64_t us; } cases[] = {
        { "10s", 0, 10000000 }, { "1m0s", 0, 60000000 }, { "2.5s", 0, 2500000 },
        { "500ms", 0, 500000 }, { "1h", 0, 3600000000ULL }, { "750us", 0, 750 },
        { "1\xc2\xb5s", 0, 1 }, { "1500ns", 0, 2 }, { "1m30s", 0, 90000000 },
        { "0s", -ERANGE, 0 }, { "2h", -ERANGE, 0 }, { "99999999999999999h", -ERANGE, 0 },
        { "", -EINVAL, 0 }, { "10", -EINVAL, 0 }, { "s", -EINVAL, 0 },
        { "-1s", -ERANGE, 0 }, { "10 s", -EINVAL, 0 }, { "10x", -EINVAL, 0 },
        { "1.s", 0, 1000000 }, { ".5s", 0, 500000 }, { ".s", -EINVAL, 0 },
        { "1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s1s", -EINVAL, 0 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t us = 12345;
        int error = admission_parse_timeout(cases[i].text, &us);

        if (error != cases[i].error) {
            fail_msg("'%s': got %d, want %d", cases[i].text, error, cases[i].error);
        }
        assert_int_equal(us, error ? 12345 : cases[i].us);
    }
}

/* Allocation failures inside jansson, at every point: the review either
 * succeeds or fails cleanly, never crashes or leaks (ASan checks that).  jansson
 * reports some allocation failures in its lexer as syntax errors, so -EINVAL is
 * accepted too while allocations fail; once they all succeed the outcome must be
 * the normal one. */
/* True when the review of 'body' finished as it does without failures. */
static bool
review_with_budget(const char *body, bool bad, size_t budget)
{
    struct errmsg err = { "" };
    char *reply = NULL;
    size_t len = 0;
    bool starved;
    int error;

    testalloc_hook(budget);
    error = admission_review(body, strlen(body), NULL, &reply, &len, NULL, &err);
    starved = testalloc_count() >= budget;
    testalloc_unhook();
    free(reply);
    if (!starved) {
        assert_int_equal(error, bad ? -EINVAL : 0);
        return true;
    }
    if (error != -ENOMEM && error != -EINVAL && error != 0) {
        fail_msg("%zu allocations: %d %s", budget, error, err.text);
    }
    return false;
}

static void
test_admission_allocation_failures(void **state)
{
    /* The jansson allocations each case needs at least: a valid spec read as
     * text and answered from the template needs none at all. */
    static const struct { const char *name; size_t min_budget; } cases[] = {
        { "denied-many-errors", 10 }, { "allowed-ratchet-unchanged-invalid", 10 },
        { "allowed-proposal", 0 }, { "bad-duplicate-key", 10 },
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *body = case_body(cases[c].name);
        size_t budget = 0;

        while (!review_with_budget(body, !strncmp(cases[c].name, "bad-", 4), budget)) {
            assert_true(++budget < 100000);
        }
        if (cases[c].min_budget) {
            assert_true(budget > cases[c].min_budget);
        } else {
            assert_int_equal(budget, 1);    /* a budget of 0 always counts as starved */
        }
        free(body);
    }
}

/* admission_parse_body() must agree with jansson (JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL) on every input: refuse what it refuses, and build an equal
 * tree otherwise — whether its fast reader or jansson itself did the work. */
static void
check_parse_agrees(const char *body, size_t len)
{
    json_t *expected = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    struct errmsg err = { "" };
    json_t *got = NULL;
    int error = admission_parse_body(body, len, &got, &err);

    if (!expected) {
        if (error != -EINVAL) {
            fail_msg("accepted what jansson refuses: %.*s", (int) len, body);
        }
        assert_null(got);
        return;
    }
    if (error || !json_equal(expected, got)) {
        fail_msg("differs from jansson (%d %s): %.*s", error, err.text, (int) len, body);
    }
    json_decref(got);
    json_decref(expected);
}

static void
test_admission_parse_body_matches_jansson(void **state)
{
    static const char doc[] =
        "{\"a\": [1, 0, 123456789012345678, true, false, null, {}, []],\n"
        " \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\",\n"
        " \"k\\u0062\": {\"kb\": \"v\", \"\": \"empty key\"}, \"n\": {\"m\": [[\"deep\"]]}}";
    static const char mutations[] = "\"\\{}[],:0-1eu x\x01\x7f\xc3\xa9";
    static const char *const extra[] = {
        "{}", " {} ", "{\"a\":1}x", "{\"a\":01}", "{\"a\":-1}", "{\"a\":1.5}",
        "{\"a\":1e3}", "{\"a\":1234567890123456789}", "{\"a\":\"\\u0000\"}",
        "{\"a\\u0000\":1}", "{\"a\":[\"x\\u0000y\", \"\\u0000\\u0000\"]}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"a\":[1,]}", "{\"a\":1,}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\" 1}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "[1]", "\"s\"", "", " ", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\\", "{\"a\":\"x", "{\"a\"", "{",
    };
    check_parse_agrees(doc, sizeof doc - 1);
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        check_parse_agrees(extra[i], strlen(extra[i]));
    }
    /* Every byte deleted, replaced, or preceded by each mutation character. */
    testmutate_each(doc, sizeof doc - 1, mutations, sizeof mutations - 1,
                    check_parse_agrees);
}

/* The data cases, as sent and re-serialised compactly, parse as jansson parses them. */
static void
test_admission_parse_body_data_cases(void **state)
{
    DIR *d = opendir(DATA_DIR);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *dir, *body, *compact;
        json_t *json;
        size_t len;

        if (e->d_name[0] == '.') {
            continue;
        }
        dir = testutil_path(DATA_DIR, e->d_name);
        body = read_case_file(dir, "request.json");
        assert_non_null(body);
        len = strlen(body);
        check_parse_agrees(body, len);
        json = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
        compact = json ? json_dumps(json, JSON_COMPACT) : NULL;
        if (compact) {
            check_parse_agrees(compact, strlen(compact));
        }
        free(compact);
        json_decref(json);
        free(body);
        free(dir);
    }
    closedir(d);
}

/* ---- the readers agree ------------------------------------------------------
 *
 * admission_review() reads what Kubernetes sends on a fast path, anything else
 * from a sparse tree, and what the scanner cannot read from the whole tree (see
 * admission.c).  admission_review_by() picks the reader, so each body goes
 * through all three here. */

static size_t n_agreed_ok, n_agreed_refused;

/* The review of 'body' by 'reader'. */
struct outcome {
    int error;
    char *reply;
    size_t len;
    struct admission_summary summary;
    struct errmsg err;
};

static void
review_by(enum admission_reader reader, const char *body, size_t len, struct outcome *o)
{
    *o = (struct outcome) { .reply = NULL, .err = { "" } };
    o->error = admission_review_by(reader, body, len, NULL, &o->reply, &o->len, &o->summary,
                                   &o->err);
}

/* Same outcome, same reply bytes or reason, same summary. */
static void
check_outcomes_agree(const char *what, const struct outcome *a, const struct outcome *b,
                     const char *body, size_t len)
{
    if (a->error != b->error || (a->error && strcmp(a->err.text, b->err.text))) {
        fail_msg("%s: %d (%s) against %d (%s): %.*s", what, a->error, a->err.text, b->error,
                 b->err.text, (int) len, body);
    }
    if (a->error) {
        return;
    }
    if (a->len != b->len || memcmp(a->reply, b->reply, a->len)) {
        fail_msg("%s: replies differ:\n%s\n%s\nfor: %.*s", what, a->reply, b->reply, (int) len,
                 body);
    }
    assert_string_equal(a->summary.uid, b->summary.uid);
    assert_string_equal(a->summary.operation, b->summary.operation);
    assert_string_equal(a->summary.name, b->summary.name);
    assert_int_equal(a->summary.allowed, b->summary.allowed);
    assert_int_equal(a->summary.checked, b->summary.checked);
    assert_int_equal(a->summary.ratcheted, b->summary.ratcheted);
    assert_int_equal(a->summary.n_errors, b->summary.n_errors);
    assert_int_equal(a->summary.n_warnings, b->summary.n_warnings);
}

static void
check_paths_agree(const char *body, size_t len)
{
    struct outcome automatic, sparse, whole;

    review_by(ADMISSION_READER_AUTO, body, len, &automatic);
    review_by(ADMISSION_READER_SPARSE, body, len, &sparse);
    review_by(ADMISSION_READER_WHOLE, body, len, &whole);
    check_outcomes_agree("fast against whole", &automatic, &whole, body, len);
    check_outcomes_agree("sparse against whole", &sparse, &whole, body, len);
    if (automatic.error) {
        n_agreed_refused++;
    } else {
        n_agreed_ok++;
    }
    free(automatic.reply);
    free(sparse.reply);
    free(whole.reply);
}

/* Every data case, as written and compacted. */
static void
test_admission_fast_path_matches_tree_path(void **state)
{
    DIR *d = opendir(DATA_DIR);
    struct dirent *e;

    assert_non_null(d);
    n_agreed_ok = n_agreed_refused = 0;
    while ((e = readdir(d))) {
        char *body, *compact;
        json_t *json;

        if (e->d_name[0] == '.') {
            continue;
        }
        body = case_body(e->d_name);
        check_paths_agree(body, strlen(body));
        json = json_loads(body, JSON_ALLOW_NUL, NULL);
        compact = json ? json_dumps(json, JSON_COMPACT) : NULL;
        if (compact) {
            check_paths_agree(compact, strlen(compact));
        }
        free(compact);
        json_decref(json);
        free(body);
    }
    closedir(d);
    assert_true(n_agreed_ok >= 30);
}

/* Requests altered byte by byte: every deletion, and every replacement with
 * characters that change structure, types or values.  Most alterations are
 * refused; the rest are allowed, denied or ratcheted alike on both paths. */
static void
test_admission_fast_path_matches_tree_path_altered(void **state)
{
    static const char *const names[] = { "allowed-update-valid",
                                         "allowed-ratchet-unchanged-invalid",
                                         "denied-update-changed", "allowed-status-subresource" };
    static const char replacements[] = "\"{}:,x1\\";

    n_agreed_ok = n_agreed_refused = 0;
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        char *body = case_body(names[c]);
        json_t *json = json_loads(body, JSON_ALLOW_NUL, NULL);
        char *doc = json_dumps(json, JSON_COMPACT);
        size_t n = strlen(doc);
        char *buf = malloc(n + 1);

        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
            memcpy(buf, doc, i);
            memcpy(buf + i, doc + i + 1, n - i - 1);
            check_paths_agree(buf, n - 1);
            for (size_t m = 0; m < sizeof replacements - 1; m++) {
                if (doc[i] == replacements[m]) {
                    continue;
                }
                memcpy(buf, doc, n);
                buf[i] = replacements[m];
                check_paths_agree(buf, n);
            }
        }
        free(buf);
        free(doc);
        json_decref(json);
        free(body);
    }
    assert_true(n_agreed_ok > 1000);
    assert_true(n_agreed_refused > 1000);
}

/* A NUL changed the review of 'body' ('got' against 'original'): fine when
 * the review says so or shows the value that holds it (a number in
 * ovs-flows-config the operator ignores is a warning), or when the NUL is in
 * oldObject (ratcheting compares the old spec, so a changed one may change
 * the verdict). */
static bool
nul_explained(const struct outcome *got, const struct outcome *original, bool in_old)
{
    if (got->error) {
        /* Before an opening quote, or in a key, it makes JSON jansson refuses. */
        return strstr(got->err.text, "NUL") || strstr(got->err.text, "not valid JSON");
    }
    return (got->len == original->len && !memcmp(got->reply, original->reply, got->len))
           || strstr(got->reply, JSONTEXT_NUL_DETAIL) || strstr(got->reply, "\\\\u0000")
           || in_old;
}

/* "\u0000" put before each quote of a request, one at a time: the readers
 * agree, a NUL in a string the review does not read changes nothing, and one
 * in a string it reads is refused, with a field error in the reply or a 400
 * that names the NUL. */
static void
test_admission_nul_in_each_string(void **state)
{
    static const char *const names[] = { "allowed-update-valid", "denied-update-changed",
                                         "allowed-ratchet-unchanged-invalid",
                                         "allowed-status-subresource",
                                         "allowed-flows-config-valid" };
    size_t n_same = 0, n_named = 0, n_refused = 0;

    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        char *body = case_body(names[c]);
        json_t *json = json_loads(body, JSON_ALLOW_NUL, NULL);
        char *doc = json_dumps(json, JSON_COMPACT);
        size_t n = strlen(doc);
        const char *old = strstr(doc, "\"oldObject\"");
        char *buf = malloc(n + 6);
        struct outcome original, got;

        assert_non_null(buf);
        review_by(ADMISSION_READER_WHOLE, doc, n, &original);
        assert_int_equal(original.error, 0);
        for (size_t i = 0; i < n; i++) {
            if (doc[i] != '"') {
                continue;
            }
            memcpy(buf, doc, i);
            memcpy(buf + i, "\\u0000", 6);
            memcpy(buf + i + 6, doc + i, n - i);
            check_paths_agree(buf, n + 6);
            review_by(ADMISSION_READER_AUTO, buf, n + 6, &got);
            if (!nul_explained(&got, &original, old && doc + i > old)) {
                fail_msg("a NUL changed the review unexplained: %d %s\n%s\nfor: %.*s",
                         got.error, got.err.text, got.reply ? got.reply : "", (int) n + 6,
                         buf);
            }
            n_refused += got.error != 0;
            n_named += !got.error && strstr(got.reply, JSONTEXT_NUL_DETAIL);
            n_same += !got.error && got.len == original.len
                      && !memcmp(got.reply, original.reply, got.len);
            free(got.reply);
        }
        free(original.reply);
        free(buf);
        free(doc);
        json_decref(json);
        free(body);
    }
    print_message("NUL before each quote: %zu reviewed as before, %zu denied naming it, "
                  "%zu refused\n", n_same, n_named, n_refused);
    assert_true(n_same > 100);
    assert_true(n_named >= 6);
    assert_true(n_refused > 100);
}

/* The fast path is what the requests Kubernetes sends take: reviewing one
 * allocates a fraction of what the tree path does. */
static size_t
allocations_of(enum admission_reader reader, const char *body, size_t len)
{
    struct errmsg err = { "" };
    char *reply = NULL;
    size_t reply_len;

    testalloc_hook(TESTALLOC_UNLIMITED);
    assert_int_equal(admission_review_by(reader, body, len, NULL, &reply, &reply_len, NULL,
                                         &err), 0);
    testalloc_unhook();
    free(reply);
    return testalloc_count();
}

static void
test_admission_fast_path_allocates_little(void **state)
{
    char *body = case_body("allowed-update-valid");
    size_t len = strlen(body);
    size_t fast = allocations_of(ADMISSION_READER_AUTO, body, len);
    size_t sparse = allocations_of(ADMISSION_READER_SPARSE, body, len);
    size_t tree = allocations_of(ADMISSION_READER_WHOLE, body, len);

    print_message("jansson allocations: fast path %zu, sparse tree %zu, whole tree %zu\n",
                  fast, sparse, tree);
    assert_true(fast * 4 < tree);
    assert_true(sparse < tree);
    free(body);
}

/* The sparse tree holds what a review reads, whatever else the body holds: a
 * thousand more objects elsewhere cost it nothing. */
static void
test_admission_sparse_tree_ignores_unread_members(void **state)
{
    char *body = case_body("allowed-update-valid");
    size_t len = strlen(body), big_len = 0;
    const char *brace = strchr(body, '{');
    char *big = malloc(len + 8192);

    assert_non_null(brace);
    assert_non_null(big);
    big_len = (size_t) (brace - body) + 1;
    memcpy(big, body, big_len);
    memcpy(big + big_len, "\"x\":[", 5);
    big_len += 5;
    for (int i = 0; i < 1000; i++) {
        memcpy(big + big_len, i ? ",{}" : "{}", i ? 3 : 2);
        big_len += i ? 3 : 2;
    }
    memcpy(big + big_len, "],", 2);
    big_len += 2;
    memcpy(big + big_len, brace + 1, len - (size_t) (brace + 1 - body));
    big_len += len - (size_t) (brace + 1 - body);
    assert_int_equal(allocations_of(ADMISSION_READER_SPARSE, big, big_len),
                     allocations_of(ADMISSION_READER_SPARSE, body, len));
    assert_true(allocations_of(ADMISSION_READER_WHOLE, big, big_len)
                >= allocations_of(ADMISSION_READER_WHOLE, body, len) + 1000);
    free(big);
    free(body);
}

/* ---- the memory budget ----------------------------------------------------- */

#define HOSTILE_SIZE (3u << 20)
#define COLLECTORS_OPEN "\"exportNetworkFlows\":{\"netFlow\":{\"collectors\":["

/* Reviews a body of HOSTILE_SIZE built by testbody_filled(); returns the
 * error, with what the review took in '*summary' and the reason in 'err'. */
static int
review_sized(size_t size, const char *open, const char *unit, const char *tail,
             const char *close, struct admission_summary *summary, struct errmsg *err)
{
    size_t len, reply_len;
    char *body = testbody_filled(open, unit, tail, close, size, &len);
    char *reply = NULL;
    int error;

    *summary = (struct admission_summary) { .allowed = false };
    error = admission_review(body, len, NULL, &reply, &reply_len, summary, err);
    assert_true(summary->tree_bytes <= ADMISSION_TREE_BYTES_MAX);
    free(reply);
    free(body);
    return error;
}

static int
review_hostile(const char *open, const char *unit, const char *tail, const char *close,
               struct admission_summary *summary, struct errmsg *err)
{
    return review_sized(HOSTILE_SIZE, open, unit, tail, close, summary, err);
}

/* A million small values are read without a tree when the scanner reads them
 * (exponents included), and refused within the budget when only a tree could
 * hold them: never more than ADMISSION_TREE_BYTES_MAX of jansson values. */
static void
test_admission_hostile_bodies_within_budget(void **state)
{
    char *deep = testbody_nested(100);
    struct admission_summary summary;
    struct errmsg err = { "" };

    jsonbudget_install(0);
    assert_true(jsonbudget_installed());
    /* The scanner reads these whole: no tree, the review as usual. */
    assert_int_equal(review_hostile("\"filler\":[", "{}", "1e1", "]", &summary, &err), 0);
    assert_true(summary.allowed);
    assert_true(summary.tree_bytes < 64 * 1024);
    assert_int_equal(review_hostile("\"filler\":[", "[]", "-2.5E-3", "]", &summary, &err), 0);
    assert_int_equal(review_hostile("\"f\\u0069ller\":[", "1", "1e1", "]", &summary, &err), 0);
    assert_true(summary.tree_bytes < 64 * 1024);
    /* Only a tree reads these: refused past the budget, with the reason. */
    assert_int_equal(review_hostile("\"filler\":[", "{}", deep, "]", &summary, &err), -E2BIG);
    assert_string_equal(err.text, "request too complex: reviewing it would take more than "
                        "8 MiB of memory");
    assert_int_equal(review_hostile("\"filler\":[", "\"\"", "x", "]", &summary, &err),
                     -E2BIG);
    assert_int_equal(review_hostile(COLLECTORS_OPEN, "\"a\"", "\"b\"", "]}}", &summary, &err),
                     -E2BIG);
    assert_true(summary.tree_bytes > ADMISSION_TREE_BYTES_MAX / 2);
    /* A deep member in a small body is still read, by jansson. */
    assert_int_equal(review_sized(4096, "\"filler\":[", "0", deep, "]", &summary, &err), 0);
    assert_true(summary.allowed);
    assert_true(summary.tree_bytes > 0);
    json_set_alloc_funcs(malloc, free);
    assert_false(jsonbudget_installed());
    free(deep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admission_data_cases),
        cmocka_unit_test(test_admission_deny_is_kubernetes_invalid),
        cmocka_unit_test(test_admission_ratchets_unchanged_update),
        cmocka_unit_test(test_admission_delete_allowed_unchecked),
        cmocka_unit_test(test_admission_deadline_passed),
        cmocka_unit_test(test_admission_deadline_future),
        cmocka_unit_test(test_admission_summary_is_printable),
        cmocka_unit_test(test_admission_warnings_within_limits),
        cmocka_unit_test(test_admission_parse_timeout),
        cmocka_unit_test(test_admission_allocation_failures),
        cmocka_unit_test(test_admission_parse_body_matches_jansson),
        cmocka_unit_test(test_admission_parse_body_data_cases),
        cmocka_unit_test(test_admission_fast_path_matches_tree_path),
        cmocka_unit_test(test_admission_fast_path_matches_tree_path_altered),
        cmocka_unit_test(test_admission_nul_in_each_string),
        cmocka_unit_test(test_admission_fast_path_allocates_little),
        cmocka_unit_test(test_admission_sparse_tree_ignores_unread_members),
        cmocka_unit_test(test_admission_hostile_bodies_within_budget),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
