/* test_ovsflowsconfig — ovs-flows-config read and merged as the network
 * operator does.
 *
 * Data cases: tests/data/ovsflowsconfig/<case>/input.json holds
 *   {"data": <the ConfigMap's data>, "spec": <a Network spec, optional>}
 * and <case>/expected the outcome, one line each, in this order:
 *   error: <each error of 'report': what the webhook denies>
 *   ignored: <each error of 'ignored': what the operator ignores>
 *   warning: <each warning>
 *   merged: <flowconfig_dump() of the spec and default tuning after the merge>
 *   or "not merged" (no usable target, or no room for it).
 * EXPORTFLOWS_UPDATE_EXPECTED=1 rewrites the expected files (review the diff). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/admission/flowconfig.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/admission/ovsflowsconfig.h"
#include "../../lib/testalloc.h"
#include "../../lib/testutil.h"

#define DATA_DIR "tests/data/ovsflowsconfig"

static void
add_errors(struct testutil_lines *out, const char *label, const struct fielderr_list *l)
{
    for (size_t i = 0; i < l->n_errors; i++) {
        char *text = fielderr_format(&l->errors[i]);

        assert_non_null(text);
        testutil_lines_add(out, "%s: %s", label, text);
        free(text);
    }
}

/* Parses and merges 'data' into 'spec' with the default tuning: the outcome
 * lines into 'out' (may be NULL), the config into '*ret'.  0 when merged. */
static int
run(const json_t *data, const struct flowspec *spec, struct testutil_lines *out,
    struct flowconfig *ret)
{
    struct fielderr_list report, ignored;
    struct ovsflowsconfig c;
    struct flowtuning tuning;
    struct flowspec merged = *spec;
    int merge;

    fielderr_list_init(&report);
    fielderr_list_init(&ignored);
    flowtuning_init(&tuning);
    ovsflowsconfig_parse(data, &c, &report, &ignored);
    merge = ovsflowsconfig_merge(&c, &merged, &tuning, &report);
    assert_true(merge == 0 || merge == -E2BIG);
    flowconfig_build(&merged, &tuning, -1, ret);
    if (out) {
        char *dump = flowconfig_dump(ret);

        assert_non_null(dump);
        add_errors(out, "error", &report);
        add_errors(out, "ignored", &ignored);
        for (size_t i = 0; i < report.n_warnings; i++) {
            testutil_lines_add(out, "warning: %s", report.warnings[i]);
        }
        if (c.has_target && !merge) {
            testutil_lines_add(out, "merged: %s", dump);
        } else {
            testutil_lines_add(out, "not merged");
        }
        free(dump);
    }
    fielderr_list_release(&report);
    fielderr_list_release(&ignored);
    return c.has_target && !merge ? 0 : -ENOENT;
}

static bool
run_case(const char *dir)
{
    char *path = testutil_path(dir, "input.json");
    json_error_t jerr;
    json_t *input = json_load_file(path, JSONTEXT_PARSE_FLAGS, &jerr);
    struct fielderr_list spec_report;
    struct testutil_lines actual = { NULL, 0, 0 };
    struct flowconfig config;
    struct flowspec spec;
    bool ok;

    if (!input) {
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    }
    free(path);
    fielderr_list_init(&spec_report);
    assert_int_equal(flowspec_validate(json_object_get(input, "spec"), &spec_report, &spec), 0);
    run(json_object_get(input, "data"), &spec, &actual, &config);
    path = testutil_path(dir, "expected");
    ok = testutil_expect_file(path, actual.text, dir);
    free(path);
    free(actual.text);
    fielderr_list_release(&spec_report);
    json_decref(input);
    return ok;
}

static void
test_ovsflowsconfig_data_cases(void **state)
{
    size_t n = 0, failed = testutil_run_cases(DATA_DIR, run_case, &n);

    assert_true(n >= 15);
    assert_int_equal(failed, 0);
}

