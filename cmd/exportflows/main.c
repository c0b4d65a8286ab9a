/* exportflows — the command-line tool for people and pipelines: dispatches to the
 * subcommands (validate, render, certs) and holds what they share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exportflows/errmsg.h"
#include "exportflows/options.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "validate", cmd_validate, "check spec.exportNetworkFlows in Network manifests" },
    { "render", cmd_render, "print what the applier would write to OVS for a config" },
    { "certs", cmd_certs, "write a CA and the webhook's serving certificate" },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

int
cmd_usage_error(const char *command, const char *fmt, ...)
{
    char message[ERRMSG_MAX], program[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(program, sizeof program, "%s%s%s", PROGRAM, command ? " " : "",
             command ? command : "");
    options_usage_error(program, "%s", message);
    return EXIT_USAGE;
}

int
cmd_parse_options(const char *command, const char *synopsis, const char *description,
                  const struct option_spec *specs, int argc, char **argv,
                  int *first_arg)
{
    struct errmsg err;
    int r = options_parse(specs, argc, argv, first_arg, &err);

    if (r < 0) {
        return cmd_usage_error(command, "%s", err.text);
    }
    if (r == OPTIONS_HELP) {
        options_usage(stdout, synopsis, specs);
        fputs(description, stdout);
        return EXIT_OK;
    }
    if (r == OPTIONS_VERSION) {
        options_version(PROGRAM);
        return EXIT_OK;
    }
    return -1;
}

static void
usage(FILE *out)
{
    fprintf(out, "Usage: %s COMMAND [OPTION]... [ARG]...\n\nCommands:\n", PROGRAM);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\nOptions:\n  %-10s %s\n  %-10s %s\n\n"
            "Run '%s COMMAND --help' for the options of a command.\n"
            "Exit status: 0 ok, 1 invalid input or failed work, "
            "2 bad usage or unreadable files.\n",
            "--help", "print this help and exit",
            "--version", "print the version and exit", PROGRAM);
}

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(commands[i].name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    static const struct option_spec no_options[] = { { .name = NULL } };
    const struct command *command;
    struct errmsg err;
    int first = 0;
    int r;

    r = options_parse(no_options, argc, argv, &first, &err);
    if (r < 0) {
        return cmd_usage_error(NULL, "%s", err.text);
    }
    if (r == OPTIONS_HELP) {
        usage(stdout);
        return EXIT_OK;
    }
    if (r == OPTIONS_VERSION) {
        options_version(PROGRAM);
        return EXIT_OK;
    }
    if (first >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    command = find_command(argv[first]);
    if (!command) {
        return cmd_usage_error(NULL, "unknown command '%s'", argv[first]);
    }
    return command->run(argc - first, argv + first);
}
