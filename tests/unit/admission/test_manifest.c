/* Tests of manifest: YAML and JSON manifests to jansson values.
 *
 * The cases under tests/data/manifests/parse/<case>/ hold "input.yaml" or
 * "input.json" and either "expected.json" (an array of {document, item, line,
 * object}, one per object) or "expected-error" (manifest_parse()'s message).
 * The limits and file handling are tested here with generated input. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exportflows/admission/manifest.h"

#include "../../lib/testutil.h"

#define CASES_DIR "tests/data/manifests/parse"
#define MAX_CASES 64

/* ---- helpers ------------------------------------------------------------------- */

/* Reads a whole test file; fails the test when it cannot.  Caller frees. */
static char *
slurp(const char *path, size_t *len)
{
    char *text = testutil_read_file(path, len);

    if (!text) {
        fail_msg("%s: cannot read", path);
    }
    return text;
}

static int
parse_text(const char *text, struct manifest *m, struct errmsg *err)
{
    return manifest_parse(text, strlen(text), m, err);
}

/* The array of {document, item, line, object} that expected.json files hold. */
static json_t *
describe(const struct manifest *m)
{
    json_t *array = json_array();

    for (size_t i = 0; i < m->n; i++) {
        const struct manifest_object *o = &m->objects[i];

        json_array_append_new(array, json_pack("{s:I, s:I, s:I, s:O}",
                                               "document", (json_int_t) o->document,
                                               "item", (json_int_t) o->item,
                                               "line", (json_int_t) o->line,
                                               "object", o->json));
    }
    return array;
}

/* The path of 'file' in case 'name', or NULL when the file is not there. */
static char *
case_file(const char *name, const char *file)
{
    char *path = NULL;

    assert_true(asprintf(&path, "%s/%s/%s", CASES_DIR, name, file) > 0);
    if (access(path, R_OK)) {
        free(path);
        return NULL;
    }
    return path;
}

static void
run_case(const char *name)
{
    char *input = case_file(name, "input.yaml");
    char *expected_json = case_file(name, "expected.json");
    char *expected_error = case_file(name, "expected-error");
    struct manifest m = { .n = 0 };
    struct errmsg err = { .text = "" };
    char *text;
    size_t len;
    int r;

    if (!input) {
        input = case_file(name, "input.json");
    }
    assert_non_null(input);
    assert_true(!expected_json != !expected_error);
    text = slurp(input, &len);
    r = manifest_parse(text, len, &m, &err);
    if (expected_error) {
        char *want = slurp(expected_error, NULL);

        want[strcspn(want, "\n")] = '\0';
        if (r == 0 || strcmp(err.text, want)) {
            fail_msg("case %s: got %d '%s', want error '%s'", name, r, err.text, want);
        }
        free(want);
    } else {
        json_error_t jerr;
        json_t *want = json_load_file(expected_json, JSON_REJECT_DUPLICATES, &jerr);
        json_t *got;

        if (r) {
            fail_msg("case %s: %s", name, err.text);
        }
        assert_non_null(want);
        got = describe(&m);
        if (!json_equal(got, want)) {
            char *dump = json_dumps(got, JSON_COMPACT);

            fail_msg("case %s: got %s", name, dump);
        }
        json_decref(got);
        json_decref(want);
    }
    manifest_release(&m);
    free(text);
    free(input);
    free(expected_json);
    free(expected_error);
}

/* ---- cases --------------------------------------------------------------------- */

static void
test_manifest_data_cases(void **state)
{
    size_t n = 0;
    char **names = testutil_list_dir(CASES_DIR, &n);

    assert_non_null(names);
    assert_true(n <= MAX_CASES);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        run_case(names[i]);
    }
    testutil_free_names(names);
}

static void
test_manifest_collector_stays_string(void **state)
{
    struct manifest m;
    struct errmsg err;

    assert_int_equal(parse_text("netFlow: [172.30.158.150:2056, 1:20, 10.0.0.1:0]\n",
                                &m, &err), 0);
    assert_int_equal(m.n, 1);
    json_t *list = json_object_get(m.objects[0].json, "netFlow");
    assert_string_equal(json_string_value(json_array_get(list, 0)), "172.30.158.150:2056");
    assert_string_equal(json_string_value(json_array_get(list, 1)), "1:20");
    assert_string_equal(json_string_value(json_array_get(list, 2)), "10.0.0.1:0");
    manifest_release(&m);
}

static void
test_manifest_failure_leaves_result_untouched(void **state)
{
    struct manifest m = { .objects = (void *) &m, .n = 42 };
    struct errmsg err;

    assert_int_equal(parse_text("a: 1\nb: [\n", &m, &err), -EINVAL);
    assert_int_equal(m.n, 42);
    assert_ptr_equal(m.objects, &m);
}

/* A string of 'n' times 'unit' between 'head' and 'tail'. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t ulen = strlen(unit), hlen = strlen(head), tlen = strlen(tail);
    char *text = malloc(hlen + ulen * n + tlen + 1);

    assert_non_null(text);
    memcpy(text, head, hlen);
    for (size_t i = 0; i < n; i++) {
        memcpy(text + hlen + i * ulen, unit, ulen);
    }
    memcpy(text + hlen + n * ulen, tail, tlen + 1);
    return text;
}

/* Nesting: the root mapping plus 'levels' - 1 flow sequences. */
static void
check_depth(bool json, size_t levels, int want)
{
    char *open = repeat(json ? "{\"a\": " : "a: ", "[", levels - 1, "");
    char *text = repeat(open, "]", levels - 1, json ? "}" : "\n");
    struct manifest m = { .n = 0 };
    struct errmsg err;
    int r = parse_text(text, &m, &err);

    assert_int_equal(r, want);
    if (r) {
        assert_non_null(strstr(err.text, "nested deeper than 64 levels"));
    }
    manifest_release(&m);
    free(open);
    free(text);
}