static json_t *
data_from(const char *text)
{
    json_t *data = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

    assert_non_null(data);
    return data;
}

/* Only the keys the operator reads count, absent differs from empty. */
static void
test_ovsflowsconfig_same(void **state)
{
    json_t *a = data_from("{\"sharedTarget\": \"10.0.0.1:4739\", \"sampling\": \"10\","
                          " \"note\": \"x\"}");
    json_t *b = data_from("{\"sampling\": \"10\", \"sharedTarget\": \"10.0.0.1:4739\"}");
    json_t *c = data_from("{\"sharedTarget\": \"10.0.0.1:4739\", \"sampling\": \"\"}");
    json_t *d = data_from("{\"sharedTarget\": \"10.0.0.1:4739\", \"sampling\": \"11\"}");

    assert_true(ovsflowsconfig_same(a, b));
    assert_true(ovsflowsconfig_same(NULL, NULL));
    assert_false(ovsflowsconfig_same(b, c));
    assert_false(ovsflowsconfig_same(b, d));
    assert_false(ovsflowsconfig_same(b, NULL));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

/* The tuning the merge writes, one key at a time, and nothing without a
 * target; "0" unsets sampling and cacheMaxFlows (OVS's default applies). */
static void
test_ovsflowsconfig_apply_tuning(void **state)
{
    struct ovsflowsconfig c = { .has_sampling = true, .sampling = 0 };
    struct flowtuning t, defaults;
    struct flowspec spec;

    flowtuning_init(&defaults);
    t = defaults;
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_IPFIX_SAMPLING, 64), 0);
    ovsflowsconfig_apply_tuning(&c, &t);
    assert_false(flowtuning_is_set(&t, FLOWTUNING_IPFIX_SAMPLING));
    c.sampling = 7;
    c.has_cache_max_flows = true;
    c.cache_max_flows = 9;
    ovsflowsconfig_apply_tuning(&c, &t);
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_SAMPLING), 7);
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_CACHE_MAX_FLOWS), 9);
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT),
                     flowtuning_get(&defaults, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT));
    c.has_cache_active_timeout = true;
    c.cache_active_timeout = 0;
    ovsflowsconfig_apply_tuning(&c, &t);
    assert_true(flowtuning_is_set(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT));
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT), 0);
    memset(&spec, 0, sizeof spec);
    t = defaults;
    assert_int_equal(ovsflowsconfig_merge(&c, &spec, &t, NULL), 0);
    assert_int_equal(spec.proto[FLOWPROTO_IPFIX].n, 0);
    assert_false(flowtuning_is_set(&t, FLOWTUNING_IPFIX_SAMPLING));
}

/* Every allocation fails in turn (reporting allocates): no crash, no leak,
 * and what is merged never depends on memory. */
static void
test_ovsflowsconfig_alloc_failures(void **state)
{
    static const char text[] =
        "{\"sharedTarget\": \"224.0.0.9:4739\", \"nodePort\": \"x\", \"sampling\": \"-1\","
        " \"cacheMaxFlows\": \"0100\", \"cacheActiveTimeout\": \"1.5s\", \"Sampling\": \"1\"}";
    json_t *data = data_from(text);
    struct flowconfig want, got;
    struct flowspec spec;
    size_t budget;

    memset(&spec, 0, sizeof spec);
    assert_int_equal(run(data, &spec, NULL, &want), 0);
    for (budget = 0;; budget++) {
        testalloc_hook(budget);
        assert_int_equal(run(data, &spec, NULL, &got), 0);
        testalloc_unhook();
        assert_string_equal(got.hash, want.hash);
        if (testalloc_count() <= budget) {
            break;
        }
    }
    assert_true(budget > 3);
    json_decref(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovsflowsconfig_data_cases),
        cmocka_unit_test(test_ovsflowsconfig_same),
        cmocka_unit_test(test_ovsflowsconfig_apply_tuning),
        cmocka_unit_test(test_ovsflowsconfig_alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
