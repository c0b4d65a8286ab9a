/* test_flowspec — validation rules 1-8 and flowspec_same()/flowspec_equal().
 *
 * Most cases are data: tests/data/flowspec/<case>/input.json holds a whole Network
 * object and <case>/expected the exact outcome, one line each, in this order:
 *   error: <fielderr_format() of each kept error>
 *   dropped-errors: <n>                  (only when errors were dropped)
 *   warning: <each warning>
 *   dropped-warnings: <n>                (only when warnings were dropped)
 *   valid                                (only when there is no error)
 *   normalised: <flowconfig_dump(flowconfig_build(spec, defaults, -1))>
 * EXPORTFLOWS_UPDATE_EXPECTED=1 rewrites the expected files from the results
 * (review the diff before keeping it).  The code tests cover what files cannot:
 * the summary line, semantic comparison, allocation counts and failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/base/jsontext.h"
#include "../../lib/testalloc.h"
#include "../../lib/testutil.h"

#define DATA_DIR "tests/data/flowspec"

/* ---- the data-driven cases ---- */

static void
outcome_lines(const struct fielderr_list *report, int rc,
              const struct flowspec *spec, struct testutil_lines *out)
{
    for (size_t i = 0; i < report->n_errors; i++) {
        char *text = fielderr_format(&report->errors[i]);

        assert_non_null(text);
        testutil_lines_add(out, "error: %s", text);
        free(text);
    }
    if (report->n_dropped_errors) {
        testutil_lines_add(out, "dropped-errors: %zu", report->n_dropped_errors);
    }
    for (size_t i = 0; i < report->n_warnings; i++) {
        testutil_lines_add(out, "warning: %s", report->warnings[i]);
    }
    if (report->n_dropped_warnings) {
        testutil_lines_add(out, "dropped-warnings: %zu", report->n_dropped_warnings);
    }
    if (rc == 0) {
        struct flowtuning tuning;
        struct flowconfig config;
        char *dump;

        flowtuning_init(&tuning);
        flowconfig_build(spec, &tuning, -1, &config);
        dump = flowconfig_dump(&config);
        assert_non_null(dump);
        testutil_lines_add(out, "valid");
        testutil_lines_add(out, "normalised: %s", dump);
        free(dump);
    }
}

static json_t *
load_input(const char *dir)
{
    char *path = testutil_path(dir, "input.json");
    json_error_t jerr;
    json_t *object = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

    if (!object) {
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    }
    free(path);
    return object;
}

/* A list of collector strings into 't'; false when an entry is not a string
 * without NUL or there are too many. */
static bool
text_list_of(const json_t *list, struct flowspec_text_list *t)
{
    if (json_array_size(list) > FLOWSPEC_MAX_COLLECTORS) {
        return false;
    }
    t->n = json_array_size(list);
    for (size_t i = 0; i < t->n; i++) {
        const json_t *item = json_array_get(list, i);

        t->items[i] = json_string_value(item);
        if (!t->items[i] || strlen(t->items[i]) != json_string_length(item)) {
            return false;
        }
    }
    return true;
}

/* One protocol's value into 't'; false for a shape flowspec_validate_text()
 * does not take. */
static bool
text_protocol_of(const json_t *value, struct flowspec_text_list *t)
{
    const json_t *list = json_object_get(value, "collectors");

    if (json_is_null(value)) {
        t->shape = FLOWSPEC_SHAPE_OFF;
        return true;
    }
    if (json_is_array(value)) {
        t->shape = FLOWSPEC_SHAPE_LIST;
        return text_list_of(value, t);
    }
    if (!json_is_object(value) || json_object_size(value) != (list ? 1u : 0u)) {
        return false;
    }
    if (!list || json_is_null(list)) {
        t->shape = FLOWSPEC_SHAPE_NO_COLLECTORS;
        return true;
    }
    t->shape = FLOWSPEC_SHAPE_RELEASED;
    return json_is_array(list) && text_list_of(list, t);
}

/* The spec as flowspec_validate_text() takes it, as the webhook reads it;
 * false for a shape it does not take. */
static bool
text_spec_of(const json_t *spec, struct flowspec_text *t)
{
    const json_t *export = json_object_get(spec, "exportNetworkFlows");
    const json_t *type = json_object_get(json_object_get(spec, "defaultNetwork"), "type");
    const char *key;
    json_t *value;

    memset(t, 0, sizeof *t);
    if ((spec && !json_is_object(spec)) || (type && !jsontext_get(type))) {
        return false;
    }
    t->network_type = json_string_value(type);
    if (!export || json_is_null(export)) {
        return true;
    }
    if (!json_is_object(export)) {
        return false;
    }
    json_object_foreach((json_t *) export, key, value) {
        int p = 0;

        while (p < FLOWPROTO_N && strcmp(key, flowproto_name((enum flowproto) p))) {
            p++;
        }
        if (p == FLOWPROTO_N || !text_protocol_of(value, &t->proto[p])) {
            return false;
        }
    }
    return true;
}

