/* test_configsource — the policy every config source shares, through a scripted
 * source that says what the test tells it to: text, no text (with a reason) or
 * nothing.  Asserts what configsource_run() returns and reports, and which
 * config stays current.  The real kinds: test_configsource_file.c and
 * test_configsource_kube.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/ovs/configsource.h"

#define GOOD1 "{\"generation\": 1}"
#define GOOD2 "{\"generation\": 2}"
#define BAD "{\"netFlow\": 7}"

/* A source that says, at its next poll, what the test scripted. */
struct scripted {
    struct configsource up;
    enum configsource_seen seen;
    const char *text;           /* for CONFIGSOURCE_SEEN_TEXT */
    int code;                   /* for CONFIGSOURCE_SEEN_NO_TEXT */
    const char *why;
    unsigned destroyed;
};

static enum configsource_seen
scripted_poll(struct configsource *source, uint64_t now, char **ret_text, size_t *ret_len,
              int *ret_code, struct errmsg *err)
{
    struct scripted *s = (struct scripted *) source;
    enum configsource_seen seen = s->seen;

    (void) now;
    s->seen = CONFIGSOURCE_SEEN_NOTHING;
    if (seen == CONFIGSOURCE_SEEN_TEXT) {
        *ret_text = strdup(s->text);
        assert_non_null(*ret_text);
        *ret_len = strlen(s->text);
    } else if (seen == CONFIGSOURCE_SEEN_NO_TEXT) {
        *ret_code = errmsg_set(err, s->code, "%s", s->why);
    }
    return seen;
}

static void
scripted_wait(const struct configsource *source, uint64_t now, struct pollfd *pfd,
              int *timeout_ms)
{
    (void) source;
    (void) now;
    (void) timeout_ms;
    pfd->fd = -1;
}

static void
scripted_destroy(struct configsource *source)
{
    ((struct scripted *) source)->destroyed++;
}

static const struct configsource_class scripted_class = {
    .kind = "scripted",
    .destroy = scripted_destroy,
    .poll = scripted_poll,
    .wait = scripted_wait,
};

static void
init(struct scripted *s)
{
    memset(s, 0, sizeof *s);
    configsource_init(&s->up, &scripted_class, "scripted '%s'", "x");
}

/* Scripts what the source sees next, runs it once and returns what run() did. */
static int
see_text(struct scripted *s, const char *text, struct errmsg *err)
{
    s->seen = CONFIGSOURCE_SEEN_TEXT;
    s->text = text;
    err->text[0] = '\0';
    return configsource_run(&s->up, 0, err);
}

static int
see_no_text(struct scripted *s, int code, const char *why, struct errmsg *err)
{
    s->seen = CONFIGSOURCE_SEEN_NO_TEXT;
    s->code = code;
    s->why = why;
    err->text[0] = '\0';
    return configsource_run(&s->up, 0, err);
}

static int64_t
generation(const struct scripted *s)
{
    const struct flowconfig *c = configsource_current(&s->up);

    return c ? c->generation : -1;
}

static void
test_configsource_same_text_changes_nothing(void **unused)
{
    struct scripted s;
    struct errmsg err;

    (void) unused;
    init(&s);
    assert_string_equal(configsource_describe(&s.up), "scripted 'x'");
    assert_null(configsource_current(&s.up));
    err.text[0] = '\0';
    assert_int_equal(configsource_run(&s.up, 0, &err), CONFIGSOURCE_UNCHANGED);
    assert_string_equal(err.text, "");

    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(&s), 1);
    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_UNCHANGED);
    assert_string_equal(err.text, "");
    assert_int_equal(see_text(&s, GOOD2, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(&s), 2);
    configsource_destroy(&s.up);
    assert_int_equal(s.destroyed, 1);
}

static void
test_configsource_bad_text_refused_once(void **unused)
{
    struct scripted s;
    struct errmsg err;

    (void) unused;
    init(&s);
    /* Before any good config: refused, nothing current. */
    assert_int_equal(see_text(&s, BAD, &err), -EINVAL);
    assert_non_null(strstr(err.text, "refused scripted 'x': "));
    assert_null(configsource_current(&s.up));
    assert_int_equal(see_text(&s, BAD, &err), CONFIGSOURCE_UNCHANGED);

    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(see_text(&s, BAD, &err), -EINVAL);
    assert_non_null(strstr(err.text, "refused scripted 'x': "));
    assert_int_equal(generation(&s), 1);             /* the last good one stays */
    assert_int_equal(see_text(&s, BAD, &err), CONFIGSOURCE_UNCHANGED);  /* once */
    assert_string_equal(err.text, "");
    assert_int_equal(generation(&s), 1);

    /* Back to the good text after a refusal: news. */
    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(&s), 1);
    configsource_destroy(&s.up);
}

static void
test_configsource_no_text_said_once_keeps_the_last(void **unused)
{
    struct scripted s;
    struct errmsg err;

    (void) unused;
    init(&s);
    /* Nothing yet: the reason as the source gave it. */
    assert_int_equal(see_no_text(&s, -ENOENT, "thing not found", &err), -ENOENT);
    assert_string_equal(err.text, "thing not found");
    assert_int_equal(see_no_text(&s, -ENOENT, "thing not found", &err),
                     CONFIGSOURCE_UNCHANGED);
    assert_string_equal(err.text, "");

    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(see_no_text(&s, -ENOENT, "thing not found", &err), -ENOENT);
    assert_string_equal(err.text, "thing not found: keeping the last config");
    assert_int_equal(generation(&s), 1);
    assert_int_equal(see_no_text(&s, -ENOENT, "thing not found", &err),
                     CONFIGSOURCE_UNCHANGED);

    /* Another reason, with the same or another code: said too. */
    assert_int_equal(see_no_text(&s, -ENOENT, "thing has no key", &err), -ENOENT);
    assert_string_equal(err.text, "thing has no key: keeping the last config");
    assert_int_equal(see_no_text(&s, -EACCES, "thing has no key", &err), -EACCES);
    assert_int_equal(generation(&s), 1);

    /* The same text coming back after no text is news (and reported). */
    assert_int_equal(see_text(&s, GOOD1, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(&s), 1);
    /* ...and the same reason after text is said again. */
    assert_int_equal(see_no_text(&s, -EACCES, "thing has no key", &err), -EACCES);
    configsource_destroy(&s.up);
}

/* Bad text after no text is refused; the bad text after no text again is
 * refused again (the remembered text was forgotten). */
static void
test_configsource_bad_text_after_no_text_refused_again(void **unused)
{
    struct scripted s;
    struct errmsg err;

    (void) unused;
    init(&s);
    assert_int_equal(see_text(&s, GOOD2, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(see_text(&s, BAD, &err), -EINVAL);
    assert_int_equal(see_no_text(&s, -ENOENT, "gone", &err), -ENOENT);
    assert_int_equal(see_text(&s, BAD, &err), -EINVAL);
    assert_int_equal(generation(&s), 2);
    configsource_destroy(&s.up);
}

static void
test_configsource_destroy_accepts_null(void **unused)
{
    (void) unused;
    configsource_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configsource_same_text_changes_nothing),
        cmocka_unit_test(test_configsource_bad_text_refused_once),
        cmocka_unit_test(test_configsource_no_text_said_once_keeps_the_last),
        cmocka_unit_test(test_configsource_bad_text_after_no_text_refused_again),
        cmocka_unit_test(test_configsource_destroy_accepts_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
