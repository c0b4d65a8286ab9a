/* Tests of the jsonscan module: both readers against jansson itself.
 *
 * The rule under test (jsonscan.h): never accept what json_loadb() with
 * JSON_REJECT_DUPLICATES refuses, never report a value other than what jansson
 * builds, and say -EINVAL only for texts jansson refuses.  Each check below
 * feeds the same text to jansson and to jsonscan; the documents are altered
 * byte by byte (deleted, replaced, inserted) and at random, several tens of
 * thousands of texts in all. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>


#include <jansson.h>

#include "exportflows/admission/jsonscan.h"
#include "../../lib/testalloc.h"
#include "../../lib/testjsondiff.h"
#include "../../lib/testmutate.h"
#include "../../lib/testutil.h"

/* A document full of escapes, numbers and nesting. */
static const char escapes_doc[] =
    "{\"a\": [1, 0, -7, 123456789012345678, true, false, null, {}, []],\n"
    " \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9\xe2\x82\xac\",\n"
    " \"kb\": {\"kb\": \"v\", \"\": \"empty key\"}, \"n\": {\"m\": [[\"deep\"]], \"o\": 1}}";

/* Keys with escapes, one of them on a path ("kb", written "k\u0062"), and
 * fractions. */
static const char keys_doc[] =
    "{\"k\\u0062\": {\"kb\": \"v\", \"\\u00e9\\n\": 1}, \"f\": [2.5, -0.25]}";

/* Numbers as jansson reads them: exponents, the json_int_t limits, reals near
 * DBL_MAX and below the smallest subnormal, and a key that repeats another
 * once decoded. */
static const char numbers_doc[] =
    "{\"e\": [1e1, 1E+2, -2.5e-3, 0e400, 1e-400, 1.7976931348623157e308],\n"
    " \"i\": [9223372036854775807, -9223372036854775808, 123456789012345678],\n"
    " \"r\\u0065quest\": {\"uid\": 1.5e0, \"u\\u0069d2\": 2}, \"\\u0065\\/\": 0.1}";