static size_t n_text_cases;

/* flowspec_validate_text() on the case, when its shape allows: the same
 * outcome lines as flowspec_validate() gave ('expected'). */
static bool
text_case_agrees(const char *dir, const json_t *spec, const char *expected)
{
    struct flowspec_text text;
    struct fielderr_list report;
    struct flowspec out;
    struct testutil_lines actual = { NULL, 0, 0 };
    bool ok;
    int rc;

    if (!text_spec_of(spec, &text)) {
        return true;
    }
    n_text_cases++;
    fielderr_list_init(&report);
    rc = flowspec_validate_text(&text, &report, &out);
    outcome_lines(&report, rc, &out, &actual);
    ok = !strcmp(expected, actual.text);
    if (!ok) {
        print_error("case %s as text\n--- expected\n%s--- actual\n%s", dir, expected,
                    actual.text);
    }
    fielderr_list_release(&report);
    free(actual.text);
    return ok;
}

/* Runs one case; returns true when it matches (or was rewritten). */
static bool
run_case(const char *dir)
{
    json_t *object = load_input(dir);
    char *path = testutil_path(dir, "expected");
    char *expected = testutil_read_file(path, NULL);
    struct fielderr_list report;
    struct flowspec spec;
    struct testutil_lines actual = { NULL, 0, 0 };
    bool ok;
    int rc;

    fielderr_list_init(&report);
    rc = flowspec_validate(json_object_get(object, "spec"), &report, &spec);
    assert_true(rc == 0 || rc == -EINVAL);
    assert_int_equal(rc == 0, fielderr_list_count(&report) == 0);
    outcome_lines(&report, rc, &spec, &actual);
    ok = expected && !strcmp(expected, actual.text)
         && text_case_agrees(dir, json_object_get(object, "spec"), actual.text);
    if (!ok && getenv("EXPORTFLOWS_UPDATE_EXPECTED")) {
        assert_int_equal(testutil_write_file(path, actual.text, actual.len), 0);
        ok = true;
    } else if (!ok) {
        print_error("case %s\n--- expected\n%s--- actual\n%s", dir,
                    expected ? expected : "(missing)\n", actual.text);
    }
    fielderr_list_release(&report);
    json_decref(object);
    free(actual.text);
    free(expected);
    free(path);
    return ok;
}

static void
test_flowspec_data_cases(void **state)
{
    size_t n = 0, failed;

    n_text_cases = 0;
    failed = testutil_run_cases(DATA_DIR, run_case, &n);
    assert_true(n >= 30);
    /* Most cases are in the shapes the webhook validates as text. */
    print_message("%zu of %zu cases also validated as text\n", n_text_cases, n);
    assert_true(n_text_cases * 2 > n);
    assert_int_equal(failed, 0);
}

/* ---- helpers for the code tests ---- */

static json_t *
spec_from(const char *text)
{
    json_error_t jerr;
    json_t *spec = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    if (!spec) {
        fail_msg("bad test JSON: %s: %s", text, jerr.text);
    }
    return spec;
}

static const char proposal[] =
    "{\"clusterNetwork\": [{\"cidr\": \"10.128.0.0/14\", \"hostPrefix\": 23}],"
    " \"defaultNetwork\": {\"ovnKubernetesConfig\": {\"genevePort\": 6081,"
    " \"mtu\": 1400}, \"type\": \"OVNKubernetes\"},"
    " \"serviceNetwork\": [\"172.30.0.0/16\"],"
    " \"exportNetworkFlows\": {"
    "  \"netFlow\": [\"172.30.158.150:2056\", \"172.30.54.103:2056\"],"
    "  \"sFlow\": [\"172.30.158.150:6343\", \"172.30.54.103:6343\"],"
    "  \"ipfix\": [\"172.30.158.150:2055\", \"172.30.54.103:2055\"]}}";

/* 60 invalid collectors over three protocols: 3 "Too many" + 60 errors. */
static json_t *
many_errors_spec(void)
{
    json_t *export = json_object();
    json_t *spec = json_object();

    for (int p = 0; p < FLOWPROTO_N; p++) {
        json_t *list = json_array();

        for (int i = 0; i < 20; i++) {
            json_array_append_new(list, json_sprintf("10.0.0.%d:70000", i + 1));
        }
        json_object_set_new(export, flowproto_name((enum flowproto) p), list);
    }
    json_object_set_new(spec, "exportNetworkFlows", export);
    return spec;
}

