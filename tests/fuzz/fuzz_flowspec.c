/* fuzz_flowspec — a Network object, as the API server hands it to the publisher
 * and `exportflows validate` reads it, through flowspec and on to what the
 * publisher writes.
 *
 * The input is JSON (duplicate keys refused, "\u0000" allowed, as everywhere);
 * anything else is dropped.  Checks, besides the sanitizers:
 *   - flowspec_validate() fails exactly when it reports an error, and its
 *     messages can be formatted;
 *   - flowspec_same() is reflexive, on invalid specs too;
 *   - a valid spec comes out sorted (flowspec_sort() changes nothing), and
 *     has no NUL byte in a collector or, when a protocol is on, the network
 *     type (a C string would read "10.0.0.1:2056\u0000junk" cut short);
 *   - what the publisher then writes, the applier accepts: the ConfigMap
 *     publisher_desired() leads to parses back (flowconfig_data_parse())
 *     to the same config, with a matching hash, and renders into OVSDB
 *     operations for a bridge. */
#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/ovs/ovsplan.h"
#include "exportflows/kube/publisher.h"
#include "fuzz.h"

static void
check_report(const struct fielderr_list *report, int r)
{
    char *summary;

    FUZZ_CHECK((r == 0) == (fielderr_list_count(report) == 0), "result %d with %zu errors", r,
               fielderr_list_count(report));
    for (size_t i = 0; i < report->n_errors; i++) {
        char *text = fielderr_format(&report->errors[i]);

        FUZZ_CHECK(text != NULL, "out of memory");
        free(text);
    }
    summary = fielderr_list_summary(report);
    FUZZ_CHECK(summary != NULL, "out of memory");
    free(summary);
}

/* What the publisher writes for 'network' reads back as the same config. */
static void
check_published(const json_t *network)
{
    struct flowconfig desired, read_back;
    struct fielderr_list report;
    struct collector node_ip;
    struct flowtuning tuning;
    json_t *configmap, *ops = NULL;
    char *vsctl = NULL;
    struct errmsg err;
    int r;

    fielderr_list_init(&report);
    flowtuning_init(&tuning);
    FUZZ_CHECK(publisher_desired(network, NULL, &tuning, &desired, &report, &report) == 0,
               "not desired");
    fielderr_list_release(&report);
    configmap = publisher_configmap_new("exportflows", "exportflows-config", &desired);
    FUZZ_CHECK(configmap != NULL, "out of memory");
    r = flowconfig_data_parse(json_object_get(configmap, "data"), &read_back, &err);
    FUZZ_CHECK(r == 0, "the published config does not read back: %s", err.text);
    FUZZ_CHECK(flowconfig_same(&desired, &read_back) && !strcmp(desired.hash, read_back.hash),
               "the published config reads back different");
    FUZZ_CHECK(publisher_configmap_current(configmap, &desired), "not current");
    json_decref(configmap);

    FUZZ_CHECK(collector_parse_ip("10.0.0.5", &node_ip, NULL) == 0, "node ip");
    r = ovsplan_render(&read_back, "br-int", &node_ip, &ops, &vsctl, &err);
    FUZZ_CHECK(r == 0, "render: %s", err.text);
    json_decref(ops);
    free(vsctl);
}

/* A valid 'spec' reads no string with a NUL byte. */
static void
check_no_nul_read(const json_t *spec, const struct flowspec *normal)
{
    const json_t *export = json_object_get(spec, "exportNetworkFlows");
    bool on = false;

    for (int p = 0; p < FLOWPROTO_N; p++) {
        const json_t *proto = json_object_get(export, flowproto_name((enum flowproto) p));
        const json_t *list = json_is_object(proto) ? json_object_get(proto, "collectors")
                                                   : proto;
        const json_t *item;
        size_t i;

        json_array_foreach(list, i, item) {
            FUZZ_CHECK(!jsontext_has_nul(item), "valid with a NUL in a collector");
        }
        on = on || normal->proto[p].n;
    }
    FUZZ_CHECK(!on || !jsontext_has_nul(json_object_get(json_object_get(spec, "defaultNetwork"),
                                                        "type")),
               "valid with a NUL in the network type");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *network = json_loadb((const char *) data, size,
                                 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    const json_t *spec = json_object_get(network, "spec");
    struct fielderr_list report;
    struct flowspec normal, sorted;
    int r;

    if (!network) {
        return 0;
    }
    fielderr_list_init(&report);
    r = flowspec_validate(spec, &report, &normal);
    FUZZ_CHECK(r == 0 || r == -EINVAL, "unexpected %d", r);
    check_report(&report, r);
    fielderr_list_release(&report);
    FUZZ_CHECK(flowspec_same(spec, spec), "flowspec_same() is not reflexive");
    if (r == 0) {
        sorted = normal;
        flowspec_sort(&sorted);
        FUZZ_CHECK(flowspec_equal(&sorted, &normal), "normalised collectors are not sorted");
        check_no_nul_read(spec, &normal);
        check_published(network);
    }
    json_decref(network);
    return 0;
}
