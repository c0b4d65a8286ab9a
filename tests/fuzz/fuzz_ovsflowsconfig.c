/* fuzz_ovsflowsconfig — the data of the ConfigMap ovs-flows-config, which
 * anyone allowed to write ConfigMaps in the network operator's namespace
 * controls, through ovsflowsconfig and on to what the publisher writes.
 *
 * The input is JSON (duplicate keys refused, "\u0000" allowed, as the API
 * server's replies are read); anything else is dropped.  It is
 * the ConfigMap's data; the Network is fixed, with nine IPFIX collectors, so a
 * new target fits once and a tenth is merged.  Checks, besides the sanitizers:
 *   - every message can be formatted; a cacheActiveTimeout that applies is
 *     within OVS's limit;
 *   - ovsflowsconfig_same() is reflexive;
 *   - a target is never taken from a value holding a NUL byte (a C string
 *     would read "10.0.0.1:4739\u0000junk" cut short);
 *   - the merge keeps the IPFIX list sorted, without duplicates, at most
 *     FLOWSPEC_MAX_COLLECTORS long, and holding the target when it merged;
 *   - what the publisher then writes, the applier accepts: publisher_desired()
 *     on the same input gives a config that reads back from its ConfigMap. */
#include <errno.h>

#include <jansson.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/admission/ovsflowsconfig.h"
#include "exportflows/kube/publisher.h"
#include "fuzz.h"

static const char network_text[] =
    "{\"metadata\": {\"name\": \"cluster\", \"generation\": 3}, \"spec\": {"
    "\"exportNetworkFlows\": {\"ipfix\": {\"collectors\": [\"10.0.0.1:4739\", "
    "\"10.0.0.2:4739\", \"10.0.0.3:4739\", \"10.0.0.4:4739\", \"10.0.0.5:4739\", "
    "\"10.0.0.6:4739\", \"10.0.0.7:4739\", \"10.0.0.8:4739\", \"[fd00::9]:4739\"]}}}}";

static void
check_formats(const struct fielderr_list *list)
{
    for (size_t i = 0; i < list->n_errors; i++) {
        char *text = fielderr_format(&list->errors[i]);

        FUZZ_CHECK(text != NULL, "out of memory");
        free(text);
    }
}

static void
check_merged(const struct flowspec *before, const struct flowspec *after,
             const struct ovsflowsconfig *c, int r)
{
    const struct flowspec_collectors *ipfix = &after->proto[FLOWPROTO_IPFIX];
    struct flowspec_collectors sorted = *ipfix;
    bool found = false;

    FUZZ_CHECK(r == 0 || r == -E2BIG, "merge gave %d", r);
    FUZZ_CHECK(ipfix->n <= FLOWSPEC_MAX_COLLECTORS, "%zu collectors", ipfix->n);
    flowspec_sort_collectors(&sorted);
    for (size_t i = 0; i < ipfix->n; i++) {
        FUZZ_CHECK(collector_equal(&sorted.items[i], &ipfix->items[i]), "not sorted");
        FUZZ_CHECK(i == 0 || !collector_equal(&ipfix->items[i - 1], &ipfix->items[i]),
                   "duplicate collector");
        found = found || (c->has_target && collector_equal(&ipfix->items[i], &c->target));
    }
    FUZZ_CHECK(!c->has_target || r || found, "the target was not merged");
    FUZZ_CHECK(c->has_target && !r ? ipfix->n >= before->proto[FLOWPROTO_IPFIX].n
                                   : ipfix->n == before->proto[FLOWPROTO_IPFIX].n,
               "the list changed without a merge");
}

static void
check_published(const json_t *network, const json_t *data)
{
    json_t *flows = json_pack("{s:O}", "data", data);
    struct fielderr_list report, problems;
    struct flowconfig desired, read_back;
    struct flowtuning tuning;
    struct errmsg err;
    json_t *configmap;

    FUZZ_CHECK(flows != NULL, "out of memory");
    fielderr_list_init(&report);
    fielderr_list_init(&problems);
    flowtuning_init(&tuning);
    FUZZ_CHECK(publisher_desired(network, flows, &tuning, &desired, &report, &problems) == 0,
               "the Network is valid");
    configmap = publisher_configmap_new("exportflows", "exportflows-config", &desired);
    FUZZ_CHECK(configmap != NULL, "out of memory");
    FUZZ_CHECK(flowconfig_data_parse(json_object_get(configmap, "data"), &read_back, &err) == 0,
               "the published config does not read back: %s", err.text);
    json_decref(configmap);
    fielderr_list_release(&report);
    fielderr_list_release(&problems);
    json_decref(flows);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *input = json_loadb((const char *) data, size, JSONTEXT_PARSE_FLAGS, NULL);
    json_t *network = json_loads(network_text, 0, NULL);
    struct fielderr_list report, ignored;
    struct flowspec spec, merged;
    struct flowtuning tuning;
    struct ovsflowsconfig c;

    FUZZ_CHECK(network != NULL, "out of memory");
    if (!input) {
        json_decref(network);
        return 0;
    }
    fielderr_list_init(&report);
    fielderr_list_init(&ignored);
    flowtuning_init(&tuning);
    FUZZ_CHECK(flowspec_validate(json_object_get(network, "spec"), &report, &spec) == 0,
               "the Network is valid");
    ovsflowsconfig_parse(input, &c, &report, &ignored);
    check_formats(&report);
    check_formats(&ignored);
    FUZZ_CHECK(ovsflowsconfig_same(input, input), "ovsflowsconfig_same() is not reflexive");
    FUZZ_CHECK(!c.has_target || !jsontext_has_nul(json_object_get(input, c.target_key)),
               "a target taken from a value holding a NUL");
    FUZZ_CHECK(!c.has_target || c.cache_active_timeout <= OVSFLOWSCONFIG_CACHE_ACTIVE_TIMEOUT_MAX,
               "cacheActiveTimeout %u", c.cache_active_timeout);
    merged = spec;
    check_merged(&spec, &merged, &c, ovsflowsconfig_merge(&c, &merged, &tuning, &report));
    fielderr_list_release(&report);
    fielderr_list_release(&ignored);
    check_published(network, input);
    json_decref(input);
    json_decref(network);
    return 0;
}
