/* options — the command-line contract every program follows (DESIGN.md
 * "Command-line contract"), and the skeleton of a program's start.
 *
 * Long options only: "--name=value" or "--name value"; booleans "--name" and
 * "--no-name"; repeatable options collect a list.  Every option can also come from
 * the environment variable EXPORTFLOWS_<NAME> (upper case, '-' -> '_'); the command
 * line wins over the environment.  "--help" and "--version" are built in.  The
 * first argument that does not start with "--" (or everything after "--") ends the
 * options; the caller gets its index.
 *
 * A program describes itself once (struct options_program: name, synopsis,
 * options, operands, subcommands) and calls options_run(), which prints the help,
 * the version and usage errors and says which exit status to leave with: 0 ok,
 * 1 invalid input or failed work, 2 bad usage or unreadable files.
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

#include "exportflows/base/errmsg.h"

/* The exit statuses of every program. */
enum {
    EXIT_OK = 0,
    EXIT_INVALID = 1,           /* invalid input or failed work */
    EXIT_USAGE = 2,             /* bad usage or unreadable files */
};

enum option_kind {
    OPTION_STRING,      /* dest: const char ** */
    OPTION_BOOL,        /* dest: bool * */
    OPTION_UINT,        /* dest: uint64_t *, checked against [min, max] */
    OPTION_LIST,        /* dest: struct option_list *, repeatable */
    OPTION_LISTEN,      /* dest: const char **, an address to listen on; "", "off"
                         * and "none" store NULL: no listener */
    OPTION_CHOICE,      /* dest: int *, the index of the value in 'choices' */
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
    const char *const *choices; /* OPTION_CHOICE only: the words, NULL-terminated */
};

/* Table entries, one per kind. */
#define OPT_STRING(NAME, DEST, METAVAR, HELP) \
    { .name = NAME, .kind = OPTION_STRING, .dest = DEST, .metavar = METAVAR, .help = HELP }
#define OPT_BOOL(NAME, DEST, HELP) \
    { .name = NAME, .kind = OPTION_BOOL, .dest = DEST, .help = HELP }
#define OPT_UINT(NAME, DEST, METAVAR, MIN, MAX, HELP) \
    { .name = NAME, .kind = OPTION_UINT, .dest = DEST, .metavar = METAVAR, .help = HELP, \
      .min = MIN, .max = MAX }
#define OPT_LIST(NAME, DEST, METAVAR, HELP) \
    { .name = NAME, .kind = OPTION_LIST, .dest = DEST, .metavar = METAVAR, .help = HELP }
#define OPT_LISTEN(NAME, DEST, METAVAR, HELP) \
    { .name = NAME, .kind = OPTION_LISTEN, .dest = DEST, .metavar = METAVAR, .help = HELP }
#define OPT_CHOICE(NAME, DEST, CHOICES, METAVAR, HELP) \
    { .name = NAME, .kind = OPTION_CHOICE, .dest = DEST, .metavar = METAVAR, .help = HELP, \
      .choices = CHOICES }
#define OPT_END { .name = NULL }

enum options_result {
    OPTIONS_OK,                 /* '*first_arg' is the first non-option argument */
    OPTIONS_HELP,               /* --help given */
    OPTIONS_VERSION,            /* --version given */
};

/* Reads the environment, then argv[1..argc-1].  Returns an enum options_result,
 * or -EINVAL with a message such as "unknown option '--foo'" or "--port: must be
 * between 1 and 65535" in 'err'. */
int options_parse(const struct option_spec *specs, int argc, char **argv,
                  int *first_arg, struct errmsg *err);

/* A subcommand: 'run' gets the arguments from the command's name on (argv[0])
 * and returns the exit status. */
struct options_command {
    const char *name;           /* NULL ends the table */
    const char *summary;        /* one line for the program's --help */
    int (*run)(int argc, char **argv);
};

/* What a program (or one of its subcommands) is, for options_run(). */
struct options_program {
    const char *name;           /* "exportflows-webhook"; "exportflows render" */
    const char *synopsis;       /* the usage after "Usage: " */
    const char *description;    /* --help prints it after the options; or NULL */
    const struct option_spec *specs;    /* NULL: only --help and --version */
    size_t min_args, max_args;  /* non-option arguments accepted */
    const char *missing_args;   /* the usage error for fewer than 'min_args' */
    const struct options_command *commands; /* subcommands, or NULL */
};

/* options_run(): the program goes on with its work. */
#define OPTIONS_GO_ON (-1)

/* Parses the command line of 'program'.  --help prints "Usage: <synopsis>", one
 * line per option (or per command) and the description on stdout; --version
 * prints "<program> <version>"; both return EXIT_OK.  A bad option, too few or
 * too many arguments print "<name>: <why>" and "Try '<name> --help'." on stderr
 * and return EXIT_USAGE.  A program with 'commands' runs the one named by the
 * first argument and returns its status (no argument: the help on stderr,
 * EXIT_USAGE).  Otherwise returns OPTIONS_GO_ON with the first non-option
 * argument's index in '*first_arg'. */
int options_run(const struct options_program *program, int argc, char **argv,
                int *first_arg);

/* Prints "<program>: <message>" and "Try '<program> --help'." to stderr, for a
 * usage error found after options_run(); 'program' may be a program and
 * subcommand ("exportflows render").  Returns EXIT_USAGE. */
int options_usage_error(const char *program, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
