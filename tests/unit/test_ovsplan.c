/* Unit tests for ovsplan: data-driven cases in tests/data/ovsplan/<case>/ —
 * config.json (the applier's input), rows.json (the monitor cache), optional
 * last.json (the config last applied; none when absent), optional node_ip ("-"
 * for none; default 10.0.0.9) and expected.json: the exact operations
 * array, null for "nothing to send", or {"error": "<message>"}.  Set
 * OVSPLAN_WRITE_EXPECTED=1 to (re)write expected.json from the current output
 * when adding a case — then read every line of it before committing.
 * Also: the monitor requests and ovsplan_render()'s transaction and ovs-vsctl line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/ovsplan.h"
#include "../lib/testutil.h"

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
        cmocka_unit_test(test_ovsplan_monitor_requests_cover_planned_columns),
        cmocka_unit_test(test_ovsplan_render_prints_transaction_and_vsctl_line),
        cmocka_unit_test(test_ovsplan_render_all_off_clears),
        cmocka_unit_test(test_ovsplan_render_needs_node_ip_for_port_only_collectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
