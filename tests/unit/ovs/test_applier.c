/* test_applier — the applier's pure parts: how its reports fold into the node
 * status (applier_report_fold()).  The node loop itself runs against a real
 * ovsdb-server in tests/system/applier-ovsdb.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/ovs/applier.h"
#include "exportflows/ovs/nodestatus.h"

#define HASH7 "sha256:7777777777777777777777777777777777777777777777777777777777777777"

static struct flowconfig
config_from(const char *text)
{
    struct flowconfig c;
    struct errmsg err;

    if (flowconfig_parse(text, strlen(text), &c, &err) < 0) {
        fail_msg("%s", err.text);
    }
    return c;
}

static struct applier_report
report_of(enum applier_report_type type, const struct flowconfig *c, const char *msg)
{
    return (struct applier_report) { .type = type, .config = c, .message = msg };
}

/* ---- the state ---- */

static void
test_applier_report_fold_applied_sets_hash_generation_and_time(void **unused)
{
    struct flowconfig c = config_from("{\"generation\": 7, \"hash\": \"" HASH7 "\", "
                                      "\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report r = report_of(APPLIER_APPLIED, &c, NULL);
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    assert_true(applier_report_fold(&s, &r, 1000));
    assert_true(s.has_applied && s.in_sync && s.has_generation);
    assert_int_equal(s.generation, 7);
    assert_string_equal(s.hash, HASH7);
    assert_int_equal(s.last_apply_time, 1000);
    assert_string_equal(s.last_error, "");
    assert_false(applier_report_fold(&s, &r, 1000));    /* nothing new */
    r.type = APPLIER_IN_SYNC;
    assert_true(applier_report_fold(&s, &r, 1005));     /* confirmed later */
    assert_int_equal(s.last_apply_time, 1005);
}

static void
test_applier_report_fold_computes_a_missing_hash(void **unused)
{
    struct flowconfig c = config_from("{\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report r = report_of(APPLIER_IN_SYNC, &c, NULL);
    char want[FLOWCONFIG_HASH_SIZE];
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    assert_true(applier_report_fold(&s, &r, 1));
    flowconfig_hash(&c, want);
    assert_string_equal(s.hash, want);
    assert_false(s.has_generation);
}

static void
test_applier_report_fold_error_keeps_applied_and_clears_on_success(void **unused)
{
    struct flowconfig c = config_from("{\"generation\": 3, \"netFlow\": "
                                      "{\"collectors\": [\"10.0.0.1:2056\"]}}");
    struct applier_report ok = report_of(APPLIER_APPLIED, &c, NULL);
    struct applier_report bad = report_of(APPLIER_CONFIG_REFUSED, &c,
                                          "refused configmap 'a/b': bad\n\xc3\xa9");
    struct nodestatus_state s;

    (void) unused;
    nodestatus_state_init(&s);
    applier_report_fold(&s, &ok, 10);
    assert_true(applier_report_fold(&s, &bad, 20));
    assert_false(s.in_sync);
    assert_string_equal(s.last_error, "refused configmap 'a/b': bad???");
    assert_string_equal(nodestatus_state_word(&s), "Failed");
    assert_int_equal(s.generation, 3);          /* the last good one stays */
    assert_int_equal(s.last_apply_time, 10);
    assert_false(applier_report_fold(&s, &bad, 30));    /* same error again */
    assert_true(applier_report_fold(&s, &ok, 40));
    assert_true(s.in_sync);
    assert_string_equal(s.last_error, "");
}

static void
test_applier_report_fold_ignores_reports_that_say_nothing_yet(void **unused)
{
    struct flowconfig c = config_from("{}");
    struct applier_report loaded = report_of(APPLIER_CONFIG_LOADED, &c, NULL);
    struct applier_report connected = report_of(APPLIER_OVSDB_CONNECTED, NULL, NULL);
    struct applier_report lost = report_of(APPLIER_OVSDB_DISCONNECTED, NULL, NULL);
    struct nodestatus_state s, zero;

    (void) unused;
    nodestatus_state_init(&s);
    nodestatus_state_init(&zero);
    assert_false(applier_report_fold(&s, &loaded, 1));
    assert_false(applier_report_fold(&s, &connected, 1));
    assert_true(nodestatus_state_equal(&s, &zero));
    assert_true(applier_report_fold(&s, &lost, 1));
    assert_string_equal(s.last_error, "unknown error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_applier_report_fold_applied_sets_hash_generation_and_time),
        cmocka_unit_test(test_applier_report_fold_computes_a_missing_hash),
        cmocka_unit_test(test_applier_report_fold_error_keeps_applied_and_clears_on_success),
        cmocka_unit_test(test_applier_report_fold_ignores_reports_that_say_nothing_yet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
