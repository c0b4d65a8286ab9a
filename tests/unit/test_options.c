/* Unit tests for options: the command-line contract shared by every program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "exportflows/options.h"

struct values {
    const char *listen;
    bool publish;
    uint64_t sampling;
    struct option_list sans;
};

static void
make_specs(struct values *v, struct option_spec specs[5])
{
    const struct option_spec table[] = {
        { "listen", OPTION_STRING, &v->listen, "ADDR", "listen address", 0, 0 },
        { "publish", OPTION_BOOL, &v->publish, NULL, "publish", 0, 0 },
        { "ipfix-sampling", OPTION_UINT, &v->sampling, "N", "sampling", 1, 1000 },
        { "san", OPTION_LIST, &v->sans, "NAME", "extra SAN", 0, 0 },
        { NULL, 0, NULL, NULL, NULL, 0, 0 },
    };

    for (size_t i = 0; i < 5; i++) {
        specs[i] = table[i];
    }
    *v = (struct values) { .listen = "0.0.0.0:8443", .publish = true, .sampling = 400 };
}

static int
parse(struct values *v, int argc, char **argv, int *first, struct errmsg *err)
{
    struct option_spec specs[5];

    make_specs(v, specs);
    return options_parse(specs, argc, argv, first, err);
}

static void
test_options_parses_both_value_forms(void **state)
{
    char *argv[] = { "prog", "--listen=127.0.0.1:0", "--ipfix-sampling", "64",
                     "--no-publish", "--san", "a", "--san=b", "file.yaml", NULL };
    struct values v;
    struct errmsg err;
    int first = 0;

    assert_int_equal(parse(&v, 9, argv, &first, &err), OPTIONS_OK);
    assert_string_equal(v.listen, "127.0.0.1:0");
    assert_int_equal(v.sampling, 64);
    assert_false(v.publish);
    assert_int_equal(v.sans.n, 2);
    assert_string_equal(v.sans.items[1], "b");
    assert_int_equal(first, 8);
}

static void
test_options_reads_environment_and_argv_wins(void **state)
{
    char *argv[] = { "prog", "--ipfix-sampling=7", NULL };
    struct values v;
    struct errmsg err;
    int first = 0;

    setenv("EXPORTFLOWS_LISTEN", "[::1]:9", 1);
    setenv("EXPORTFLOWS_IPFIX_SAMPLING", "5", 1);
    setenv("EXPORTFLOWS_PUBLISH", "false", 1);
    setenv("EXPORTFLOWS_SAN", "x,y", 1);
    assert_int_equal(parse(&v, 2, argv, &first, &err), OPTIONS_OK);
    unsetenv("EXPORTFLOWS_LISTEN");
    unsetenv("EXPORTFLOWS_IPFIX_SAMPLING");
    unsetenv("EXPORTFLOWS_PUBLISH");
    unsetenv("EXPORTFLOWS_SAN");
    assert_string_equal(v.listen, "[::1]:9");
    assert_int_equal(v.sampling, 7);
    assert_false(v.publish);
    assert_int_equal(v.sans.n, 2);
    assert_string_equal(v.sans.items[0], "x");
}

static void
test_options_reports_bad_usage(void **state)
{
    char *unknown[] = { "prog", "--lisen=1", NULL };
    char *range[] = { "prog", "--ipfix-sampling=0", NULL };
    char *missing[] = { "prog", "--listen", NULL };
    struct values v;
    struct errmsg err;
    int first = 0;

    assert_int_equal(parse(&v, 2, unknown, &first, &err), -EINVAL);
    assert_string_equal(err.text, "unknown option '--lisen'");
    assert_int_equal(parse(&v, 2, range, &first, &err), -EINVAL);
    assert_string_equal(err.text,
                        "--ipfix-sampling: '0' must be a whole number between 1 and 1000");
    assert_int_equal(parse(&v, 2, missing, &first, &err), -EINVAL);
    assert_string_equal(err.text, "--listen needs a value");
}

static void
test_options_help_version_and_double_dash(void **state)
{
    char *help[] = { "prog", "--help", NULL };
    char *version[] = { "prog", "--version", NULL };
    char *dash[] = { "prog", "--", "--listen", NULL };
    struct values v;
    struct errmsg err;
    int first = 0;

    assert_int_equal(parse(&v, 2, help, &first, &err), OPTIONS_HELP);
    assert_int_equal(parse(&v, 2, version, &first, &err), OPTIONS_VERSION);
    assert_int_equal(parse(&v, 3, dash, &first, &err), OPTIONS_OK);
    assert_int_equal(first, 2);
    assert_string_equal(v.listen, "0.0.0.0:8443");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parses_both_value_forms),
        cmocka_unit_test(test_options_reads_environment_and_argv_wins),
        cmocka_unit_test(test_options_reports_bad_usage),
        cmocka_unit_test(test_options_help_version_and_double_dash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
