/* commands — the subcommands of the `exportflows` program and what they share.
 *
 * Each subcommand is "int cmd_NAME(int argc, char **argv)" in cmd_NAME.c, run by
 * options_run() with argv[0] being the subcommand's name; it returns the exit
 * status of DESIGN.md "Command-line contract" (EXIT_OK, EXIT_INVALID, EXIT_USAGE). */
#ifndef EXPORTFLOWS_CMD_COMMANDS_H
#define EXPORTFLOWS_CMD_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>

#include "exportflows/base/options.h"

#define PROGRAM "exportflows"

int cmd_validate(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_render(int argc, char **argv);

/* True for an object (borrowed) of apiVersion operator.openshift.io/v1, kind
 * Network: the objects whose spec.exportNetworkFlows is checked. */
bool cmd_is_network(const json_t *object);

#endif
