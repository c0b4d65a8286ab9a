/* options — see include/exportflows/options.h. */
#include "exportflows/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/numparse.h"

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

/* Stores 'value' (borrowed for the life of the process) into the spec's dest. */
static int
store_value(const struct option_spec *s, const char *value, struct errmsg *err)
{
    switch (s->kind) {
    case OPTION_STRING:
        *(const char **) s->dest = value;
        return 0;
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

void
options_usage(FILE *out, const char *synopsis, const struct option_spec *specs)
{
    fprintf(out, "Usage: %s\n\nOptions (also from EXPORTFLOWS_<NAME> variables):\n",
            synopsis);
    for (const struct option_spec *s = specs; s->name; s++) {
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

int
options_usage_error(const char *program, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", program);
    return 2;
}

void
options_version(const char *program)
{
#ifndef EXPORTFLOWS_VERSION
#define EXPORTFLOWS_VERSION "unknown"
#endif
    printf("%s %s\n", program, EXPORTFLOWS_VERSION);
}