/* ---- code tests ---- */

static void
test_flowspec_proposal_valid(void **state)
{
    json_t *spec = spec_from(proposal);
    struct fielderr_list report;
    struct flowspec out;
    char text[COLLECTOR_TEXT_SIZE];

    fielderr_list_init(&report);
    assert_int_equal(flowspec_validate(spec, &report, &out), 0);
    assert_int_equal(report.n_warnings, 0);
    for (int p = 0; p < FLOWPROTO_N; p++) {
        assert_int_equal(out.proto[p].n, 2);
    }
    /* Sorted: 172.30.54.103 before 172.30.158.150. */
    assert_string_equal(collector_format(&out.proto[FLOWPROTO_NETFLOW].items[0], text),
                        "172.30.54.103:2056");
    fielderr_list_release(&report);
    json_decref(spec);
}

static void
test_flowspec_summary_counts_dropped(void **state)
{
    json_t *spec = many_errors_spec();
    struct fielderr_list report;
    struct flowspec out;
    char *summary;
    const char *tail = ", and 13 more]";

    fielderr_list_init(&report);
    assert_int_equal(flowspec_validate(spec, &report, &out), -EINVAL);
    assert_int_equal(report.n_errors, FIELDERR_MAX_ERRORS);
    assert_int_equal(fielderr_list_count(&report), 63);
    summary = fielderr_list_summary(&report);
    assert_non_null(summary);
    assert_int_equal(summary[0], '[');
    assert_true(strlen(summary) > strlen(tail));
    assert_string_equal(summary + strlen(summary) - strlen(tail), tail);
    free(summary);
    fielderr_list_release(&report);
    json_decref(spec);
}

/* The webhook's hot path: a valid spec is checked without one allocation. */
static void
test_flowspec_valid_input_does_not_allocate(void **state)
{
    json_t *spec = spec_from(proposal);
    struct fielderr_list report;
    struct flowspec out;

    fielderr_list_init(&report);
    testalloc_hook(TESTALLOC_UNLIMITED);
    assert_int_equal(flowspec_validate(spec, &report, &out), 0);
    assert_true(flowspec_same(spec, spec));
    testalloc_unhook();
    assert_int_equal(testalloc_count(), 0);
    fielderr_list_release(&report);
    json_decref(spec);
}

/* Every allocation of parse + validate fails in turn: nothing crashes or leaks,
 * and running out of memory never turns a refusal into an allowance. */
static void
check_alloc_failures(const char *text, int want)
{
    for (size_t budget = 0;; budget++) {
        struct fielderr_list report;
        struct flowspec out;
        json_t *spec;
        int rc = 0;

        fielderr_list_init(&report);
        testalloc_hook(budget);
        spec = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (spec) {
            rc = flowspec_validate(spec, &report, &out);
            assert_int_equal(rc, want);
        }
        fielderr_list_release(&report);
        json_decref(spec);
        testalloc_unhook();
        if (spec && testalloc_count() <= budget) {
            break;              /* ran without a single failure */
        }
        assert_true(budget < 100000);
    }
}

static void
test_flowspec_alloc_failures(void **state)
{
    check_alloc_failures(proposal, 0);
    check_alloc_failures("{\"exportNetworkFlows\": {\"netflow\": [], \"sFlow\": "
                         "[\"127.0.0.1:6343\", \"127.0.0.1:6343\", 5, {\"a\": [1]}],"
                         " \"ipfix\": {\"collectors\": [\"[fd00::1]:0\"], \"x\": 1}},"
                         " \"defaultNetwork\": {\"type\": \"OpenShiftSDN\"}}", -EINVAL);
}

static void
assert_same(const char *a, const char *b, bool want)
{
    json_t *ja = spec_from(a);
    json_t *jb = spec_from(b);

    if (flowspec_same(ja, jb) != want || flowspec_same(jb, ja) != want) {
        fail_msg("flowspec_same(%s, %s) should be %d", a, b, want);
    }
    json_decref(ja);
    json_decref(jb);
}

