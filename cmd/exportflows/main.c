/* exportflows — the command-line tool for people and pipelines: dispatches to the
 * subcommands (validate, render, certs). */
#include "commands.h"
#include "exportflows/base/options.h"

static const struct options_command commands[] = {
    { "validate", "check spec.exportNetworkFlows in Network manifests", cmd_validate },
    { "render", "print what the applier would write to OVS for a config", cmd_render },
    { "certs", "write a CA and the webhook's serving certificate", cmd_certs },
    { NULL, NULL, NULL },
};

static const struct options_program program = {
    .name = PROGRAM,
    .synopsis = PROGRAM " COMMAND [OPTION]... [ARG]...",
    .description = "\nRun '" PROGRAM " COMMAND --help' for the options of a command.\n"
                   "Exit status: 0 ok, 1 invalid input or failed work, "
                   "2 bad usage or unreadable files.\n",
    .commands = commands,
};

int
main(int argc, char **argv)
{
    return options_run(&program, argc, argv, NULL);
}
