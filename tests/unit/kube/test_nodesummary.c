/* test_nodesummary — the node status Leases folded into the cluster summary:
 * the classes (in sync at the published hash, failed, out of sync, a lapsed
 * heartbeat), since when each node is behind, the oldest apply time, the
 * annotations with their bounded node lists, and the Event it asks for.  The
 * Leases are built with nodestatus_lease_json(), as the appliers write them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/kube/nodesummary.h"
#include "../../lib/testalloc.h"

#define HASH_NEW "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define HASH_OLD "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define NOW 1767323045      /* 2026-01-02T03:04:05Z */

enum kind { APPLIED_NEW, APPLIED_OLD, FAILED, PENDING };

/* The Lease node 'node' writes in state 'kind', last applied at 'applied'. */
static json_t *
lease(const char *node, enum kind kind, int64_t applied, const char *error)
{
    struct nodestatus_identity id = { .namespace = "exportflows", .node = node };
    struct timespec now = { .tv_sec = NOW };
    struct nodestatus_state st;
    json_t *l;

    nodestatus_state_init(&st);
    if (kind != PENDING) {
        st.has_applied = true;
        snprintf(st.hash, sizeof st.hash, "%s", kind == APPLIED_NEW ? HASH_NEW : HASH_OLD);
        st.last_apply_time = applied;
        st.in_sync = kind != FAILED;
    }
    if (kind == FAILED) {
        snprintf(st.last_error, sizeof st.last_error, "%s", error ? error : "boom");
    }
    l = nodestatus_lease_json(&id, &st, &now);
    assert_non_null(l);
    return l;
}

static json_t *
leases4(void)
{
    json_t *a = json_array();

    json_array_append_new(a, lease("n4", PENDING, 0, NULL));
    json_array_append_new(a, lease("n1", APPLIED_NEW, NOW - 10, NULL));
    json_array_append_new(a, lease("n3", FAILED, NOW - 500, "cannot connect to 'unix:x': "
                                   "no such file"));
    json_array_append_new(a, lease("n2", APPLIED_OLD, NOW - 100, NULL));
    /* The publisher's election Lease is no node. */
    json_array_append_new(a, json_pack("{s:{s:s}}", "metadata", "name",
                                       "exportflows-publisher"));
    return a;
}

static const char *
annotation(const json_t *a, const char *key)
{
    const char *v = json_string_value(json_object_get(a, key));

    assert_non_null(v);
    return v;
}

static void
test_nodesummary_fold_classifies_nodes(void **unused)
{
    json_t *leases = leases4();
    struct nodesummary s;

    (void) unused;
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    assert_int_equal(s.total, 4);
    assert_int_equal(s.in_sync, 1);
    assert_int_equal(s.out_of_sync, 2);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.n_behind, 3);
    assert_string_equal(s.behind[0].name, "n2");
    assert_int_equal(s.behind[0].class, NODESUMMARY_OUT_OF_SYNC);
    assert_string_equal(s.behind[1].name, "n3");
    assert_int_equal(s.behind[1].class, NODESUMMARY_FAILED);
    assert_string_equal(s.behind[1].error, "cannot connect to 'unix:x': no such file");
    assert_string_equal(s.behind[2].name, "n4");
    assert_int_equal(s.oldest_apply_time, NOW - 500);
    assert_string_equal(s.hash, HASH_NEW);
    nodesummary_release(&s);
    json_decref(leases);
}

static void
test_nodesummary_fold_without_hash_counts_applied_in_sync(void **unused)
{
    json_t *leases = leases4();
    struct nodesummary s;

    (void) unused;
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, "", NULL, NOW, &s), 0);
    assert_int_equal(s.in_sync, 2);
    assert_int_equal(s.out_of_sync, 1);
    assert_int_equal(s.failed, 1);
    nodesummary_release(&s);
    json_decref(leases);
}

static void
test_nodesummary_fold_takes_an_object_of_leases(void **unused)
{
    json_t *obj = json_object(), *none = json_object();
    struct nodesummary s;

    (void) unused;
    json_object_set_new(obj, "exportflows-node-b", lease("b", FAILED, NOW, "x"));
    json_object_set_new(obj, "exportflows-node-a", lease("a", APPLIED_NEW, NOW, NULL));
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(obj, HASH_NEW, NULL, NOW, &s), 0);
    assert_int_equal(s.total, 2);
    assert_int_equal(s.in_sync, 1);
    assert_int_equal(s.failed, 1);
    nodesummary_release(&s);
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(none, HASH_NEW, NULL, NOW, &s), 0);
    assert_int_equal(s.total, 0);
    assert_int_equal(nodesummary_behind_seconds(&s, NOW), 0);
    nodesummary_release(&s);
    json_decref(obj);
    json_decref(none);
}

