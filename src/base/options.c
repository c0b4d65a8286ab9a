/* options — see include/exportflows/base/options.h. */
#include "exportflows/base/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/numparse.h"

#define ENV_PREFIX "EXPORTFLOWS_"
#define ENV_NAME_MAX 128

static const struct option_spec *
find_spec(const struct option_spec *specs, const char *name, size_t len)
{
    for (const struct option_spec *s = specs; s->name; s++) {
        if (strlen(s->name) == len && !memcmp(s->name, name, len)) {
            return s;
        }
    }
    return NULL;
}

static int
parse_bool_text(const char *text, bool *ret)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };

    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcasecmp(text, yes[i])) {
            *ret = true;
            return 0;
        }
        if (!strcasecmp(text, no[i])) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* "", "off" and "none": no listener. */
static bool
listen_off(const char *value)
{
    return !*value || !strcmp(value, "off") || !strcmp(value, "none");
}

/* '*ret' = the index of 'value' in the spec's choices; else a message listing
 * them: "--log-format: 'xml' is not text or json". */
static int
store_choice(const struct option_spec *s, const char *value, int *ret, struct errmsg *err)
{
    char list[ERRMSG_MAX];
    struct capbuf text;

    for (int i = 0; s->choices[i]; i++) {
        if (!strcmp(value, s->choices[i])) {
            *ret = i;
            return 0;
        }
    }
    capbuf_init_fixed(&text, list, sizeof list, CAPBUF_CUT);
    for (int i = 0; s->choices[i]; i++) {
        const char *sep = i == 0 ? "" : s->choices[i + 1] ? ", " : " or ";

        capbuf_printf(&text, "%s%s", sep, s->choices[i]);
    }
    return errmsg_set(err, -EINVAL, "--%s: '%s' is not %s", s->name, value, list);
}

/* Stores 'value' (borrowed for the life of the process) into the spec's dest. */
static int
store_value(const struct option_spec *s, const char *value, struct errmsg *err)
{
    switch (s->kind) {
    case OPTION_STRING:
        *(const char **) s->dest = value;
        return 0;
    case OPTION_LISTEN:
        *(const char **) s->dest = listen_off(value) ? NULL : value;
        return 0;
    case OPTION_CHOICE:
        return store_choice(s, value, s->dest, err);
    case OPTION_BOOL:
        if (parse_bool_text(value, s->dest)) {
            return errmsg_set(err, -EINVAL, "--%s: '%s' is not a boolean", s->name, value);
        }
        return 0;
    case OPTION_UINT:
        if (numparse_u64(value, s->min, s->max, s->dest)) {
            return errmsg_set(err, -EINVAL,
                              "--%s: '%s' must be a whole number between %llu and %llu",
                              s->name, value, (unsigned long long) s->min,
                              (unsigned long long) s->max);
        }
        return 0;
    case OPTION_LIST: {
        struct option_list *list = s->dest;

        if (list->n >= OPTION_LIST_MAX) {
            return errmsg_set(err, -EINVAL, "--%s: at most %d values", s->name,
                              OPTION_LIST_MAX);
        }
        list->items[list->n++] = value;
        return 0;
    }
    }
    return -EINVAL;
}

/* EXPORTFLOWS_TLS_CERT_FILE for "tls-cert-file". */
static void
env_name(const char *option, char buf[ENV_NAME_MAX])
{
    size_t n = strlen(ENV_PREFIX);

    memcpy(buf, ENV_PREFIX, n);
    for (const char *p = option; *p && n < ENV_NAME_MAX - 1; p++) {
        buf[n++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
    }
    buf[n] = '\0';
}

/* Lists from the environment are comma-separated; their items are copied here,
 * NUL-terminated, since the environment itself must not be modified.  The
 * buffer is reused by the next options_parse() call. */
static char env_lists[4096];
static size_t env_lists_used;

static int
store_env_list(const struct option_spec *s, const char *value, struct errmsg *err)
{
    size_t len = strlen(value);
    char *copy = env_lists + env_lists_used;

    if (len >= sizeof env_lists - env_lists_used) {
        return errmsg_set(err, -E2BIG, "list longer than %zu bytes", sizeof env_lists - 1);
    }
    memcpy(copy, value, len + 1);
    env_lists_used += len + 1;
    for (char *item = copy; item; ) {
        char *comma = strchr(item, ',');
        int error;

        if (comma) {
            *comma = '\0';
        }
        if (*item && (error = store_value(s, item, err)) != 0) {
            return error;
        }
        item = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int
parse_environment(const struct option_spec *specs, struct errmsg *err)
{
    env_lists_used = 0;
    for (const struct option_spec *s = specs; s->name; s++) {
        char name[ENV_NAME_MAX];
        const char *value;
        int error;

        env_name(s->name, name);
        value = getenv(name);
        if (!value) {
            continue;
        }
        error = s->kind == OPTION_LIST ? store_env_list(s, value, err)
                                       : store_value(s, value, err);
        if (error) {
            return errmsg_prefix(err, error, "%s", name);
        }
    }
    return 0;
}

/* Handles argv[*i] = "--name[=value]", consuming a following value when needed. */
static int
parse_one(const struct option_spec *specs, int argc, char **argv, int *i,
          struct errmsg *err)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t) (eq - arg) : strlen(arg);
    const struct option_spec *s = find_spec(specs, arg, len);

    if (!s && !eq && !strncmp(arg, "no-", 3)) {
        s = find_spec(specs, arg + 3, len - 3);
        if (s && s->kind == OPTION_BOOL) {
            *(bool *) s->dest = false;
            return 0;
        }
        s = NULL;
    }
    if (!s) {
        return errmsg_set(err, -EINVAL, "unknown option '--%.*s'", (int) len, arg);
    }
    if (s->kind == OPTION_BOOL && !eq) {
        *(bool *) s->dest = true;
        return 0;
    }
    if (eq) {
        return store_value(s, eq + 1, err);
    }
    if (*i + 1 >= argc) {
        return errmsg_set(err, -EINVAL, "--%s needs a value", s->name);
    }
    return store_value(s, argv[++*i], err);
}

int
options_parse(const struct option_spec *specs, int argc, char **argv,
              int *first_arg, struct errmsg *err)
{
    int error = parse_environment(specs, err);
    int i;

    if (error) {
        return error;
    }
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!strcmp(arg, "--")) {
            i++;
            break;
        }
        if (strncmp(arg, "--", 2)) {
            break;
        }
        if (!strcmp(arg, "--help")) {
            return OPTIONS_HELP;
        }
        if (!strcmp(arg, "--version")) {
            return OPTIONS_VERSION;
        }
        error = parse_one(specs, argc, argv, &i, err);
        if (error) {
            return error;
        }
    }
    *first_arg = i;
    return OPTIONS_OK;
}

