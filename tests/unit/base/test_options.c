/* Unit tests for options: the command-line contract shared by every program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/options.h"

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
        OPT_STRING("listen", &v->listen, "ADDR", "listen address"),
        OPT_BOOL("publish", &v->publish, "publish"),
        OPT_UINT("ipfix-sampling", &v->sampling, "N", 1, 1000, "sampling"),
        OPT_LIST("san", &v->sans, "NAME", "extra SAN"),
        OPT_END,
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

/* ---- the program skeleton: options_run() ---- */

/* A program with one option of each kind the skeleton adds. */
static const char *const formats[] = { "text", "json", "yaml", NULL };
static const char *health = "0.0.0.0:8081";
static int format;

static const struct option_spec prog_specs[] = {
    OPT_LISTEN("health-listen", &health, "ADDR", "plain HTTP; \"\", off or none: none"),
    OPT_CHOICE("format", &format, formats, "FORMAT", "text, json or yaml"),
    OPT_END,
};

static const struct options_program prog = {
    .name = "prog",
    .synopsis = "prog [OPTION]... FILE",
    .description = "\nChecks FILE.\n",
    .specs = prog_specs,
    .min_args = 1, .max_args = 1, .missing_args = "no FILE given",
};

/* What options_run() returned and printed. */
struct run {
    int status;
    int first;
    char out[2048];
    char err[2048];
};

/* Reads what was written to 'file' since it was rewound. */
static void
slurp(FILE *file, char *buf, size_t size)
{
    size_t n;

    rewind(file);
    n = fread(buf, 1, size - 1, file);
    buf[n] = '\0';
    fclose(file);
}

/* Runs options_run() on 'argv' (NULL-terminated) with stdout and stderr going
 * to temporary files. */
static void
run(const struct options_program *program, char **argv, struct run *ret)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    int argc = 0;

    assert_non_null(out);
    assert_non_null(err);
    while (argv[argc]) {
        argc++;
    }
    health = "0.0.0.0:8081";
    format = 0;
    ret->first = -1;
    fflush(stdout);
    fflush(stderr);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    ret->status = options_run(program, argc, argv, &ret->first);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    slurp(out, ret->out, sizeof ret->out);
    slurp(err, ret->err, sizeof ret->err);
}

static void
test_options_run_prints_help_and_exits_0(void **state)
{
    char *argv[] = { "prog", "--format=json", "--help", "--bogus", NULL };
    struct run r;

    run(&prog, argv, &r);
    assert_int_equal(r.status, EXIT_OK);
    assert_string_equal(r.out,
        "Usage: prog [OPTION]... FILE\n"
        "\n"
        "Options (also from EXPORTFLOWS_<NAME> variables):\n"
        "  --health-listen ADDR               plain HTTP; \"\", off or none: none\n"
        "  --format FORMAT                    text, json or yaml\n"
        "  --help                             print this help and exit\n"
        "  --version                          print the version and exit\n"
        "\n"
        "Checks FILE.\n");
    assert_string_equal(r.err, "");
}

static void
test_options_run_prints_version_and_exits_0(void **state)
{
    const struct options_program sub = { .name = "prog sub", .synopsis = "prog sub" };
    char *argv[] = { "sub", "--version", NULL };
    struct run r;

    run(&sub, argv, &r);
    assert_int_equal(r.status, EXIT_OK);
    /* The program's name without the subcommand, then the version. */
    assert_memory_equal(r.out, "prog ", 5);
    assert_non_null(strchr(r.out + 5, '\n'));
    assert_null(strchr(r.out + 5, ' '));
    assert_string_equal(r.err, "");
}

static void
test_options_run_usage_errors_exit_2(void **state)
{
    char *unknown[] = { "prog", "--bogus", "f", NULL };
    char *missing[] = { "prog", "--format", "json", NULL };
    char *extra[] = { "prog", "f", "g", NULL };
    char *choice[] = { "prog", "--format=xml", "f", NULL };
    struct run r;

    run(&prog, unknown, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, "prog: unknown option '--bogus'\nTry 'prog --help'.\n");
    assert_string_equal(r.out, "");
    run(&prog, missing, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, "prog: no FILE given\nTry 'prog --help'.\n");
    run(&prog, extra, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, "prog: unexpected argument 'g'\nTry 'prog --help'.\n");
    run(&prog, choice, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, "prog: --format: 'xml' is not text, json or yaml\n"
                               "Try 'prog --help'.\n");
}

