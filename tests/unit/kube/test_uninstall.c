/* Unit tests for uninstall: the API server's answer about the DaemonSet -> its
 * state, and (mode, DaemonSet at start, DaemonSet at exit) -> clear or keep. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/kube/uninstall.h"

/* The --clear-on-exit words, in enum order (options matches them exactly). */
static void
test_uninstall_names_modes(void **state)
{
    assert_string_equal(uninstall_mode_names[UNINSTALL_AUTO], "auto");
    assert_string_equal(uninstall_mode_names[UNINSTALL_ALWAYS], "always");
    assert_string_equal(uninstall_mode_names[UNINSTALL_NEVER], "never");
    assert_null(uninstall_mode_names[UNINSTALL_NEVER + 1]);
}

/* 404 is "gone"; an object is "present" or, with a deletionTimestamp,
 * "deleting"; every other failure (401/403, 5xx, timeouts, no connection) and
 * anything that is not an object is "unknown". */
static void
test_uninstall_state_from_the_api_answer(void **state)
{
    static const int failures[] = { -EACCES, -EIO, -ETIMEDOUT, -ECONNREFUSED,
                                    -ECANCELED, -EPROTO, -EBUSY, -EMSGSIZE };
    json_t *present = json_pack("{s:{s:s, s:s}}", "metadata", "name", "exportflows-applier",
                                "uid", "1234");
    json_t *deleting = json_pack("{s:{s:s, s:s, s:[s]}}", "metadata", "name",
                                 "exportflows-applier", "deletionTimestamp",
                                 "2025-01-01T00:00:00Z", "finalizers", "foregroundDeletion");
    json_t *odd = json_pack("{s:{s:n}}", "metadata", "deletionTimestamp");
    json_t *list = json_array();

    assert_int_equal(uninstall_state_of(-ENOENT, NULL), UNINSTALL_GONE);
    assert_int_equal(uninstall_state_of(0, present), UNINSTALL_PRESENT);
    assert_int_equal(uninstall_state_of(0, deleting), UNINSTALL_DELETING);
    assert_int_equal(uninstall_state_of(0, odd), UNINSTALL_PRESENT);
    assert_int_equal(uninstall_state_of(0, NULL), UNINSTALL_UNKNOWN);
    assert_int_equal(uninstall_state_of(0, list), UNINSTALL_UNKNOWN);
    for (size_t i = 0; i < sizeof failures / sizeof *failures; i++) {
        assert_int_equal(uninstall_state_of(failures[i], present), UNINSTALL_UNKNOWN);
    }
    assert_string_equal(uninstall_state_name(UNINSTALL_GONE), "gone");
    assert_string_equal(uninstall_state_name(UNINSTALL_DELETING), "deleting");
    assert_string_equal(uninstall_state_name(UNINSTALL_PRESENT), "present");
    assert_string_equal(uninstall_state_name(UNINSTALL_UNKNOWN), "unknown");
    json_decref(present);
    json_decref(deleting);
    json_decref(odd);
    json_decref(list);
}

struct decision {
    enum uninstall_mode mode;
    const char *daemonset;
    enum uninstall_state at_start, at_exit;
    bool clear;
    const char *why;            /* a part of the reason */
};

static void
check_decisions(const struct decision *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct decision *c = &cases[i];
        const char *why = NULL;
        bool clear = uninstall_should_clear(c->mode, c->daemonset, c->at_start,
                                            c->at_exit, &why);

        if (clear != c->clear || !why || !strstr(why, c->why)) {
            fail_msg("case %zu: got %s (%s), want %s (%s)", i, clear ? "clear" : "keep",
                     why ? why : "no reason", c->clear ? "clear" : "keep", c->why);
        }
    }
}

/* auto: an uninstall (the DaemonSet gone or being deleted) clears; a rolling
 * update, a drain or a node shutdown (the DaemonSet still there) keeps; so does
 * every case where the API server could not say. */
