/* fuzz_flowconfig — the applier's config payload: the ConfigMap key
 * "config.json" (or --config-file), written by the publisher but read from the
 * API server, so outside input to every node.
 *
 * flowconfig_parse() on any bytes, then what the applier does with a config
 * it accepts.  Checks, besides the sanitizers:
 *   - the canonical form round-trips: flowconfig_dump() parses back to the
 *     same config, and dumping that gives the same text;
 *   - flowconfig_data_parse() on a ConfigMap holding the text accepts it
 *     exactly when flowconfig_parse() does and the hash matches the content;
 *   - an accepted config plans (ovsplan_build() against an OVS that has other
 *     settings) and renders (ovsplan_render()) without error, on an IPv4 node
 *     and on an IPv6 node, where only a ":PORT" NetFlow collector may fail;
 *   - "\u0000" is read where the config's strings are not (jansson's
 *     JSON_ALLOW_NUL), but no accepted config has one in a string it reads:
 *     a collector, the sFlow agent, the hash. */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/ovs/ovsplan.h"
#include "fuzz.h"

/* The monitor cache of a bridge whose NetFlow row someone else wrote. */
static const char rows_text[] =
    "{\"Bridge\": {\"b1\": {\"name\": \"br-int\", \"netflow\": [\"uuid\", \"n1\"],"
    " \"sflow\": [\"set\", []], \"ipfix\": [\"set\", []]}},"
    " \"NetFlow\": {\"n1\": {\"targets\": \"10.0.0.1:2056\", \"active_timeout\": 60,"
    " \"external_ids\": [\"map\", []]}}}";

static void
check_round_trip(const struct flowconfig *config)
{
    char *text = flowconfig_dump(config), *again;
    struct flowconfig parsed;
    struct errmsg err;

    FUZZ_CHECK(text != NULL, "out of memory");
    FUZZ_CHECK(flowconfig_parse(text, strlen(text), &parsed, &err) == 0,
               "the canonical form does not parse: %s: %s", err.text, text);
    FUZZ_CHECK(flowconfig_same(config, &parsed), "the canonical form reads back different");
    again = flowconfig_dump(&parsed);
    FUZZ_CHECK(again && !strcmp(text, again), "dump not stable:\n%s\n%s", text, again);
    free(again);
    free(text);
}

/* Plans and renders 'config' for a node whose primary IP is 'ip'.  On an IPv6
 * node a ":PORT" NetFlow collector is refused (NetFlow v5 carries IPv4 only);
 * nothing else may fail. */
static void
check_plans_on(const struct flowconfig *config, const char *ip)
{
    json_t *rows = json_loads(rows_text, 0, NULL), *ops = NULL;
    struct collector node_ip;
    char *vsctl = NULL;
    struct errmsg err;
    int r;

    FUZZ_CHECK(rows && collector_parse_ip(ip, &node_ip, NULL) == 0, "setup");
    r = ovsplan_build(config, NULL, "br-int", &node_ip, rows, &ops, NULL, &err);
    FUZZ_CHECK(r == 0 || (r == -EINVAL && node_ip.kind == COLLECTOR_IPV6
                          && strstr(err.text, "NetFlow v5 carries IPv4 only")),
               "plan on %s: %s", ip, err.text);
    json_decref(ops);
    ops = NULL;
    if (r == 0) {
        r = ovsplan_render(config, "br-int", &node_ip, &ops, &vsctl, &err);
        FUZZ_CHECK(r == 0, "render on %s: %s", ip, err.text);
    }
    json_decref(ops);
    free(vsctl);
    json_decref(rows);
}

static void
check_plans(const struct flowconfig *config)
{
    check_plans_on(config, "10.0.0.5");
    check_plans_on(config, "fd00::5");
}

/* The same text inside a ConfigMap's data, read back as the publisher reads it. */
static void
check_configmap(const char *text, size_t len, int parsed, const struct flowconfig *config)
{
    json_t *data = json_pack("{s:s%}", FLOWCONFIG_KEY, text, len);
    struct flowconfig from_map;
    char hash[FLOWCONFIG_HASH_SIZE];
    int r;

    if (!data) {
        return;                 /* not UTF-8: JSON cannot carry it */
    }
    r = flowconfig_data_parse(data, &from_map, NULL);
    if (parsed == 0) {
        flowconfig_hash(config, hash);
        FUZZ_CHECK((r == 0) == !strcmp(hash, config->hash), "configmap %d", r);
    } else {
        FUZZ_CHECK(r != 0, "the configmap accepted what flowconfig_parse() refused");
    }
    json_decref(data);
}

/* The strings an accepted config 'text' reads hold no NUL byte. */
static void
check_no_nul_read(const char *text, size_t len)
{
    json_t *json = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);

    FUZZ_CHECK(json != NULL, "jansson refuses an accepted config");
    FUZZ_CHECK(!jsontext_has_nul(json_object_get(json, "hash")), "a NUL in the hash");
    for (int p = 0; p < FLOWPROTO_N; p++) {
        const json_t *proto = json_object_get(json, flowproto_name((enum flowproto) p));
        const json_t *item;
        size_t i;

        FUZZ_CHECK(!jsontext_has_nul(json_object_get(proto, "agent")), "a NUL in the agent");
        json_array_foreach(json_object_get(proto, "collectors"), i, item) {
            FUZZ_CHECK(!jsontext_has_nul(item), "a NUL in collector %zu", i);
        }
    }
    json_decref(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    struct flowconfig config;
    struct errmsg err;
    int r = flowconfig_parse(text, size, &config, &err);

    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG, "unexpected %d (%s)", r, err.text);
    if (r == 0) {
        check_round_trip(&config);
        check_plans(&config);
        check_no_nul_read(text, size);
    }
    check_configmap(text, size, r, &config);
    return 0;
}