static void
test_manifest_depth_limit(void **state)
{
    check_depth(false, MANIFEST_MAX_DEPTH, 0);
    check_depth(false, MANIFEST_MAX_DEPTH + 1, -E2BIG);
    check_depth(true, MANIFEST_MAX_DEPTH, 0);
    check_depth(true, MANIFEST_MAX_DEPTH + 1, -E2BIG);
    /* Far past jansson's own limit, still a clean error and no deep recursion. */
    check_depth(false, 100000, -E2BIG);
}

static void
test_manifest_node_limit(void **state)
{
    char *yaml = repeat("a: [", "1,", MANIFEST_MAX_NODES, "1]\n");
    char *json = repeat("{\"a\": [", "1,", MANIFEST_MAX_NODES, "1]}");
    struct manifest m;
    struct errmsg err;

    assert_int_equal(parse_text(yaml, &m, &err), -E2BIG);
    assert_string_equal(err.text, "1: more than 1048576 values");
    assert_int_equal(parse_text(json, &m, &err), -E2BIG);
    assert_string_equal(err.text, "1: more than 1048576 values");
    free(yaml);
    free(json);
}

static void
test_manifest_byte_limit(void **state)
{
    char *text = repeat("a: \"", "x", MANIFEST_MAX_BYTES, "\"\n");
    char path[] = "/tmp/test_manifest_XXXXXX";
    int fd = mkstemp(path);
    struct manifest m;
    struct errmsg err;

    assert_int_equal(manifest_parse(text, strlen(text), &m, &err), -E2BIG);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    assert_int_equal(manifest_load(path, &m, &err), -E2BIG);
    assert_non_null(strstr(err.text, ": larger than 8388608 bytes"));
    unlink(path);
    free(text);
}

static void
test_manifest_aliases_refused(void **state)
{
    /* The start of a "billion laughs": each level would double the size. */
    static const char laughs[] =
        "a: &a [lol, lol]\n"
        "b: &b [*a, *a]\n"
        "c: &c [*b, *b]\n";
    struct manifest m;
    struct errmsg err;

    assert_int_equal(parse_text(laughs, &m, &err), -EINVAL);
    assert_string_equal(err.text, "2: YAML aliases are not supported");
    /* An anchor alone is harmless and accepted. */
    assert_int_equal(parse_text("a: &x 1\n", &m, &err), 0);
    manifest_release(&m);
}

static void
test_manifest_load_names_file(void **state)
{
    char path[] = "/tmp/test_manifest_XXXXXX";
    int fd = mkstemp(path);
    char want[128];
    struct manifest m;
    struct errmsg err;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a: 1\nb: c: d\n", 13), 13);
    close(fd);
    assert_int_equal(manifest_load(path, &m, &err), -EINVAL);
    snprintf(want, sizeof want, "%s:2: ", path);
    assert_memory_equal(err.text, want, strlen(want));
    unlink(path);

    assert_int_equal(manifest_load("/nonexistent/x.yaml", &m, &err), -ENOENT);
    assert_string_equal(err.text, "/nonexistent/x.yaml: cannot open: No such file or directory");
    assert_int_equal(manifest_load("/", &m, &err), -EISDIR);
    assert_string_equal(err.text, "/: cannot read: Is a directory");
    assert_string_equal(manifest_display_name("-"), "<stdin>");
}

/* ---- allocation failures ------------------------------------------------------- */

static size_t allocations_left;

static void *
failing_malloc(size_t size)
{
    if (allocations_left == 0) {
        return NULL;
    }
    allocations_left--;
    return malloc(size);
}

/* Every jansson allocation failing in turn gives -ENOMEM and leaks nothing (the
 * sanitizer build checks the leaks). */
static void
test_manifest_allocation_failures(void **state)
{
    static const char text[] =
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {kind: Network, spec: {exportNetworkFlows: {netFlow: [\"10.0.0.1:2056\"]}}}\n"
        "- kind: ConfigMap\n  data: {a: '1', b: 2, c: [true, ~]}\n";
    size_t n;

    json_set_alloc_funcs(failing_malloc, free);
    for (n = 0; n < 1000; n++) {
        struct manifest m;
        struct errmsg err;
        int r;

        allocations_left = n;
        r = parse_text(text, &m, &err);
        if (r == 0) {
            assert_int_equal(m.n, 2);
            manifest_release(&m);
            break;
        }
        assert_int_equal(r, -ENOMEM);
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(n > 10 && n < 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_data_cases),
        cmocka_unit_test(test_manifest_collector_stays_string),
        cmocka_unit_test(test_manifest_failure_leaves_result_untouched),
        cmocka_unit_test(test_manifest_depth_limit),
        cmocka_unit_test(test_manifest_node_limit),
        cmocka_unit_test(test_manifest_byte_limit),
        cmocka_unit_test(test_manifest_aliases_refused),
        cmocka_unit_test(test_manifest_load_names_file),
        cmocka_unit_test(test_manifest_allocation_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