/* Each node keeps the time it first fell behind while it stays behind, and gets
 * a new one when it falls behind again. */
static void
test_nodesummary_fold_keeps_since_from_previous(void **unused)
{
    json_t *leases = leases4();
    struct nodesummary first, second, third;

    (void) unused;
    nodesummary_init(&first);
    nodesummary_init(&second);
    nodesummary_init(&third);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &first), 0);
    assert_int_equal(nodesummary_behind_seconds(&first, NOW), 0);
    assert_int_equal(nodesummary_behind_seconds(&first, NOW + 30), 30);
    /* n2 catches up; n5 appears pending. */
    json_array_set_new(leases, 3, lease("n2", APPLIED_NEW, NOW + 200, NULL));
    json_array_append_new(leases, lease("n5", PENDING, 0, NULL));
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, &first, NOW + 300, &second), 0);
    assert_int_equal(second.n_behind, 3);
    assert_string_equal(second.behind[0].name, "n3");
    assert_int_equal(second.behind[0].since, NOW);
    assert_string_equal(second.behind[2].name, "n5");
    assert_int_equal(second.behind[2].since, NOW + 300);
    assert_int_equal(nodesummary_behind_seconds(&second, NOW + 400), 400);
    /* A new config is published: n1 and n2 fall behind from now on. */
    assert_int_equal(nodesummary_fold(leases, HASH_OLD "x", &second, NOW + 500, &third), 0);
    assert_int_equal(third.in_sync, 0);
    assert_string_equal(third.behind[0].name, "n1");
    assert_int_equal(third.behind[0].since, NOW + 500);
    assert_string_equal(third.behind[2].name, "n3");
    assert_int_equal(third.behind[2].since, NOW);
    nodesummary_release(&first);
    nodesummary_release(&second);
    nodesummary_release(&third);
    json_decref(leases);
}

static void
test_nodesummary_fold_lapsed_heartbeat_is_failed(void **unused)
{
    struct nodestatus_identity id = { .namespace = "exportflows", .node = "n1",
                                      .lease_duration_s = 180 };
    struct timespec renewed = { .tv_sec = NOW };
    struct nodestatus_state st;
    json_t *leases = json_array();
    struct nodesummary s;

    (void) unused;
    nodestatus_state_init(&st);
    st.has_applied = st.in_sync = true;
    snprintf(st.hash, sizeof st.hash, "%s", HASH_NEW);
    json_array_append_new(leases, nodestatus_lease_json(&id, &st, &renewed));
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW + 180, &s), 0);
    assert_int_equal(s.in_sync, 1);
    nodesummary_release(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW + 181, &s), 0);
    assert_int_equal(s.failed, 1);
    assert_string_equal(s.behind[0].error, "status not renewed since 2026-01-02T03:04:05."
                        "000000Z: the applier is not running or cannot reach the API server");
    nodesummary_release(&s);
    json_decref(leases);
}

static void
test_nodesummary_annotations_say_counts_and_names(void **unused)
{
    json_t *leases = leases4(), *a;
    struct nodesummary s;

    (void) unused;
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    a = nodesummary_annotations(&s);
    assert_non_null(a);
    assert_int_equal(json_object_size(a), 7);
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_HASH), HASH_NEW);
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_APPLIED), "1/4");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_FAILED), "1");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_PENDING), "2");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_FAILING_NODES),
                        "n3: cannot connect to 'unix:x': no such file");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_PENDING_NODES), "n2, n4");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_OLDEST), "2026-01-02T02:55:45Z");
    json_decref(a);
    nodesummary_release(&s);
    json_decref(leases);
}

/* 250 failing nodes with long, non-ASCII errors: 5 names, each error cut, the
 * rest counted; printable ASCII only. */
