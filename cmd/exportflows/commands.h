/* commands — the subcommands of the `exportflows` program and what they share.
 *
 * Each subcommand is "int cmd_NAME(int argc, char **argv)", called by main.c with
 * argv[0] being the subcommand's name; it returns the exit status of DESIGN.md
 * "Command-line contract". */
#ifndef EXPORTFLOWS_CMD_COMMANDS_H
#define EXPORTFLOWS_CMD_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>

#include "exportflows/options.h"

#define PROGRAM "exportflows"

enum {
    EXIT_OK = 0,
    EXIT_INVALID = 1,           /* invalid input or failed work */
    EXIT_USAGE = 2,             /* bad usage or unreadable files */
};

int cmd_validate(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_render(int argc, char **argv);

/* True for an object (borrowed) of apiVersion operator.openshift.io/v1, kind
 * Network: the objects whose spec.exportNetworkFlows is checked. */
bool cmd_is_network(const json_t *object);

/* Prints "exportflows COMMAND: <message>" and a hint to run --help on stderr;
 * returns EXIT_USAGE. */
int cmd_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs options_parse() for 'command' and handles --help (usage and 'description'
 * on stdout), --version and errors.  Returns -1 when the command should go on
 * with its arguments starting at '*first_arg', else the exit status. */
int cmd_parse_options(const char *command, const char *synopsis,
                      const char *description, const struct option_spec *specs,
                      int argc, char **argv, int *first_arg);

#endif
