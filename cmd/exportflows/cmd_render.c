/* exportflows render — shows what the applier would write to OVS for a config,
 * starting from a bridge without flow export (ovsplan_render()): the OVSDB
 * transaction, ready for `ovsdb-client transact`, and the equivalent ovs-vsctl
 * command line.
 *
 * CONFIG is the applier's input: the ConfigMap's config.json, or the ConfigMap
 * itself (`kubectl get configmap -o json`; its payload read as the applier reads
 * it, flowconfig_data_text()); or, for convenience, a Network manifest (YAML or
 * JSON), which is validated as the webhook would and turned into a config with
 * the publisher's default tuning.
 * Then the tuning of each protocol that is on: the keys that are set, and for
 * the others the OVS default that applies. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "exportflows/admission/collector.h"
#include "exportflows/base/errmsg.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/admission/manifest.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/ovs/ovsplan.h"
#include "exportflows/kube/publisher.h"

#define COMMAND PROGRAM " render"

static const char render_description[] =
    "\nPrints the OVSDB transaction the applier would send for CONFIG to a bridge\n"
    "that has no flow export yet (the argument of `ovsdb-client transact`), then\n"
    "the equivalent ovs-vsctl command, then the tuning: what is set, and the OVS\n"
    "default that applies to what is not.  CONFIG is the applier's config.json,\n"
    "the ConfigMap that holds it, or a Network manifest (validated, then rendered\n"
    "with the default tuning); '-' reads standard input.  ':PORT' collectors need\n"
    "--node-ip.\n";

/* Prints the findings of a Network manifest that failed validation, as
 * `exportflows validate` does, on stderr. */
static void
print_report(const char *file, const struct fielderr_list *report)
{
    for (size_t i = 0; i < report->n_errors; i++) {
        char *line = fielderr_format(&report->errors[i]);

        fprintf(stderr, "%s: %s\n", file, line ? line : "out of memory");
        free(line);
    }
    if (report->n_dropped_errors) {
        fprintf(stderr, "%s: and %zu more errors\n", file, report->n_dropped_errors);
    }
    for (size_t i = 0; i < report->n_warnings; i++) {
        fprintf(stderr, "%s: warning: %s\n", file, report->warnings[i]);
    }
}

/* The config of a Network object (borrowed) with the default tuning, as the
 * publisher would publish it (publisher_desired(), without ovs-flows-config). */
static int
config_from_network(const char *file, const json_t *network, struct flowconfig *ret)
{
    struct fielderr_list report, flows_report;
    struct flowtuning tuning;
    int r;

    fielderr_list_init(&report);
    fielderr_list_init(&flows_report);
    flowtuning_init(&tuning);
    r = publisher_desired(network, NULL, &tuning, ret, &report, &flows_report);
    print_report(file, &report);
    fielderr_list_release(&report);
    fielderr_list_release(&flows_report);
    return r ? EXIT_INVALID : EXIT_OK;
}

/* True for a ConfigMap object (borrowed). */
static bool
is_configmap(const json_t *object)
{
    return jsontext_is(json_object_get(object, "apiVersion"), "v1")
           && jsontext_is(json_object_get(object, "kind"), "ConfigMap");
}

/* The config a ConfigMap object (borrowed) holds, parsed as the applier parses
 * it. */
static int
config_from_configmap(const json_t *configmap, struct flowconfig *ret,
                      struct errmsg *err)
{
    const char *text;
    size_t len;

    if (flowconfig_data_text(json_object_get(configmap, "data"), &text, &len)) {
        return errmsg_set(err, -ENOENT, "the ConfigMap has no key %s", FLOWCONFIG_KEY);
    }
    return flowconfig_parse(text, len, ret, err);
}