static void
test_nodesummary_annotations_bound_the_lists(void **unused)
{
    char long_error[600], name[24];
    json_t *leases = json_array(), *a;
    struct nodesummary s;
    const char *failing, *pending;

    (void) unused;
    memset(long_error, 'e', sizeof long_error - 1);
    long_error[sizeof long_error - 1] = '\0';
    memcpy(long_error, "caf\xc3\xa9 ", 6);
    for (int i = 0; i < 250; i++) {
        snprintf(name, sizeof name, "node-%03d", i);
        json_array_append_new(leases, lease(name, i % 2 ? FAILED : PENDING, 0, long_error));
    }
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    a = nodesummary_annotations(&s);
    failing = annotation(a, NODESUMMARY_ANNOTATION_FAILING_NODES);
    pending = annotation(a, NODESUMMARY_ANNOTATION_PENDING_NODES);
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_APPLIED), "0/250");
    assert_non_null(strstr(failing, "node-001: caf?? eeee"));
    assert_non_null(strstr(failing, "; node-009: "));
    assert_null(strstr(failing, "node-011"));
    assert_non_null(strstr(failing, "; and 120 more"));
    /* Five of "node-001: " and 160 bytes of error, "; " between, the count. */
    assert_int_equal(strlen(failing), 5 * (10 + NODESUMMARY_ERROR_SHOWN) + 4 * 2
                                      + strlen("; and 120 more"));
    for (const char *c = failing; *c; c++) {
        assert_true(*c >= 0x20 && *c < 0x7f);
    }
    assert_string_equal(pending, "node-000, node-002, node-004, node-006, node-008 "
                        "and 120 more");
    assert_string_equal(annotation(a, NODESUMMARY_ANNOTATION_OLDEST), "");
    json_decref(a);
    nodesummary_release(&s);
    json_decref(leases);
}

static void
test_nodesummary_annotations_current_compares_members(void **unused)
{
    json_t *wanted = json_pack("{s:s, s:s}", "a", "1", "b", "2");
    json_t *stored = json_pack("{s:s, s:s, s:s}", "a", "1", "b", "2", "other", "x");

    (void) unused;
    assert_true(nodesummary_annotations_current(stored, wanted));
    json_object_set_new(stored, "b", json_string("3"));
    assert_false(nodesummary_annotations_current(stored, wanted));
    json_object_del(stored, "b");
    assert_false(nodesummary_annotations_current(stored, wanted));
    assert_false(nodesummary_annotations_current(NULL, wanted));
    json_decref(wanted);
    json_decref(stored);
}

static void
test_nodesummary_event_tells_what_changed(void **unused)
{
    json_t *leases = leases4();
    const char *type, *reason;
    char message[1024];
    struct nodesummary s;

    (void) unused;
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    nodesummary_event(&s, &type, &reason, message, sizeof message);
    assert_string_equal(type, "Warning");
    assert_string_equal(reason, NODESUMMARY_REASON_FAILING);
    assert_string_equal(message, "1 of 4 nodes applied " HASH_NEW ", 1 failing: n3: "
                        "cannot connect to 'unix:x': no such file");
    nodesummary_release(&s);
    json_array_remove(leases, 2);       /* n3 */
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    nodesummary_event(&s, &type, &reason, message, sizeof message);
    assert_string_equal(type, "Normal");
    assert_string_equal(reason, NODESUMMARY_REASON_PENDING);
    assert_string_equal(message, "1 of 3 nodes applied " HASH_NEW ", 2 pending: n2, n4");
    nodesummary_release(&s);
    json_array_clear(leases);
    json_array_append_new(leases, lease("n1", APPLIED_NEW, NOW, NULL));
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    nodesummary_event(&s, &type, &reason, message, 20);
    assert_string_equal(reason, NODESUMMARY_REASON_APPLIED);
    assert_string_equal(message, "1 of 1 nodes applie");
    nodesummary_release(&s);
    json_decref(leases);
}

/* Every allocation of the annotations may fail: NULL, no leak (ASan). */
static void
test_nodesummary_annotations_survive_allocation_failures(void **unused)
{
    json_t *leases = leases4(), *a;
    struct nodesummary s;
    size_t budget = 0;

    (void) unused;
    nodesummary_init(&s);
    assert_int_equal(nodesummary_fold(leases, HASH_NEW, NULL, NOW, &s), 0);
    for (;; budget++) {
        testalloc_hook(budget);
        a = nodesummary_annotations(&s);
        testalloc_unhook();
        if (testalloc_count() <= budget) {
            break;              /* nothing was refused */
        }
        assert_null(a);
    }
    assert_true(budget > 0);
    assert_non_null(a);
    json_decref(a);
    nodesummary_release(&s);
    json_decref(leases);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodesummary_fold_classifies_nodes),
        cmocka_unit_test(test_nodesummary_fold_without_hash_counts_applied_in_sync),
        cmocka_unit_test(test_nodesummary_fold_takes_an_object_of_leases),
        cmocka_unit_test(test_nodesummary_fold_keeps_since_from_previous),
        cmocka_unit_test(test_nodesummary_fold_lapsed_heartbeat_is_failed),
        cmocka_unit_test(test_nodesummary_annotations_say_counts_and_names),
        cmocka_unit_test(test_nodesummary_annotations_bound_the_lists),
        cmocka_unit_test(test_nodesummary_annotations_current_compares_members),
        cmocka_unit_test(test_nodesummary_event_tells_what_changed),
        cmocka_unit_test(test_nodesummary_annotations_survive_allocation_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
