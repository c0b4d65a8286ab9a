/* Unit tests for watchstream: newline framing of a watch body split at arbitrary
 * places, the per-event cap, and parsing of watch events. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/kube/watchstream.h"

/* Collects the lines it is given, separated by '|'. */
struct lines {
    char text[4096];
    int count;
    int fail_at;                /* return an error on this line (1-based); 0: never */
};

static int
collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    size_t used = strlen(l->text);

    assert_int_equal(strlen(line), len);        /* NUL-terminated, no '\n' */
    assert_null(memchr(line, '\n', len));
    snprintf(l->text + used, sizeof l->text - used, "%s|", line);
    return ++l->count == l->fail_at ? -ECANCELED : 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}\n";

static void
expected_lines(char *buf, size_t size)
{
    char copy[sizeof stream];
    size_t used = 0;

    memcpy(copy, stream, sizeof stream);
    for (char *p = copy, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        used += (size_t) snprintf(buf + used, size - used, "%s|", p);
    }
}

static void
test_watchstream_frames_lines_split_anywhere(void **state)
{
    char want[4096];

    expected_lines(want, sizeof want);
    /* Two pieces, cut at every position. */
    for (size_t cut = 0; cut <= strlen(stream); cut++) {
        struct watchstream *ws = NULL;
        struct lines got = { "", 0, 0 };
        struct errmsg err = { "" };

        assert_int_equal(watchstream_create(256, &ws), 0);
        assert_int_equal(watchstream_feed(ws, stream, cut, collect, &got, &err), 0);
        assert_int_equal(watchstream_feed(ws, stream + cut, strlen(stream) - cut, collect,
                                          &got, &err), 0);
        assert_string_equal(got.text, want);
        assert_int_equal(watchstream_pending(ws), 0);
        watchstream_destroy(ws);
    }
}

static void
test_watchstream_frames_byte_by_byte(void **state)
{
    struct watchstream *ws = NULL;
    struct lines got = { "", 0, 0 };
    struct errmsg err = { "" };
    char want[4096];

    expected_lines(want, sizeof want);
    assert_int_equal(watchstream_create(0, &ws), 0);
    for (size_t i = 0; i < strlen(stream); i++) {
        assert_int_equal(watchstream_feed(ws, stream + i, 1, collect, &got, &err), 0);
    }
    assert_string_equal(got.text, want);
    assert_int_equal(got.count, 3);
    watchstream_destroy(ws);
}

static void
test_watchstream_skips_blank_lines_and_crlf(void **state)
{
    struct watchstream *ws = NULL;
    struct lines got = { "", 0, 0 };
    struct errmsg err = { "" };
    const char text[] = "\n\r\none\r\n\ntwo\nthr";

    assert_int_equal(watchstream_create(0, &ws), 0);
    assert_int_equal(watchstream_feed(ws, text, strlen(text), collect, &got, &err), 0);
    assert_string_equal(got.text, "one|two|");
    /* An unfinished line is held, and forgotten on reset. */
    assert_int_equal(watchstream_pending(ws), 3);
    watchstream_reset(ws);
    assert_int_equal(watchstream_feed(ws, "ee\n", 3, collect, &got, &err), 0);
    assert_string_equal(got.text, "one|two|ee|");
    watchstream_destroy(ws);
}

static void
test_watchstream_refuses_an_oversized_event(void **state)
{
    struct watchstream *ws = NULL;
    struct lines got = { "", 0, 0 };
    struct errmsg err = { "" };
    char big[100];

    memset(big, 'x', sizeof big);
    assert_int_equal(watchstream_create(64, &ws), 0);
    /* Exactly the cap is fine... */
    assert_int_equal(watchstream_feed(ws, big, 64, collect, &got, &err), 0);
    assert_int_equal(watchstream_feed(ws, "\n", 1, collect, &got, &err), 0);
    assert_int_equal(got.count, 1);
    /* ...one byte more is an error, also when it arrives in small pieces. */
    for (int i = 0; i < 12; i++) {
        assert_int_equal(watchstream_feed(ws, big, 5, collect, &got, &err), 0);
    }
    assert_int_equal(watchstream_feed(ws, big, 4, collect, &got, &err), 0);
    assert_int_equal(watchstream_feed(ws, big, 1, collect, &got, &err), -EMSGSIZE);
    assert_string_equal(err.text, "watch event larger than 64 bytes");
    assert_int_equal(got.count, 1);
    watchstream_destroy(ws);
}

static void
test_watchstream_stops_on_callback_error(void **state)
{
    struct watchstream *ws = NULL;
    struct lines got = { "", 0, 2 };
    struct errmsg err = { "" };

    assert_int_equal(watchstream_create(0, &ws), 0);
    assert_int_equal(watchstream_feed(ws, "a\nb\nc\n", 6, collect, &got, &err), -ECANCELED);
    assert_string_equal(got.text, "a|b|");
    watchstream_destroy(ws);
}

static void
test_watchstream_parses_events(void **state)
{
    struct watchstream_event ev;
    struct errmsg err = { "" };
    const char *added = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\","
                        "\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"42\"}}}";
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                       "\"reason\":\"Expired\",\"message\":\"too old resource version: 1 (5)\"}}";

    assert_int_equal(watchstream_parse_event(added, strlen(added), &ev, &err), 0);
    assert_int_equal(ev.type, WATCHSTREAM_MODIFIED);
    assert_string_equal(ev.resource_version, "42");
    assert_string_equal(json_string_value(json_object_get(ev.object, "kind")), "ConfigMap");
    watchstream_event_release(&ev);

    assert_int_equal(watchstream_parse_event(gone, strlen(gone), &ev, &err), 0);
    assert_int_equal(ev.type, WATCHSTREAM_ERROR);
    assert_int_equal(ev.code, 410);
    assert_string_equal(ev.message, "too old resource version: 1 (5)");
    assert_null(ev.resource_version);
    watchstream_event_release(&ev);
}

static void
test_watchstream_refuses_malformed_events(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"RENAMED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
        "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}",
        "{\"type\":\"ERROR\",\"object\":\"gone\"}",
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct watchstream_event ev = { 0 };
        struct errmsg err = { "" };

        assert_int_equal(watchstream_parse_event(bad[i], strlen(bad[i]), &ev, &err), -EPROTO);
        assert_null(ev.object);
        assert_true(err.text[0] != '\0');
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchstream_frames_lines_split_anywhere),
        cmocka_unit_test(test_watchstream_frames_byte_by_byte),
        cmocka_unit_test(test_watchstream_skips_blank_lines_and_crlf),
        cmocka_unit_test(test_watchstream_refuses_an_oversized_event),
        cmocka_unit_test(test_watchstream_stops_on_callback_error),
        cmocka_unit_test(test_watchstream_parses_events),
        cmocka_unit_test(test_watchstream_refuses_malformed_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