/* Reads CONFIG into '*ret'; returns an exit status, having said why on stderr. */
static int
load_config(const char *path, struct flowconfig *ret)
{
    const char *file = manifest_display_name(path);
    struct manifest m;
    struct errmsg err;
    int status = EXIT_OK;

    if (manifest_load(path, &m, &err)) {
        fprintf(stderr, "%s\n", err.text);
        return EXIT_USAGE;
    }
    if (m.n != 1) {
        fprintf(stderr, "%s: expected one object, found %zu\n", file, m.n);
        status = EXIT_INVALID;
    } else if (cmd_is_network(m.objects[0].json)) {
        status = config_from_network(file, m.objects[0].json, ret);
    } else if (is_configmap(m.objects[0].json)
                   ? config_from_configmap(m.objects[0].json, ret, &err)
                   : flowconfig_from_json(m.objects[0].json, ret, &err)) {
        fprintf(stderr, "%s: %s\n", file, err.text);
        status = EXIT_INVALID;
    } else if (ret->n_ignored) {
        fprintf(stderr, "%s: warning: ignored %u unknown key%s, the first \"%s\" "
                "(this version reads config version %d)\n", file, ret->n_ignored,
                ret->n_ignored == 1 ? "" : "s", ret->first_ignored, FLOWCONFIG_VERSION);
    }
    manifest_release(&m);
    return status;
}

/* One comment line per tuning key of each protocol that is on. */
static void
print_tuning(const struct flowconfig *config)
{
    printf("# tuning (a key that is not set leaves the column to OVS):\n");
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (!config->spec.proto[p].n) {
            continue;
        }
        if (p == FLOWPROTO_SFLOW) {
            printf("#   sFlow.agent = %s\n", config->tuning.sflow_agent);
        }
        for (int k = 0; k < FLOWTUNING_N_KEYS; k++) {
            const struct flowtuning_key_info *info = flowtuning_key_info(k);

            if (info->proto != (enum flowproto) p) {
                continue;
            }
            if (flowtuning_is_set(&config->tuning, k)) {
                printf("#   %s.%s = %" PRIu32 "\n", flowproto_name(info->proto),
                       info->name, flowtuning_get(&config->tuning, k));
            } else {
                printf("#   %s.%s: not set (%s)\n", flowproto_name(info->proto),
                       info->name, info->when_unset);
            }
        }
    }
}

static int
print_plan(const struct flowconfig *config, const char *bridge,
           const struct collector *node_ip)
{
    json_t *ops = NULL;
    char *vsctl = NULL;
    struct errmsg err;
    int status = EXIT_INVALID;

    if (ovsplan_render(config, bridge, node_ip, &ops, &vsctl, &err)) {
        fprintf(stderr, "%s: %s\n", COMMAND, err.text);
        goto out;
    }
    printf("# OVSDB transaction for bridge %s without flow export "
           "(ovsdb-client transact):\n[\"Open_vSwitch\"", bridge);
    /* One operation per line: readable, and still the JSON that ovsdb-client
     * transact takes (["database", operation...]). */
    for (size_t i = 0; i < json_array_size(ops); i++) {
        char *op = json_dumps(json_array_get(ops, i), 0);

        if (!op) {
            fprintf(stderr, "%s: out of memory\n", COMMAND);
            goto out;
        }
        printf(",\n  %s", op);
        free(op);
    }
    printf("]\n");
    printf("# the same with ovs-vsctl:\n%s\n", vsctl);
    print_tuning(config);
    status = EXIT_OK;
out:
    json_decref(ops);
    free(vsctl);
    return status;
}

int
cmd_render(int argc, char **argv)
{
    const char *bridge = "br-int";
    const char *node_ip_text = NULL;
    const struct option_spec specs[] = {
        OPT_STRING("bridge", &bridge, "NAME", "the bridge (default: br-int)"),
        OPT_STRING("node-ip", &node_ip_text, "IP",
                   "this node's primary IP, for ':PORT' collectors"),
        OPT_END,
    };
    const struct options_program program = {
        .name = COMMAND,
        .synopsis = COMMAND " [--bridge NAME] [--node-ip IP] CONFIG",
        .description = render_description,
        .specs = specs,
        .min_args = 1, .max_args = 1, .missing_args = "no CONFIG given",
    };
    struct collector node_ip;
    struct flowconfig config;
    const char *why;
    int first;
    int status = options_run(&program, argc, argv, &first);

    if (status != OPTIONS_GO_ON) {
        return status;
    }
    if (node_ip_text && collector_parse_ip(node_ip_text, &node_ip, &why)) {
        return options_usage_error(COMMAND, "--node-ip: '%s': %s", node_ip_text, why);
    }
    status = load_config(argv[first], &config);
    if (status != EXIT_OK) {
        return status;
    }
    status = print_plan(&config, bridge, node_ip_text ? &node_ip : NULL);
    return fflush(stdout) ? EXIT_INVALID : status;
}