/* An AdmissionReview as the apiserver sends it, shortened. */
static const char review_doc[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"0e1b9a9c-5e3f\",\"resource\":{\"group\":\"operator.openshift.io\","
    "\"resource\":\"networks\"},\"operation\":\"UPDATE\",\"userInfo\":{\"groups\":"
    "[\"system:masters\"]},\"object\":{\"metadata\":{\"name\":\"cluster\",\"generation\":7,"
    "\"annotations\":{\"a/b\":\"{\\\"x\\\":1}\"}},\"spec\":{\"defaultNetwork\":{\"type\":"
    "\"OVNKubernetes\"},\"exportNetworkFlows\":{\"netFlow\":{\"collectors\":"
    "[\"10.0.0.1:2056\",\"[fd00::1]:2056\"]},\"ipfix\":null}}},\"dryRun\":false}}";

static const char *const p_root[] = { NULL };
static const char *const p_a[] = { "a", NULL };
static const char *const p_s[] = { "s", NULL };
static const char *const p_nm[] = { "n", "m", NULL };
static const char *const p_no[] = { "n", "o", NULL };
static const char *const p_kb[] = { "kb", NULL };
static const char *const p_uid[] = { "request", "uid", NULL };
static const char *const p_group[] = { "request", "resource", "group", NULL };
static const char *const p_name[] = { "request", "object", "metadata", "name", NULL };
static const char *const p_spec[] = { "request", "object", "spec", NULL };
static const char *const p_export[] = { "request", "object", "spec", "exportNetworkFlows",
                                        NULL };
static const char *const p_type[] = { "request", "object", "spec", "defaultNetwork", "type",
                                      NULL };
static const char *const p_request[] = { "request", NULL };
static const char *const p_missing[] = { "request", "nothing", "here", NULL };

static const char *const *const all_paths[] = {
    p_root, p_a, p_s, p_nm, p_no, p_kb, p_uid, p_group, p_name, p_spec, p_export, p_type,
    p_request, p_missing,
};
#define N_PATHS (sizeof all_paths / sizeof all_paths[0])

/* What the readers did, so the tests can tell they were exercised. */
static struct testjsondiff_counts counts;

/* Both readers against jansson on one text (tests/lib/testjsondiff.c). */
static void
check_text(const char *text, size_t len)
{
    struct errmsg why;

    if (testjsondiff_check(text, len, all_paths, N_PATHS, &counts, &why)) {
        fail_msg("%s", why.text);
    }
}

static const char mutations[] = "\"\\{}[],:0-1.eu x\x01\x7f\xc3\xa9\xed\xa0\x80\xf4\x90";

/* Every byte of 'doc' deleted, replaced by and preceded by each mutation. */
static void
check_mutations(const char *doc)
{
    check_text(doc, strlen(doc));
    testmutate_each(doc, strlen(doc), mutations, sizeof mutations - 1, check_text);
}

static void
test_jsonscan_documents_parse(void **state)
{
    struct jsonscan_value values[N_PATHS];

    assert_int_equal(jsonscan_fields(escapes_doc, strlen(escapes_doc), all_paths, N_PATHS,
                                     values), 0);
    assert_int_equal(jsonscan_fields(keys_doc, strlen(keys_doc), all_paths, N_PATHS,
                                     values), 0);
    assert_int_equal(values[5].type, JSONSCAN_OBJECT);       /* "kb", written "k\u0062" */
    assert_int_equal(jsonscan_fields(numbers_doc, strlen(numbers_doc), all_paths, N_PATHS,
                                     values), 0);
    assert_int_equal(values[6].type, JSONSCAN_NUMBER);       /* request.uid, escaped */
    assert_int_equal(values[6].len, 5);
    assert_int_equal(jsonscan_fields(review_doc, strlen(review_doc), all_paths, N_PATHS,
                                     values), 0);
    assert_int_equal(values[7].type, JSONSCAN_STRING);
    assert_true(jsonscan_string_is(&values[7], "operator.openshift.io"));
    assert_int_equal(values[10].type, JSONSCAN_OBJECT);
    assert_int_equal(values[13].type, JSONSCAN_ABSENT);
    counts = (struct testjsondiff_counts) { 0 };
    check_text(escapes_doc, strlen(escapes_doc));
    check_text(review_doc, strlen(review_doc));
    check_text(keys_doc, strlen(keys_doc));
    check_text(numbers_doc, strlen(numbers_doc));
    assert_int_equal(counts.scanned, 4);
    assert_int_equal(counts.loaded, 4);
    json_t *tree = NULL;

    assert_int_equal(jsonscan_load(keys_doc, strchr(keys_doc, ',') - keys_doc + 0, &tree),
                     -ENOTSUP);         /* cut short */
}

static void
test_jsonscan_mutations_match_jansson(void **state)
{
    counts = (struct testjsondiff_counts) { 0 };
    check_mutations(escapes_doc);
    check_mutations(review_doc);
    check_mutations(keys_doc);
    check_mutations(numbers_doc);
    /* Most single alterations are errors; the rest must have been read here. */
    assert_true(counts.checked > 30000);
    assert_true(counts.scanned > 1000);
    assert_true(counts.loaded > 1000);
}

/* Random alterations of 1 to 4 bytes, from a fixed seed so failures repeat. */
static void
test_jsonscan_random_alterations_match_jansson(void **state)
{
    static const char alphabet[] = "{}[]\",:\\ -0123456789.eEtrufalsn\x01\x80\xc3\xa9\xff";
    size_t n = strlen(review_doc);
    char *buf = malloc(n + 8);
    uint32_t seed = 12345;

    assert_non_null(buf);
    counts = (struct testjsondiff_counts) { 0 };
    for (int round = 0; round < 30000; round++) {
        size_t len = n, k;

        memcpy(buf, review_doc, n);
        for (k = 0; k < 1 + (size_t) round % 4; k++) {
            size_t at;

            seed = seed * 1103515245u + 12345u;
            at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
            if (round % 3 == 0 && len < n + 7) {
                memmove(buf + at + 1, buf + at, len - at);
                len++;
            }
        }
        check_text(buf, len);
    }
    assert_true(counts.scanned > 1000);
    free(buf);
}

static void
test_jsonscan_edge_cases_match_jansson(void **state)
{
    static const char *const cases[] = {
        "{}", " {} ", "[]", "{\"a\":1}x", "{\"a\":01}", "{\"a\":-1}", "{\"a\":-0}",
        "{\"a\":-01}", "{\"a\":-}", "{\"a\":1.5}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e3}",
        "{\"a\":1234567890123456789}", "{\"a\":-123456789012345678}", "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ud800\\udbff\"}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}",
        "{\"x\":{\"a\":1,\"b\":{},\"a\":2}}", "[{\"a\":1,\"a\":1}]", "{\"a\":[1,]}",
        "{\"a\":1,}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":truex}", "{\"a\" 1}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}", "[1]", "\"s\"", "1",
        "", " ", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xf0\x9f\x98\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\\", "{\"a\":\"x",
        "{\"a\"", "{", "{\"a\":1}\x00", "{\"a\":\"\x7f\"}", "{\"a\":\"\t\"}", "{\"\":1}",
        "{\"a\":[[[[[[[[[[]]]]]]]]]]}", "{\n\r\t\"a\"\n:\r1\t}", "{\"a\":1}\xc3\xa9",
        "{\"request\":{\"uid\":1,\"uid\":1}}", "{\"request\":[],\"request\":{}}",
        "{\"a\":\"\\/\"}", "{\"a\":\"\\U0041\"}", "{\"a\":\"\xe2\x82\"}",
        /* Found by fuzzing: the root's text once took in the white space after
         * it, and a walk over "[]\n" found an element "]". */
        "[]\n", " [1, 2] ", "[{}]\t", "{\"a\":[]}\r\n",
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_text(cases[i], strlen(cases[i]));
    }
    check_text("{\"a\":1}\0", 8);
}

/* Exponents, integer and real limits, keys with escapes: read by both readers
 * (decided, never given up on), as jansson reads them. */
static void
test_jsonscan_numbers_and_escaped_keys_decided(void **state)
{
    static const char *const cases[] = {
        /* Exponents and the limits of integers and reals. */
        "[1e3]", "[1E3]", "[1e+3]", "[1e-3]", "[1e]", "[1e+]", "[1e-]", "[1.e3]", "[-1e3]",
        "[1ee3]", "[1e3.5]", "[1e03]", "[0e0]", "[-0.0e-0]", "[01e3]",
        "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
        "[-9223372036854775809]", "[9999999999999999999]", "[10000000000000000000]",
        "[1000000000000000000]", "[-1000000000000000000]", "[12345678901234567890123]",
        "[1.5e308]", "[1.7976931348623157e308]", "[1.7976931348623158e308]",
        "[1.7976931348623159e308]", "[1.8e308]", "[-1.8e308]", "[1e308]", "[1e309]",
        "[10e307]", "[100e307]", "[0.1e309]", "[0.01e310]", "[0.001e310]",
        "[17976931348623157e292]",
        "[17976931348623159e292]", "[1e-400]", "[-1e-400]", "[4.9e-324]", "[2e-324]",
        "[0e99999999999999999999]", "[0.000e400]", "[1e99999999999999999999]",
        "[1e-99999999999999999999]", "[123456789012345678901234567890.5]",
        "[0.00000000000000000000000000000001e340]", "[1.0000000000000000000000e308]",
        /* Keys with escapes: duplicates once decoded, and paths through them. */
        "{\"a\\u0062\":1,\"ab\":2}", "{\"ab\":1,\"a\\u0062\":2}",
        "{\"\\u00e9\":1,\"\xc3\xa9\":2}", "{\"\\u00e9\":1,\"\\u00E9\":2}",
        "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "{\"a\\n\":1,\"a\\u000a\":2}",
        "{\"a\\/\":1,\"a/\":2}", "{\"a\\/\":1,\"a\\\\\":2}", "{\"\\\"\":1,\"\\u0022\":2}",
        "{\"a\\u0000\":1}", "{\"a\\u0062c\":1,\"ab\":2}", "{\"ab\":1,\"a\\u0062c\":2}",
        "{\"req\\u0075est\":{\"uid\":\"x\",\"ui\\u0064\":\"y\"}}",
        "{\"req\\u0075est\":{\"resourc\\u0065\":{\"group\":\"g\"}}}",
        "{\"request\":{\"uid\":\"x\"},\"reque\\u0073t\":{}}",
        "{\"\\u0061\":{\"\\u0061\":1},\"b\":{\"a\":1,\"\\u0061\":1}}",
    };
    size_t n_valid = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        json_t *expected = json_loadb(cases[i], len, TESTJSONDIFF_FLAGS, NULL);
        struct jsonscan_value v;
        json_t *loaded = NULL;

        check_text(cases[i], len);
        assert_int_equal(jsonscan_fields(cases[i], len, all_paths, 1, &v),
                         expected ? 0 : -EINVAL);
        if (expected) {
            assert_int_equal(jsonscan_load(cases[i], len, &loaded), 0);
            json_decref(loaded);
            n_valid++;
        }
        json_decref(expected);
    }
    assert_true(n_valid > 30);
}

/* "\u0000" is read in a value, as jansson reads it with JSON_ALLOW_NUL, and
 * refused in a key, as jansson refuses it even then; the decoded length
 * counts the NUL bytes, and only a real "\u0000" counts as one. */
static void
test_jsonscan_nul_in_values_not_keys(void **state)
{
    static const char *const paths[][3] = { { "s", NULL }, { "o", "k", NULL }, { "t", NULL } };
    static const char *const bad_keys[] = {
        "{\"a\\u0000\":1}", "{\"\\u0000\":1}", "{\"o\":{\"\\u0000b\":1}}",
        "[{\"x\\u0000\":\"\\u0000\"}]", "{\"s\":1,\"s\\u0000\":2}",
    };
    const char *const *p[] = { paths[0], paths[1], paths[2] };
    const char doc[] = "{\"s\":\"10.0.0.1:2056\\u0000junk\",\"o\":{\"k\":\"\\u0000\"},"
                       "\"t\":\"a\\\\u0000\"}";
    struct jsonscan_value v[3];
    json_t *loaded = NULL;
    char buf[32];
    size_t len = 0;

    check_text(doc, strlen(doc));
    assert_int_equal(jsonscan_fields(doc, strlen(doc), p, 3, v), 0);
    assert_int_equal(jsonscan_string(&v[0], buf, sizeof buf, &len), 0);
    assert_int_equal(len, 18);
    assert_memory_equal(buf, "10.0.0.1:2056\0junk", 19);
    assert_true(jsonscan_string_has_nul(&v[0]));
    assert_false(jsonscan_string_is(&v[0], "10.0.0.1:2056"));
    assert_int_equal(jsonscan_string(&v[1], buf, sizeof buf, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], '\0');
    assert_true(jsonscan_string_has_nul(&v[1]));
    assert_false(jsonscan_string_is(&v[1], ""));
    /* An escaped backslash, then "u0000": no NUL. */
    assert_false(jsonscan_string_has_nul(&v[2]));
    assert_true(jsonscan_string_is(&v[2], "a\\u0000"));
    assert_int_equal(jsonscan_load(doc, strlen(doc), &loaded), 0);
    assert_int_equal(json_string_length(json_object_get(loaded, "s")), 18);
    json_decref(loaded);
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        size_t n = strlen(bad_keys[i]);

        check_text(bad_keys[i], n);
        assert_int_equal(jsonscan_fields(bad_keys[i], n, all_paths, 1, v), -EINVAL);
        assert_int_equal(jsonscan_load(bad_keys[i], n, &loaded), -ENOTSUP);
    }
}

/* The limits give up instead of failing: jansson decides. */
static void
test_jsonscan_limits_give_up(void **state)
{
    char buf[4096];
    struct jsonscan_value v;
    size_t n = 0;

    for (int i = 0; i <= JSONSCAN_MAX_DEPTH; i++) {
        buf[n++] = '[';
    }
    for (int i = 0; i <= JSONSCAN_MAX_DEPTH; i++) {
        buf[n++] = ']';
    }
    assert_int_equal(jsonscan_fields(buf, n, all_paths, 1, &v), -ENOTSUP);
    assert_int_equal(jsonscan_fields(buf + 1, n - 2, all_paths, 1, &v), 0);
    n = 0;
    buf[n++] = '{';
    for (int i = 0; i <= JSONSCAN_MAX_OBJECT_KEYS; i++) {
        n += (size_t) snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    }
    buf[n++] = '}';
    assert_int_equal(jsonscan_fields(buf, n, all_paths, 1, &v), -ENOTSUP);
    check_text(buf, n);
    /* A real within a factor 10 of DBL_MAX too long to hand to strtod(). */
    n = (size_t) snprintf(buf, sizeof buf, "[1.%0200de308]", 0);
    assert_int_equal(jsonscan_fields(buf, n, all_paths, 1, &v), -ENOTSUP);
    check_text(buf, n);
    n = (size_t) snprintf(buf, sizeof buf, "[1.%0200de307]", 0);
    assert_int_equal(jsonscan_fields(buf, n, all_paths, 1, &v), 0);
    check_text(buf, n);
    assert_int_equal(jsonscan_fields("{\"\\u0061\":1}", 12, all_paths, 1, &v), 0);
    assert_int_equal(jsonscan_fields("{\"a\":1e5}", 9, all_paths, 1, &v), 0);
    assert_int_equal(jsonscan_fields("{\"a\":1e999}", 11, all_paths, 1, &v), -EINVAL);
    assert_int_equal(jsonscan_fields("{\"a\":1,\"a\":1}", 13, all_paths, 1, &v), -EINVAL);
    const char *const *many[JSONSCAN_MAX_PATHS + 1];
    struct jsonscan_value many_values[JSONSCAN_MAX_PATHS + 1];

    for (size_t i = 0; i < JSONSCAN_MAX_PATHS + 1; i++) {
        many[i] = p_a;
    }
    assert_int_equal(jsonscan_fields("{\"a\":1}", 7, many, JSONSCAN_MAX_PATHS + 1,
                                     many_values), -E2BIG);
    assert_int_equal(many_values[JSONSCAN_MAX_PATHS].type, JSONSCAN_ABSENT);
    assert_int_equal(jsonscan_fields("{\"a\":1}", 7, many, JSONSCAN_MAX_PATHS, many_values), 0);
    assert_int_equal(many_values[JSONSCAN_MAX_PATHS - 1].type, JSONSCAN_NUMBER);
}

/* jsonscan_load_value() builds what the scanner found, also the long real
 * jsonscan_load() gives up on (through jansson), as jansson builds it. */
static void
test_jsonscan_load_value_takes_what_load_gives_up_on(void **state)
{
    const char *const *paths[] = { p_a };
    char buf[512];
    struct jsonscan_value v;
    json_t *got = NULL, *expected;
    size_t n = (size_t) snprintf(buf, sizeof buf, "{\"a\":1.%0200de307}", 0);

    assert_int_equal(jsonscan_fields(buf, n, paths, 1, &v), 0);
    assert_int_equal(v.type, JSONSCAN_NUMBER);
    assert_int_equal(jsonscan_load(v.text, v.len, &got), -ENOTSUP);
    assert_int_equal(jsonscan_load_value(&v, &got), 0);
    expected = json_loadb(v.text, v.len, JSON_DECODE_ANY, NULL);
    assert_non_null(expected);
    assert_true(json_is_real(got) && json_equal(got, expected));
    json_decref(got);
    json_decref(expected);
    n = (size_t) snprintf(buf, sizeof buf, "{\"a\":[\"x\\u0000\"]}");
    assert_int_equal(jsonscan_fields(buf, n, paths, 1, &v), 0);
    assert_int_equal(jsonscan_load_value(&v, &got), 0);
    assert_int_equal(json_string_length(json_array_get(got, 0)), 2);
    json_decref(got);
}

static void
test_jsonscan_string_decodes(void **state)
{
    static const char *const paths[][2] = { { "s", NULL }, { "t", NULL }, { "n", NULL } };
    const char *const *p[] = { paths[0], paths[1], paths[2] };
    const char doc[] = "{\"s\":\"a\\u00e9\\n\\ud83d\\ude00\\\"\",\"t\":\"plain\",\"n\":5}";
    struct jsonscan_value v[3];
    char buf[32];
    size_t len = 0;

    assert_int_equal(jsonscan_fields(doc, strlen(doc), p, 3, v), 0);
    assert_int_equal(jsonscan_string(&v[0], buf, sizeof buf, &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(buf, "a\xc3\xa9\n\xf0\x9f\x98\x80\"", 10);
    assert_true(jsonscan_string_is(&v[0], "a\xc3\xa9\n\xf0\x9f\x98\x80\""));
    assert_false(jsonscan_string_is(&v[0], "a\xc3\xa9\n\xf0\x9f\x98\x80"));
    assert_false(jsonscan_string_is(&v[0], "a\xc3\xa9\n\xf0\x9f\x98\x80\"x"));
    assert_true(jsonscan_string_is(&v[1], "plain"));
    assert_false(jsonscan_string_is(&v[1], "plai"));
    assert_false(jsonscan_string_is(&v[2], "5"));
    assert_int_equal(jsonscan_string(&v[1], buf, 5, &len), -ENOSPC);
    assert_int_equal(jsonscan_string(&v[1], buf, 6, &len), 0);
    assert_string_equal(buf, "plain");
    assert_int_equal(jsonscan_string(&v[2], buf, sizeof buf, &len), -EINVAL);
}

/* jsonscan_load() under failing allocations: -ENOMEM, never a leak (ASan) or
 * a wrong tree, and the normal result once allocations succeed. */
static void
test_jsonscan_load_allocation_failures(void **state)
{
    json_t *expected = json_loads(review_doc, JSON_REJECT_DUPLICATES, NULL);
    size_t budget = 0;

    assert_non_null(expected);
    for (;; budget++) {
        json_t *got = NULL;
        int error;

        testalloc_hook(budget);
        error = jsonscan_load(review_doc, strlen(review_doc), &got);
        testalloc_unhook();
        if (error == 0) {
            assert_true(json_equal(expected, got));
            json_decref(got);
            break;
        }
        assert_int_equal(error, -ENOMEM);
        assert_null(got);
        assert_true(budget < 100000);
    }
    assert_true(budget > 20);
    json_decref(expected);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonscan_documents_parse),
        cmocka_unit_test(test_jsonscan_mutations_match_jansson),
        cmocka_unit_test(test_jsonscan_random_alterations_match_jansson),
        cmocka_unit_test(test_jsonscan_edge_cases_match_jansson),
        cmocka_unit_test(test_jsonscan_numbers_and_escaped_keys_decided),
        cmocka_unit_test(test_jsonscan_nul_in_values_not_keys),
        cmocka_unit_test(test_jsonscan_limits_give_up),
        cmocka_unit_test(test_jsonscan_load_value_takes_what_load_gives_up_on),
        cmocka_unit_test(test_jsonscan_string_decodes),
        cmocka_unit_test(test_jsonscan_load_allocation_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
