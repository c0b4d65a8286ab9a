/* Unit tests for ovsplan: data-driven cases in tests/data/ovsplan/<case>/ —
 * config.json (the applier's input), rows.json (the monitor cache), optional
 * last.json (the config last applied; none when absent), optional node_ip ("-"
 * for none; default 10.0.0.9) and expected.json: the exact operations
 * array, null for "nothing to send", or {"error": "<message>"}.  Set
 * OVSPLAN_WRITE_EXPECTED=1 to (re)write expected.json from the current output
 * when adding a case — then read every line of it before committing.
 * Also: the monitor requests, ovsplan_render()'s transaction and ovs-vsctl line,
 * and ovsplan_clear() (the uninstall's one transaction) against the cases whose
 * config turns every protocol off. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/ovs/ovsplan.h"
#include "../../lib/testutil.h"

#define DATA_DIR "tests/data/ovsplan"

static json_t *
load_json(const char *dir, const char *name)
{
    char *path = testutil_path(dir, name);
    json_error_t jerr;
    json_t *json = json_load_file(path, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

    if (!json) {
        fail_msg("%s: %s", path, jerr.text);
    }
    free(path);
    return json;
}

/* Reads DIR/NAME into '*config'; false when the file does not exist. */
static bool
load_config_file(const char *dir, const char *name, struct flowconfig *config)
{
    char *path = testutil_path(dir, name);
    size_t len;
    char *text = testutil_read_file(path, &len);
    struct errmsg err;

    if (text && flowconfig_parse(text, len, config, &err) < 0) {
        fail_msg("%s: %s", path, err.text);
    }
    free(text);
    free(path);
    return text != NULL;
}

static void
load_config(const char *dir, struct flowconfig *config)
{
    assert_true(load_config_file(dir, "config.json", config));
}

/* Returns false when the case has no node IP. */
static bool
load_node_ip(const char *dir, struct collector *ip)
{
    char *path = testutil_path(dir, "node_ip");
    char *text = testutil_read_file(path, NULL);
    const char *why;
    bool has = true;

    if (text) {
        text[strcspn(text, "\n")] = '\0';
    }
    if (text && !strcmp(text, "-")) {
        has = false;
    } else {
        assert_int_equal(collector_parse_ip(text ? text : "10.0.0.9", ip, &why), 0);
    }
    free(text);
    free(path);
    return has;
}

static json_t *
plan_case(const char *dir)
{
    struct flowconfig config, last;
    struct collector node_ip;
    bool has_ip, has_last;
    json_t *rows, *ops = NULL, *actual;
    struct errmsg err;
    int rc;

    load_config(dir, &config);
    has_last = load_config_file(dir, "last.json", &last);
    has_ip = load_node_ip(dir, &node_ip);
    rows = load_json(dir, "rows.json");
    rc = ovsplan_build(&config, has_last ? &last : NULL, "br-int",
                       has_ip ? &node_ip : NULL, rows, &ops, NULL, &err);
    actual = rc < 0 ? json_pack("{s:s}", "error", err.text) : ops ? ops : json_null();
    json_decref(rows);
    return actual;
}

/* ovsplan_clear() for the case in 'dir' (its config.json ignored). */
static json_t *
clear_case(const char *dir, struct ovsplan_summary *summary)
{
    struct flowconfig last;
    struct collector node_ip;
    bool has_ip, has_last;
    json_t *rows, *ops = NULL, *actual;
    struct errmsg err;
    int rc;

    has_last = load_config_file(dir, "last.json", &last);
    has_ip = load_node_ip(dir, &node_ip);
    rows = load_json(dir, "rows.json");
    rc = ovsplan_clear(has_last ? &last : NULL, "br-int", has_ip ? &node_ip : NULL,
                       rows, &ops, summary, &err);
    actual = rc < 0 ? json_pack("{s:s}", "error", err.text) : ops ? ops : json_null();
    json_decref(rows);
    return actual;
}

static bool
all_off(const struct flowconfig *config)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (config->spec.proto[p].n) {
            return false;
        }
    }
    return true;
}

static void
check_case(const char *name)
{
    char *dir = testutil_path(DATA_DIR, name);
    json_t *actual = plan_case(dir);
    char *path = testutil_path(dir, "expected.json");
    json_t *expected;

    if (getenv("OVSPLAN_WRITE_EXPECTED")) {
        assert_int_equal(json_dump_file(actual, path, JSON_INDENT(2) | JSON_ENCODE_ANY), 0);
    }
    expected = load_json(dir, "expected.json");
    if (!json_equal(actual, expected)) {
        char *text = json_dumps(actual, JSON_INDENT(2) | JSON_ENCODE_ANY);
        print_error("case %s: got\n%s\n", name, text);
        free(text);
        fail_msg("case %s: transaction differs from expected.json", name);
    }
    json_decref(actual);
    json_decref(expected);
    free(path);
    free(dir);
}