/* "Usage: ..." and one line per option, then the description. */
static void
print_options(FILE *out, const struct options_program *program)
{
    fprintf(out, "Usage: %s\n\nOptions (also from EXPORTFLOWS_<NAME> variables):\n",
            program->synopsis);
    for (const struct option_spec *s = program->specs; s && s->name; s++) {
        char left[80];

        if (s->kind == OPTION_BOOL) {
            snprintf(left, sizeof left, "--[no-]%s", s->name);
        } else {
            snprintf(left, sizeof left, "--%s %s", s->name,
                     s->metavar ? s->metavar : "VALUE");
        }
        fprintf(out, "  %-34s %s\n", left, s->help ? s->help : "");
    }
    fprintf(out, "  %-34s %s\n  %-34s %s\n", "--help", "print this help and exit",
            "--version", "print the version and exit");
}

/* "Usage: ...", one line per command, the built-in options, the description. */
static void
print_commands(FILE *out, const struct options_program *program)
{
    fprintf(out, "Usage: %s\n\nCommands:\n", program->synopsis);
    for (const struct options_command *c = program->commands; c->name; c++) {
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    }
    fprintf(out, "\nOptions:\n  %-10s %s\n  %-10s %s\n", "--help",
            "print this help and exit", "--version", "print the version and exit");
}

static void
print_help(FILE *out, const struct options_program *program)
{
    if (program->commands) {
        print_commands(out, program);
    } else {
        print_options(out, program);
    }
    fputs(program->description ? program->description : "", out);
}

/* "<program> <version>": the program's name without a subcommand. */
static void
print_version(const struct options_program *program)
{
#ifndef EXPORTFLOWS_VERSION
#define EXPORTFLOWS_VERSION "unknown"
#endif
    printf("%.*s %s\n", (int) strcspn(program->name, " "), program->name,
           EXPORTFLOWS_VERSION);
}

/* Runs the command named by argv[0]. */
static int
run_command(const struct options_program *program, int argc, char **argv)
{
    if (argc < 1) {
        print_help(stderr, program);
        return EXIT_USAGE;
    }
    for (const struct options_command *c = program->commands; c->name; c++) {
        if (!strcmp(c->name, argv[0])) {
            return c->run(argc, argv);
        }
    }
    return options_usage_error(program->name, "unknown command '%s'", argv[0]);
}

int
options_run(const struct options_program *program, int argc, char **argv,
            int *first_arg)
{
    static const struct option_spec none[] = { OPT_END };
    struct errmsg err = { "" };
    int first = argc;
    size_t n_args;
    int r = options_parse(program->specs ? program->specs : none, argc, argv, &first,
                          &err);

    if (r < 0) {
        return options_usage_error(program->name, "%s", err.text);
    } else if (r == OPTIONS_HELP) {
        print_help(stdout, program);
        return EXIT_OK;
    } else if (r == OPTIONS_VERSION) {
        print_version(program);
        return EXIT_OK;
    } else if (program->commands) {
        return run_command(program, argc - first, argv + first);
    }
    n_args = (size_t) (argc - first);
    if (n_args < program->min_args) {
        return options_usage_error(program->name, "%s", program->missing_args
                                   ? program->missing_args : "too few arguments");
    }
    if (n_args > program->max_args) {
        return options_usage_error(program->name, "unexpected argument '%s'",
                                   argv[first + (int) program->max_args]);
    }
    *first_arg = first;
    return OPTIONS_GO_ON;
}

int
options_usage_error(const char *program, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", program);
    return EXIT_USAGE;
}