static void
test_flowspec_same_semantics(void **state)
{
    /* Off, however it is written. */
    assert_same("{}", "{\"exportNetworkFlows\": null}", true);
    assert_same("{}", "{\"exportNetworkFlows\": {}}", true);
    assert_same("{}", "{\"exportNetworkFlows\": {\"netFlow\": null}}", true);
    assert_same("{}", "{\"exportNetworkFlows\": {\"netFlow\": [\"1.2.3.4:1\"]}}", false);
    /* A protocol without collectors is off, as the CRD stores it. */
    assert_same("{}", "{\"exportNetworkFlows\": {\"netFlow\": {}}}", true);
    assert_same("{\"exportNetworkFlows\": {\"sFlow\": {\"collectors\": null}}}",
                "{\"exportNetworkFlows\": {\"netFlow\": {}, \"ipfix\": null}}", true);
    assert_same("{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:1\"], \"netFlow\": {}}}",
                "{\"exportNetworkFlows\": {\"ipfix\": {\"collectors\": [\"1.2.3.4:1\"]}}}",
                true);
    assert_same("{}", "{\"exportNetworkFlows\": {\"netFlow\": {\"targets\": null}}}", false);
    assert_same("{}", "{\"exportNetworkFlows\": {\"netFlow\": {\"collectors\": []}}}", false);
    /* Shapes, spelling and order. */
    assert_same("{\"exportNetworkFlows\": {\"ipfix\": [\"[fd00::0002]:2055\", \":1\"]}}",
                "{\"exportNetworkFlows\": {\"ipfix\": {\"collectors\":"
                " [\":1\", \"[FD00::2]:2055\"]}}}", true);
    assert_same("{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:1\"]}}",
                "{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:2\"]}}", false);
    assert_same("{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:1\", \"1.2.3.4:1\"]}}",
                "{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:1\", \"1.2.3.5:1\"]}}",
                false);
    assert_same("{\"exportNetworkFlows\": {\"ipfix\": [\"1.2.3.4:1\"]}}",
                "{\"exportNetworkFlows\": {\"sFlow\": [\"1.2.3.4:1\"]}}", false);
    /* Invalid values compare too: the same invalid value is unchanged. */
    assert_same("{\"exportNetworkFlows\": {\"netflow\": [\"x\"], \"sFlow\": [\"010.1.2.3:1\"]}}",
                "{\"exportNetworkFlows\": {\"netflow\": [\"x\"], \"sFlow\": [\"010.1.2.3:1\"]}}",
                true);
    assert_same("{\"exportNetworkFlows\": {\"netflow\": [\"x\"]}}",
                "{\"exportNetworkFlows\": {\"netflow\": [\"y\"]}}", false);
    assert_same("{\"exportNetworkFlows\": \"on\"}", "{\"exportNetworkFlows\": \"on\"}", true);
    assert_same("{\"exportNetworkFlows\": \"on\"}", "{\"exportNetworkFlows\": 1}", false);
    /* Other fields of the spec do not matter. */
    assert_same("{\"mtu\": 1}", "{\"mtu\": 2}", true);
}

static void
test_flowspec_equal_and_names(void **state)
{
    struct flowspec a, b;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_true(flowspec_equal(&a, &b));
    assert_int_equal(collector_parse("1.2.3.4:5", &a.proto[FLOWPROTO_SFLOW].items[0],
                                     NULL), 0);
    a.proto[FLOWPROTO_SFLOW].n = 1;
    assert_false(flowspec_equal(&a, &b));
    b = a;
    assert_true(flowspec_equal(&a, &b));
    b.proto[FLOWPROTO_SFLOW].items[0].port = 6;
    assert_false(flowspec_equal(&a, &b));
    assert_string_equal(flowproto_name(FLOWPROTO_NETFLOW), "netFlow");
    assert_string_equal(flowproto_name(FLOWPROTO_SFLOW), "sFlow");
    assert_string_equal(flowproto_name(FLOWPROTO_IPFIX), "ipfix");
}

/* Failure leaves '*ret' alone; a report that already holds errors from
 * elsewhere does not make a valid spec fail. */
static void
test_flowspec_out_param_and_report_reuse(void **state)
{
    json_t *bad = spec_from("{\"exportNetworkFlows\": {\"netFlow\": []}}");
    json_t *good = spec_from(proposal);
    struct fielderr_list report;
    struct flowspec out;

    memset(&out, 0xa5, sizeof out);
    fielderr_list_init(&report);
    assert_int_equal(flowspec_validate(bad, &report, &out), -EINVAL);
    assert_int_equal(out.proto[0].n, (size_t) 0xa5a5a5a5a5a5a5a5ULL);
    assert_int_equal(flowspec_validate(good, &report, &out), 0);
    assert_int_equal(out.proto[0].n, 2);
    assert_int_equal(fielderr_list_count(&report), 1);
    fielderr_list_release(&report);
    json_decref(bad);
    json_decref(good);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flowspec_data_cases),
        cmocka_unit_test(test_flowspec_proposal_valid),
        cmocka_unit_test(test_flowspec_summary_counts_dropped),
        cmocka_unit_test(test_flowspec_valid_input_does_not_allocate),
        cmocka_unit_test(test_flowspec_alloc_failures),
        cmocka_unit_test(test_flowspec_same_semantics),
        cmocka_unit_test(test_flowspec_equal_and_names),
        cmocka_unit_test(test_flowspec_out_param_and_report_reuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
