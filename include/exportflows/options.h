/* options — the command-line contract every program follows (DESIGN.md
 * "Command-line contract").
 *
 * Long options only: "--name=value" or "--name value"; booleans "--name" and
 * "--no-name"; repeatable options collect a list.  Every option can also come from
 * the environment variable EXPORTFLOWS_<NAME> (upper case, '-' -> '_'); the command
 * line wins over the environment.  "--help" and "--version" are built in.  The
 * first argument that does not start with "--" (or everything after "--") ends the
 * options; the caller gets its index.
 *
 * The table is caller-owned and static; parsing writes straight into the 'dest'
 * pointers.  String results point into argv or the environment (never freed);
 * list results are a caller-supplied array whose items from the environment
 * (comma-separated) point into a buffer of this module that the next
 * options_parse() call reuses.  Not thread-safe: parse once, at start-up. */
#ifndef EXPORTFLOWS_OPTIONS_H
#define EXPORTFLOWS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exportflows/errmsg.h"

enum option_kind {
    OPTION_STRING,      /* dest: const char ** */
    OPTION_BOOL,        /* dest: bool * */
    OPTION_UINT,        /* dest: uint64_t *, checked against [min, max] */
    OPTION_LIST,        /* dest: struct option_list *, repeatable */
};

#define OPTION_LIST_MAX 16

struct option_list {
    size_t n;
    const char *items[OPTION_LIST_MAX];
};

struct option_spec {
    const char *name;           /* "tls-cert-file"; NULL ends the table */
    enum option_kind kind;
    void *dest;
    const char *metavar;        /* "FILE" in the help text; NULL for booleans */
    const char *help;           /* one line; the default is appended by the caller */
    uint64_t min, max;          /* OPTION_UINT only */
};

enum options_result {
    OPTIONS_OK,                 /* '*first_arg' is the first non-option argument */
    OPTIONS_HELP,               /* --help given: print usage, exit 0 */
    OPTIONS_VERSION,            /* --version given: print version, exit 0 */
};

/* Reads the environment, then argv[1..argc-1].  Returns an enum options_result,
 * or -EINVAL with a message such as "unknown option '--foo'" or "--port: must be
 * between 1 and 65535" in 'err' (exit status 2). */
int options_parse(const struct option_spec *specs, int argc, char **argv,
                  int *first_arg, struct errmsg *err);

/* Prints "Usage: <synopsis>" and one line per option to 'out'. */
void options_usage(FILE *out, const char *synopsis, const struct option_spec *specs);

/* Prints "<program> <version>" to stdout. */
void options_version(const char *program);

/* Prints "<program>: <message>" and "Try '<program> --help'." to stderr, for a
 * usage error; 'program' may be a program and subcommand ("exportflows render").
 * Returns exit status 2. */
int options_usage_error(const char *program, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