static void
test_ovsplan_cases(void **state)
{
    size_t n = 0;
    char **names = testutil_list_dir(DATA_DIR, &n);

    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        check_case(names[i]);
    }
    testutil_free_names(names);
    assert_true(n >= 10);
}

/* A no-op case stays a no-op whatever the order of set elements: the planner
 * compares sets, not arrays. */
static void
test_ovsplan_noop_sends_nothing(void **state)
{
    json_t *ops = plan_case(DATA_DIR "/noop-when-ovs-matches");

    assert_true(json_is_null(ops));
    json_decref(ops);
}

/* The uninstall plan is the "every protocol off" plan: for each case whose
 * config turns everything off, ovsplan_clear() gives exactly its expected.json. */
static void
test_ovsplan_clear_is_the_all_off_plan(void **state)
{
    size_t n = 0, n_off = 0;
    char **names = testutil_list_dir(DATA_DIR, &n);

    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        char *dir = testutil_path(DATA_DIR, names[i]);
        struct flowconfig config;
        json_t *actual, *expected;

        load_config(dir, &config);
        if (all_off(&config)) {
            n_off++;
            actual = clear_case(dir, NULL);
            expected = load_json(dir, "expected.json");
            if (!json_equal(actual, expected)) {
                fail_msg("case %s: ovsplan_clear() differs from expected.json", names[i]);
            }
            json_decref(actual);
            json_decref(expected);
        }
        free(dir);
    }
    testutil_free_names(names);
    assert_true(n_off >= 5);
}

/* Marked row and ovnkube-node's twin of the last config: both cleared, in one
 * transaction (a wait and one update); a foreign row stays. */
static void
test_ovsplan_clear_owned_rows_in_one_transaction(void **state)
{
    struct ovsplan_summary summary;
    json_t *ops = clear_case(DATA_DIR "/clear-owned-and-twins-keeps-foreign", &summary);
    json_t *update = json_array_get(ops, 1);

    assert_int_equal(json_array_size(ops), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "op")),
                        "wait");
    assert_string_equal(json_string_value(json_object_get(update, "op")), "update");
    assert_int_equal(json_object_size(json_object_get(update, "row")), 2);
    assert_int_equal(summary.changed, (1u << FLOWPROTO_NETFLOW) | (1u << FLOWPROTO_SFLOW));
    assert_int_equal(summary.foreign_kept, 1u << FLOWPROTO_IPFIX);
    json_decref(ops);
}

/* Without the last config only the marked row is ours: the unmarked twin is
 * indistinguishable from a row set by hand and stays. */
static void
test_ovsplan_clear_without_last_clears_marked_rows_only(void **state)
{
    struct ovsplan_summary summary;
    json_t *rows = load_json(DATA_DIR "/clear-owned-and-twins-keeps-foreign", "rows.json");
    json_t *ops = NULL;
    struct errmsg err;

    assert_int_equal(ovsplan_clear(NULL, "br-int", NULL, rows, &ops, &summary, &err), 0);
    assert_non_null(ops);
    assert_int_equal(summary.changed, 1u << FLOWPROTO_NETFLOW);
    assert_int_equal(summary.foreign_kept,
                     (1u << FLOWPROTO_SFLOW) | (1u << FLOWPROTO_IPFIX));
    json_decref(ops);
    json_decref(rows);
}

/* Nothing of ours left: nothing to send (the applier then reports CLEARED);
 * no bridge: -ENOENT. */
static void
test_ovsplan_clear_nothing_left_sends_nothing(void **state)
{
    json_t *rows = json_pack("{s:{s:{s:s, s:[s, []], s:[s, []], s:[s, []]}}}", "Bridge",
                             "b1", "name", "br-int", "netflow", "set", "sflow", "set",
                             "ipfix", "set");
    struct flowconfig last;
    struct ovsplan_summary summary;
    json_t *ops = json_null();
    struct errmsg err;

    load_config_file(DATA_DIR "/clear-owned-and-twins-keeps-foreign", "last.json", &last);
    assert_int_equal(ovsplan_clear(&last, "br-int", NULL, rows, &ops, &summary, &err), 0);
    assert_null(ops);
    assert_int_equal(summary.changed, 0);
    assert_int_equal(summary.foreign_kept, 0);
    assert_int_equal(ovsplan_clear(&last, "br-ex", NULL, rows, &ops, NULL, &err), -ENOENT);
    assert_string_equal(err.text, "bridge 'br-ex' does not exist");
    json_decref(rows);
}