static void
test_uninstall_auto_clears_only_when_the_daemonset_goes(void **state)
{
    static const char ds[] = "exportflows-applier";
    static const struct decision cases[] = {
        { UNINSTALL_AUTO, ds, UNINSTALL_PRESENT, UNINSTALL_GONE, true, "is gone" },
        { UNINSTALL_AUTO, ds, UNINSTALL_PRESENT, UNINSTALL_DELETING, true,
          "being deleted" },
        { UNINSTALL_AUTO, ds, UNINSTALL_PRESENT, UNINSTALL_PRESENT, false,
          "rolling update" },
        { UNINSTALL_AUTO, ds, UNINSTALL_PRESENT, UNINSTALL_UNKNOWN, false,
          "cannot tell" },
        /* The API server did not answer at start: the name is trusted. */
        { UNINSTALL_AUTO, ds, UNINSTALL_UNKNOWN, UNINSTALL_GONE, true, "is gone" },
        { UNINSTALL_AUTO, ds, UNINSTALL_UNKNOWN, UNINSTALL_UNKNOWN, false,
          "cannot tell" },
        /* Started while a foreground deletion was under way. */
        { UNINSTALL_AUTO, ds, UNINSTALL_DELETING, UNINSTALL_GONE, true, "is gone" },
        { UNINSTALL_AUTO, ds, UNINSTALL_DELETING, UNINSTALL_DELETING, true,
          "being deleted" },
    };

    check_decisions(cases, sizeof cases / sizeof *cases);
}

/* A DaemonSet that did not exist at start is a wrong name (or an orphan pod):
 * "gone" at exit means nothing then, and without a name there is no one to ask. */
static void
test_uninstall_auto_keeps_without_a_daemonset_to_trust(void **state)
{
    static const struct decision cases[] = {
        { UNINSTALL_AUTO, "exportflows-aplier", UNINSTALL_GONE, UNINSTALL_GONE, false,
          "did not exist when this applier started" },
        { UNINSTALL_AUTO, "exportflows-aplier", UNINSTALL_GONE, UNINSTALL_UNKNOWN,
          false, "did not exist" },
        { UNINSTALL_AUTO, NULL, UNINSTALL_UNKNOWN, UNINSTALL_UNKNOWN, false,
          "no --daemonset" },
        { UNINSTALL_AUTO, "", UNINSTALL_UNKNOWN, UNINSTALL_GONE, false,
          "no --daemonset" },
    };

    check_decisions(cases, sizeof cases / sizeof *cases);
}

/* always and never do not look at the DaemonSet at all. */
static void
test_uninstall_explicit_modes_ignore_the_daemonset(void **state)
{
    static const enum uninstall_state states[] = {
        UNINSTALL_UNKNOWN, UNINSTALL_PRESENT, UNINSTALL_DELETING, UNINSTALL_GONE,
    };

    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < 4; j++) {
            const struct decision cases[] = {
                { UNINSTALL_ALWAYS, "ds", states[i], states[j], true,
                  "--clear-on-exit=always" },
                { UNINSTALL_ALWAYS, NULL, states[i], states[j], true,
                  "--clear-on-exit=always" },
                { UNINSTALL_NEVER, "ds", states[i], states[j], false,
                  "--clear-on-exit=never" },
            };

            check_decisions(cases, sizeof cases / sizeof *cases);
        }
    }
}

/* Names go into a path: invalid ones are refused before any request (the client
 * is never used, so NULL does). */
static void
test_uninstall_get_state_refuses_invalid_names(void **state)
{
    enum uninstall_state st = UNINSTALL_PRESENT;
    struct errmsg err;

    assert_int_equal(uninstall_get_state(NULL, "exportflows", "../../secrets/x", 1000, &st,
                                         &err), -EINVAL);
    assert_int_equal(st, UNINSTALL_UNKNOWN);
    assert_string_equal(err.text, "invalid namespace or DaemonSet name");
    assert_int_equal(uninstall_get_state(NULL, "Exportflows", "ds", 1000, &st, &err),
                     -EINVAL);
    assert_int_equal(uninstall_get_state(NULL, "exportflows", "", 1000, &st, &err),
                     -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uninstall_names_modes),
        cmocka_unit_test(test_uninstall_state_from_the_api_answer),
        cmocka_unit_test(test_uninstall_auto_clears_only_when_the_daemonset_goes),
        cmocka_unit_test(test_uninstall_auto_keeps_without_a_daemonset_to_trust),
        cmocka_unit_test(test_uninstall_explicit_modes_ignore_the_daemonset),
        cmocka_unit_test(test_uninstall_get_state_refuses_invalid_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