static void
test_options_run_goes_on_with_the_arguments(void **state)
{
    char *argv[] = { "prog", "--format", "yaml", "--health-listen=[::1]:9", "f", NULL };
    struct run r;

    run(&prog, argv, &r);
    assert_int_equal(r.status, OPTIONS_GO_ON);
    assert_int_equal(r.first, 4);
    assert_int_equal(format, 2);
    assert_string_equal(health, "[::1]:9");
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
}

/* "", "off" and "none" turn a listener off, on the command line and from the
 * environment; anything else is an address. */
static void
test_options_listen_off_none_and_empty(void **state)
{
    static const char *const off[] = { "", "off", "none" };
    struct run r;

    for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
        char value[32];
        char *argv[] = { "prog", "--health-listen", value, "f", NULL };

        snprintf(value, sizeof value, "%s", off[i]);
        run(&prog, argv, &r);
        assert_int_equal(r.status, OPTIONS_GO_ON);
        assert_null(health);

        char *plain[] = { "prog", "f", NULL };
        setenv("EXPORTFLOWS_HEALTH_LISTEN", off[i], 1);
        run(&prog, plain, &r);
        unsetenv("EXPORTFLOWS_HEALTH_LISTEN");
        assert_int_equal(r.status, OPTIONS_GO_ON);
        assert_null(health);
    }
    char *on[] = { "prog", "--health-listen=offline:1", "f", NULL };
    run(&prog, on, &r);
    assert_string_equal(health, "offline:1");
}

static int command_argc;
static const char *command_arg;

static int
run_sub(int argc, char **argv)
{
    command_argc = argc;
    command_arg = argv[argc - 1];
    return 7;
}

static void
test_options_run_dispatches_commands(void **state)
{
    static const struct options_command commands[] = {
        { "sub", "does the sub thing", run_sub },
        { NULL, NULL, NULL },
    };
    const struct options_program tool = {
        .name = "tool", .synopsis = "tool COMMAND", .description = "\nMore.\n",
        .commands = commands,
    };
    char *sub[] = { "tool", "sub", "--x", "y", NULL };
    char *unknown[] = { "tool", "subb", NULL };
    char *none[] = { "tool", NULL };
    char *help[] = { "tool", "--help", NULL };
    const char *usage = "Usage: tool COMMAND\n\nCommands:\n"
                        "  sub        does the sub thing\n\nOptions:\n"
                        "  --help     print this help and exit\n"
                        "  --version  print the version and exit\n\nMore.\n";
    struct run r;

    run(&tool, sub, &r);
    assert_int_equal(r.status, 7);          /* the command's own status */
    assert_int_equal(command_argc, 3);      /* "sub" "--x" "y" */
    assert_string_equal(command_arg, "y");
    run(&tool, unknown, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, "tool: unknown command 'subb'\nTry 'tool --help'.\n");
    run(&tool, none, &r);
    assert_int_equal(r.status, EXIT_USAGE);
    assert_string_equal(r.err, usage);
    run(&tool, help, &r);
    assert_int_equal(r.status, EXIT_OK);
    assert_string_equal(r.out, usage);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parses_both_value_forms),
        cmocka_unit_test(test_options_reads_environment_and_argv_wins),
        cmocka_unit_test(test_options_reports_bad_usage),
        cmocka_unit_test(test_options_help_version_and_double_dash),
        cmocka_unit_test(test_options_run_prints_help_and_exits_0),
        cmocka_unit_test(test_options_run_prints_version_and_exits_0),
        cmocka_unit_test(test_options_run_usage_errors_exit_2),
        cmocka_unit_test(test_options_run_goes_on_with_the_arguments),
        cmocka_unit_test(test_options_listen_off_none_and_empty),
        cmocka_unit_test(test_options_run_dispatches_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
