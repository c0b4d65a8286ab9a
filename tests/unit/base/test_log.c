/* Unit tests for log: the text and JSON line shapes, quoting and escapes, the
 * threshold, and the cut of an overlong line — with stderr sent to a file. */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/log.h"
#include "../../lib/testutil.h"

struct capture {
    char *dir, *path;
    int saved;
};

static int
setup(void **state)
{
    static struct capture c;

    c.dir = testutil_tempdir("log");
    assert_non_null(c.dir);
    c.path = testutil_path(c.dir, "stderr");
    *state = &c;
    return 0;
}

static int
teardown(void **state)
{
    struct capture *c = *state;

    log_configure(LOG_FORMAT_TEXT, LOG_INFO);
    testutil_rmtree(c->dir);
    free(c->dir);
    free(c->path);
    return 0;
}

/* Sends stderr to the capture file (emptied). */
static void
capture_start(struct capture *c)
{
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/* Restores stderr; returns what was written (caller frees). */
static char *
capture_end(struct capture *c)
{
    char *text;

    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    text = testutil_read_file(c->path, NULL);
    assert_non_null(text);
    return text;
}

static void
test_log_text_line_quotes_what_needs_it(void **state)
{
    struct capture *c = *state;
    char *out;

    log_configure(LOG_FORMAT_TEXT, LOG_INFO);
    capture_start(c);
    log_event(LOG_WARN, "cannot connect", "address", "unix:/run/db.sock",
              "error", "no such file", "empty", "", "quote", "a\"b", "none", NULL, NULL);
    out = capture_end(c);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ " then the level. */
    assert_true(strlen(out) > 25);
    assert_int_equal(out[10], 'T');
    assert_int_equal(out[23], 'Z');
    assert_string_equal(out + 24, " warn cannot connect address=unix:/run/db.sock "
                        "error=\"no such file\" empty=\"\" quote=\"a\\\"b\" none=\"\"\n");
    free(out);
}

static void
test_log_json_line_parses_with_literals_unquoted(void **state)
{
    struct capture *c = *state;
    json_error_t jerr;
    json_t *j;
    char *out;

    log_configure(LOG_FORMAT_JSON, LOG_DEBUG);
    capture_start(c);
    log_event(LOG_DEBUG, "applied", "flows", "12", "ratio", "-0.5", "ok", "true",
              "octal", "012", "text", "line\nnext\x01", NULL);
    out = capture_end(c);
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    j = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fail_msg("not JSON: %s: %s", jerr.text, out);
    }
    assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "applied");
    assert_int_equal(json_integer_value(json_object_get(j, "flows")), 12);
    assert_true(json_real_value(json_object_get(j, "ratio")) == -0.5);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "octal")), "012");
    assert_string_equal(json_string_value(json_object_get(j, "text")), "line\nnext\x01");
    assert_non_null(json_string_value(json_object_get(j, "time")));
    json_decref(j);
    free(out);
}

static void
test_log_threshold_drops_lower_levels(void **state)
{
    struct capture *c = *state;
    char *out;

    log_configure(LOG_FORMAT_TEXT, LOG_WARN);
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_WARN));
    assert_true(log_enabled(LOG_ERROR));
    capture_start(c);
    log_event(LOG_INFO, "hidden", NULL);
    log_event(LOG_ERROR, "shown", NULL);
    out = capture_end(c);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, " error shown\n"));
    free(out);
}

static void
test_log_overlong_line_is_cut_to_one_line(void **state)
{
    struct capture *c = *state;
    char *big = malloc(10000), *out;
    size_t len;

    assert_non_null(big);
    memset(big, 'v', 9999);
    big[9999] = '\0';
    log_configure(LOG_FORMAT_TEXT, LOG_INFO);
    capture_start(c);
    log_event(LOG_INFO, "big", "value", big, NULL);
    out = capture_end(c);
    len = strlen(out);
    assert_true(len > 4000 && len <= 4096);
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
    free(out);
    free(big);
}

static void
test_log_names_match_the_enums(void **state)
{
    (void) state;
    assert_string_equal(log_format_names[LOG_FORMAT_JSON], "json");
    assert_string_equal(log_level_names[LOG_WARN], "warn");
    assert_null(log_format_names[LOG_FORMAT_JSON + 1]);
    assert_null(log_level_names[LOG_ERROR + 1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_text_line_quotes_what_needs_it),
        cmocka_unit_test(test_log_json_line_parses_with_literals_unquoted),
        cmocka_unit_test(test_log_threshold_drops_lower_levels),
        cmocka_unit_test(test_log_overlong_line_is_cut_to_one_line),
        cmocka_unit_test(test_log_names_match_the_enums),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