static void
test_ovsplan_monitor_requests_cover_planned_columns(void **state)
{
    json_t *req = ovsplan_monitor_requests();
    json_t *ipfix_cols = json_object_get(json_object_get(req, "IPFIX"), "columns");

    assert_non_null(req);
    assert_int_equal(json_object_size(req), 4);
    assert_int_equal(json_array_size(ipfix_cols), 7);
    assert_string_equal(json_string_value(json_array_get(
        json_object_get(json_object_get(req, "Bridge"), "columns"), 0)), "name");
    json_decref(req);
}

static void
test_ovsplan_render_prints_transaction_and_vsctl_line(void **state)
{
    struct flowconfig config;
    struct collector node_ip;
    struct errmsg err;
    json_t *ops = NULL;
    char *line = NULL;
    const char *why;

    load_config(DATA_DIR "/apply-all-to-empty-bridge", &config);
    assert_int_equal(collector_parse_ip("10.0.0.9", &node_ip, &why), 0);
    assert_int_equal(ovsplan_render(&config, "br-int", &node_ip, &ops, &line, &err), 0);
    assert_int_equal(json_array_size(ops), 5);      /* wait, 3 inserts, update */
    assert_string_equal(line,
        "ovs-vsctl -- --id=@netflow create netflow 'targets=[\"172.30.158.150:2056\"]'"
        " active_timeout=60 external_ids:exportflows-owner=exportflows"
        " -- --id=@sflow create sflow 'targets=[\"172.30.158.150:6343\"]'"
        " 'agent=\"ovn-k8s-mp0\"' external_ids:exportflows-owner=exportflows"
        " -- --id=@ipfix create ipfix"
        " 'targets=[\"172.30.158.150:2055\",\"[fd00::5]:4739\",\"10.0.0.9:4739\"]'"
        " cache_active_timeout=60 external_ids:exportflows-owner=exportflows"
        " -- set bridge br-int netflow=@netflow sflow=@sflow ipfix=@ipfix");
    json_decref(ops);
    free(line);
}

/* The line is capped at 8 KiB: a longer one is refused whole, with the cap named. */
static void
test_ovsplan_render_refuses_line_over_cap(void **state)
{
    struct flowconfig config;
    struct errmsg err;
    json_t *ops = NULL;
    char *line = NULL, bridge[8200];

    memset(bridge, 'b', sizeof bridge - 1);
    bridge[sizeof bridge - 1] = '\0';
    load_config(DATA_DIR "/off-clears-owned-rows", &config);
    assert_int_equal(ovsplan_render(&config, bridge, NULL, &ops, &line, &err), -E2BIG);
    assert_null(line);
    assert_string_equal(err.text, "ovs-vsctl line over 8192 bytes");
    bridge[8000] = '\0';
    assert_int_equal(ovsplan_render(&config, bridge, NULL, &ops, &line, &err), 0);
    assert_non_null(line);
    json_decref(ops);
    free(line);
}

static void
test_ovsplan_render_all_off_clears(void **state)
{
    struct flowconfig config;
    struct errmsg err;
    json_t *ops = NULL;
    char *line = NULL;

    load_config(DATA_DIR "/off-clears-owned-rows", &config);
    assert_int_equal(ovsplan_render(&config, "my bridge", NULL, &ops, &line, &err), 0);
    assert_int_equal(json_array_size(ops), 0);
    assert_string_equal(line, "ovs-vsctl -- clear bridge 'my bridge' netflow sflow ipfix");
    json_decref(ops);
    free(line);
}

static void
test_ovsplan_render_needs_node_ip_for_port_only_collectors(void **state)
{
    struct flowconfig config;
    struct errmsg err;
    json_t *ops = NULL;
    char *line = NULL;

    load_config(DATA_DIR "/ipv6-node-ip", &config);
    assert_int_equal(ovsplan_render(&config, "br-int", NULL, &ops, &line, &err), -EINVAL);
    assert_string_equal(err.text, "collector ':4739' of ipfix needs the node IP (--node-ip)");
    assert_null(line);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovsplan_cases),
        cmocka_unit_test(test_ovsplan_noop_sends_nothing),
        cmocka_unit_test(test_ovsplan_clear_is_the_all_off_plan),
        cmocka_unit_test(test_ovsplan_clear_owned_rows_in_one_transaction),
        cmocka_unit_test(test_ovsplan_clear_without_last_clears_marked_rows_only),
        cmocka_unit_test(test_ovsplan_clear_nothing_left_sends_nothing),
        cmocka_unit_test(test_ovsplan_monitor_requests_cover_planned_columns),
        cmocka_unit_test(test_ovsplan_render_prints_transaction_and_vsctl_line),
        cmocka_unit_test(test_ovsplan_render_all_off_clears),
        cmocka_unit_test(test_ovsplan_render_refuses_line_over_cap),
        cmocka_unit_test(test_ovsplan_render_needs_node_ip_for_port_only_collectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
