/* Unit tests for the publisher's decisions: what a Network object publishes, and
 * when the ConfigMap already holds it (no API server involved). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/publisher.h"

/* "sha256:<hex>" of 'text', computed here independently of flowconfig. */
static void
sha256_of(const char *text, char ret[FLOWCONFIG_HASH_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_true(EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL));
    assert_int_equal(len, 32);
    memcpy(ret, "sha256:", 7);
    for (unsigned i = 0; i < len; i++) {
        snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
    }
}

static json_t *
parse(const char *text)
{
    json_error_t error;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &error);

    if (!j) {
        fail_msg("bad test JSON: %s: %s", error.text, text);
    }
    return j;
}

/* A Network object with 'generation' and the spec 'spec' (JSON text). */
static json_t *
network(int generation, const char *spec)
{
    json_t *n = json_pack("{s:s, s:s, s:{s:s, s:i}}", "apiVersion", "operator.openshift.io/v1",
                          "kind", "Network", "metadata", "name", "cluster",
                          "generation", generation);

    json_object_set_new(n, "spec", parse(spec));
    return n;
}

static struct flowtuning tuning;

static int
setup(void **state)
{
    flowtuning_init(&tuning);
    return 0;
}

/* The config the publisher would write for 'net', as text. */
static char *
desired_text(const json_t *net, struct flowconfig *config)
{
    struct fielderr_list report;

    fielderr_list_init(&report);
    assert_int_equal(publisher_desired(net, NULL, &tuning, config, &report, &report), 0);
    assert_int_equal(fielderr_list_count(&report), 0);
    fielderr_list_release(&report);
    return flowconfig_dump(config);
}

/* ---- publisher_desired ---- */

static void
test_publisher_desired_absent_network_is_export_off(void **state)
{
    struct flowconfig config;
    char hash[FLOWCONFIG_HASH_SIZE], want[128];
    char *text = desired_text(NULL, &config);

    /* No protocol, no generation: appliers clear what they own.  No "version":
     * 1 is implied (flowconfig.h, writing rule). */
    sha256_of("{}", hash);
    snprintf(want, sizeof want, "{\"hash\":\"%s\"}", hash);
    assert_string_equal(text, want);
    assert_false(config.has_generation);
    free(text);
}

static void
test_publisher_desired_export_absent_null_or_empty_is_off(void **state)
{
    static const char *const specs[] = {
        "{\"defaultNetwork\": {\"type\": \"OVNKubernetes\"}}",
        "{\"exportNetworkFlows\": null}",
        "{\"exportNetworkFlows\": {}}",
        "{\"exportNetworkFlows\": {\"netFlow\": null}}",
    };
    char hash[FLOWCONFIG_HASH_SIZE], want[128];

    sha256_of("{}", hash);
    snprintf(want, sizeof want, "{\"generation\":3,\"hash\":\"%s\"}", hash);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        json_t *net = network(3, specs[i]);
        struct flowconfig config;
        char *text = desired_text(net, &config);

        assert_string_equal(text, want);
        free(text);
        json_decref(net);
    }
}

static void
test_publisher_desired_is_the_canonical_config(void **state)
{
    json_t *net = network(4, "{\"exportNetworkFlows\": {"
                             "\"netFlow\": [\"10.0.0.9:2056\", \"10.0.0.1:2056\"],"
                             "\"ipfix\": {\"collectors\": [\":4739\", \"[fd00::0005]:4739\"]}}}");
    const char *body =
        "\"netFlow\":{\"collectors\":[\"10.0.0.1:2056\",\"10.0.0.9:2056\"],"
        "\"activeTimeout\":60},"
        "\"ipfix\":{\"collectors\":[\"[fd00::5]:4739\",\":4739\"],"
        "\"cacheActiveTimeout\":60}";
    char canonical[1024], hash[FLOWCONFIG_HASH_SIZE], want[1200];
    struct flowconfig config;
    char *text = desired_text(net, &config);

    snprintf(canonical, sizeof canonical, "{%s}", body);
    sha256_of(canonical, hash);
    snprintf(want, sizeof want, "{\"generation\":4,\"hash\":\"%s\",%s}", hash, body);
    assert_string_equal(text, want);
    assert_string_equal(config.hash, hash);
    free(text);
    json_decref(net);
}

static void
test_publisher_desired_carries_the_tuning(void **state)
{
    json_t *net = network(1, "{\"exportNetworkFlows\": {\"sFlow\": [\"10.0.0.1:6343\"]}}");
    struct flowtuning saved = tuning;
    struct flowconfig config;
    char *text;

    assert_int_equal(flowtuning_set(&tuning, FLOWTUNING_SFLOW_SAMPLING, 1000), 0);
    snprintf(tuning.sflow_agent, sizeof tuning.sflow_agent, "eth0");
    text = desired_text(net, &config);
    assert_non_null(strstr(text, "\"sFlow\":{\"collectors\":[\"10.0.0.1:6343\"],"
                                 "\"agent\":\"eth0\",\"sampling\":1000}"));
    tuning = saved;
    free(text);
    json_decref(net);
}

/* What decides "no write": the hash ignores order, shape, spelling, unrelated
 * fields and the generation. */
static void
test_publisher_desired_same_meaning_same_hash(void **state)
{
    json_t *a = network(1, "{\"exportNetworkFlows\": {\"ipfix\": [\"10.0.0.1:4739\", "
                           "\"[fd00::0002]:4739\"]}}");
    json_t *b = network(9, "{\"serviceNetwork\": [\"172.30.0.0/16\"], "
                           "\"exportNetworkFlows\": {\"ipfix\": {\"collectors\": "
                           "[\"[fd00::2]:4739\", \"10.0.0.1:4739\"]}}}");
    json_t *c = network(10, "{\"exportNetworkFlows\": {\"ipfix\": [\"10.0.0.2:4739\"]}}");
    struct flowconfig ca, cb, cc;
    char *ta = desired_text(a, &ca), *tb = desired_text(b, &cb), *tc = desired_text(c, &cc);

    assert_string_equal(ca.hash, cb.hash);
    assert_int_equal(ca.generation, 1);
    assert_int_equal(cb.generation, 9);
    assert_string_not_equal(ca.hash, cc.hash);
    free(ta);
    free(tb);
    free(tc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void
test_publisher_desired_invalid_spec_is_refused(void **state)
{
    json_t *net = network(2, "{\"exportNetworkFlows\": {\"netFlow\": "
                             "[\"10.0.0.1:70000\", \"[fd00::1]:2056\"]}}");
    struct fielderr_list report;
    struct flowconfig config;
    char *summary;

    memset(&config, 0x5a, sizeof config);
    fielderr_list_init(&report);
    assert_int_equal(publisher_desired(net, NULL, &tuning, &config, &report, &report), -EINVAL);
    assert_int_equal(fielderr_list_count(&report), 2);
    summary = fielderr_list_summary(&report);
    assert_non_null(strstr(summary, "spec.exportNetworkFlows.netFlow[0]: Invalid value: "
                                    "\"10.0.0.1:70000\": port must be between 1 and 65535"));
    assert_non_null(strstr(summary, "netFlow[1]"));
    /* Nothing written on failure. */
    assert_int_equal(config.generation, (int64_t) 0x5a5a5a5a5a5a5a5a);
    free(summary);
    fielderr_list_release(&report);
    json_decref(net);
}

static void
test_publisher_desired_other_network_type_is_refused(void **state)
{
    json_t *net = network(2, "{\"defaultNetwork\": {\"type\": \"OpenShiftSDN\"}, "
                             "\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:2056\"]}}");
    struct fielderr_list report;
    struct flowconfig config;

    fielderr_list_init(&report);
    assert_int_equal(publisher_desired(net, NULL, &tuning, &config, &report, &report), -EINVAL);
    assert_int_equal(fielderr_list_count(&report), 1);
    assert_non_null(strstr(report.errors[0].field, "defaultNetwork"));
    fielderr_list_release(&report);
    json_decref(net);
}

/* ovs-flows-config: its target follows the Network's IPFIX collectors and its
 * numbers replace the IPFIX tuning; without it nothing of it is left. */
static void
test_publisher_desired_merges_ovs_flows_config(void **state)
{
    json_t *net = network(3, "{\"exportNetworkFlows\": {\"ipfix\": "
                             "{\"collectors\": [\"10.0.0.9:4739\"]}}}");
    json_t *flows = parse("{\"metadata\": {\"name\": \"ovs-flows-config\"}, \"data\": "
                          "{\"sharedTarget\": \"10.0.0.1:2055\", \"sampling\": \"100\", "
                          "\"cacheActiveTimeout\": \"2m\", \"cacheMaxFlows\": \"x\"}}");
    struct fielderr_list report, problems;
    struct flowconfig with, without;
    char *text;

    fielderr_list_init(&report);
    fielderr_list_init(&problems);
    assert_int_equal(publisher_desired(net, flows, &tuning, &with, &report, &problems), 0);
    assert_int_equal(fielderr_list_count(&report), 0);
    assert_int_equal(fielderr_list_count(&problems), 1);    /* cacheMaxFlows ignored */
    assert_string_equal(problems.errors[0].field, "data.cacheMaxFlows");
    text = flowconfig_dump(&with);
    assert_non_null(strstr(text, "\"ipfix\":{\"collectors\":[\"10.0.0.1:2055\","
                                 "\"10.0.0.9:4739\"],\"sampling\":100,"
                                 "\"cacheActiveTimeout\":120}"));
    free(text);
    free(desired_text(net, &without));
    assert_string_not_equal(with.hash, without.hash);
    assert_int_equal(without.spec.proto[FLOWPROTO_IPFIX].n, 1);
    fielderr_list_release(&report);
    fielderr_list_release(&problems);
    json_decref(flows);
    json_decref(net);
}

/* An invalid spec publishes nothing new, and the ConfigMap's problems are
 * still reported. */
static void
test_publisher_desired_reports_ovs_flows_config_with_invalid_spec(void **state)
{
    json_t *net = network(2, "{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:0\"]}}");
    json_t *flows = parse("{\"data\": {\"sharedTarget\": \"01.2.3.4:2055\"}}");
    struct fielderr_list report, problems;
    struct flowconfig config;

    fielderr_list_init(&report);
    fielderr_list_init(&problems);
    assert_int_equal(publisher_desired(net, flows, &tuning, &config, &report, &problems),
                     -EINVAL);
    assert_int_equal(fielderr_list_count(&report), 1);
    assert_int_equal(fielderr_list_count(&problems), 1);
    assert_string_equal(problems.errors[0].field, "data.sharedTarget");
    fielderr_list_release(&report);
    fielderr_list_release(&problems);
    json_decref(flows);
    json_decref(net);
}

/* ---- the ConfigMap ---- */

static void
desired_for(const char *spec, struct flowconfig *config)
{
    json_t *net = network(5, spec);
    char *text = desired_text(net, config);

    free(text);
    json_decref(net);
}

static const char *
data_text(const json_t *cm)
{
    return json_string_value(json_object_get(json_object_get(cm, "data"), "config.json"));
}

static void
test_publisher_configmap_new_publishes_config(void **state)
{
    struct flowconfig config, back;
    json_t *cm, *labels;
    char *text;

    desired_for("{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:2056\"]}}", &config);
    cm = publisher_configmap_new("exportflows", "exportflows-config", &config);
    assert_non_null(cm);
    assert_string_equal(json_string_value(json_object_get(cm, "kind")), "ConfigMap");
    assert_string_equal(json_string_value(json_object_get(cm, "apiVersion")), "v1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "metadata"),
                                                          "namespace")), "exportflows");
    labels = json_object_get(json_object_get(cm, "metadata"), "labels");
    assert_int_equal(json_object_size(labels), 2);
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/name")),
                        "exportflows");
    assert_string_equal(json_string_value(json_object_get(labels,
                                                          "app.kubernetes.io/component")),
                        "config");
    assert_int_equal(json_object_size(json_object_get(cm, "data")), 1);
    text = flowconfig_dump(&config);
    assert_string_equal(data_text(cm), text);
    assert_true(publisher_configmap_current(cm, &config));
    assert_int_equal(flowconfig_data_parse(json_object_get(cm, "data"), &back, NULL), 0);
    assert_true(flowconfig_same(&back, &config));
    assert_int_equal(back.generation, 5);
    free(text);
    json_decref(cm);
}

static void
set_data(json_t *cm, const char *text)
{
    json_object_set_new(json_object_get(cm, "data"), "config.json", json_string(text));
}

static void
test_publisher_configmap_current_needs_content_and_labels(void **state)
{
    struct flowconfig config, other;
    json_t *cm, *labels, *parsed;
    char *text, *spaced, *edited;
    struct errmsg err = { "" };

    desired_for("{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:2056\"]}}", &config);
    desired_for("{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.2:2056\"]}}", &other);
    assert_false(publisher_configmap_current(NULL, &config));

    cm = publisher_configmap_new("ns", "cm", &config);
    assert_false(publisher_configmap_current(cm, &other));

    /* The same content formatted differently is still current. */
    text = flowconfig_dump(&config);
    parsed = parse(text);
    spaced = json_dumps(parsed, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(parsed);
    set_data(cm, spaced);
    assert_true(publisher_configmap_current(cm, &config));

    /* Hand-edited content with the old hash is not. */
    edited = strdup(text);
    strstr(edited, "10.0.0.1")[7] = '9';
    set_data(cm, edited);
    assert_false(publisher_configmap_current(cm, &config));
    assert_int_equal(flowconfig_data_parse(json_object_get(cm, "data"), &other, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match the content"));

    /* A missing label, a wrong one, a missing key, a non-string. */
    set_data(cm, text);
    assert_true(publisher_configmap_current(cm, &config));
    labels = json_object_get(json_object_get(cm, "metadata"), "labels");
    json_object_set_new(labels, "app.kubernetes.io/component", json_string("other"));
    assert_false(publisher_configmap_current(cm, &config));
    json_object_del(labels, "app.kubernetes.io/component");
    assert_false(publisher_configmap_current(cm, &config));
    assert_int_equal(publisher_configmap_set(cm, &config), 0);
    assert_true(publisher_configmap_current(cm, &config));
    json_object_del(json_object_get(cm, "data"), "config.json");
    assert_false(publisher_configmap_current(cm, &config));
    assert_int_equal(flowconfig_data_parse(json_object_get(cm, "data"), &other, &err), -ENOENT);
    json_object_set_new(json_object_get(cm, "data"), "config.json", json_integer(1));
    assert_false(publisher_configmap_current(cm, &config));
    set_data(cm, "{\"netFlow\": ");
    assert_int_equal(flowconfig_data_parse(json_object_get(cm, "data"), &other, &err), -EINVAL);

    free(text);
    free(spaced);
    free(edited);
    json_decref(cm);
}

static void
test_publisher_configmap_set_keeps_what_is_not_ours(void **state)
{
    struct flowconfig config;
    json_t *cm = parse("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                       "{\"name\": \"cm\", \"resourceVersion\": \"42\", "
                       "\"labels\": {\"team\": \"net\", \"app.kubernetes.io/name\": \"x\"}, "
                       "\"annotations\": {\"note\": \"hi\"}}, "
                       "\"data\": {\"README\": \"by hand\", \"config.json\": \"{}\"}}");
    json_t *meta = json_object_get(cm, "metadata");
    char *text;

    desired_for("{\"exportNetworkFlows\": {\"ipfix\": [\"10.0.0.1:4739\"]}}", &config);
    assert_false(publisher_configmap_current(cm, &config));
    assert_int_equal(publisher_configmap_set(cm, &config), 0);
    assert_true(publisher_configmap_current(cm, &config));
    text = flowconfig_dump(&config);
    assert_string_equal(data_text(cm), text);
    assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "data"),
                                                          "README")), "by hand");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"),
                                                          "team")), "net");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"),
                                                          "app.kubernetes.io/name")),
                        "exportflows");
    assert_non_null(json_object_get(meta, "annotations"));
    /* The resourceVersion that was read stays: the update is guarded by it. */
    assert_string_equal(json_string_value(json_object_get(meta, "resourceVersion")), "42");
    free(text);

    /* A ConfigMap without data or labels gets them. */
    json_object_del(cm, "data");
    json_object_del(meta, "labels");
    assert_int_equal(publisher_configmap_set(cm, &config), 0);
    assert_true(publisher_configmap_current(cm, &config));
    json_decref(cm);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_desired_absent_network_is_export_off),
        cmocka_unit_test(test_publisher_desired_export_absent_null_or_empty_is_off),
        cmocka_unit_test(test_publisher_desired_is_the_canonical_config),
        cmocka_unit_test(test_publisher_desired_carries_the_tuning),
        cmocka_unit_test(test_publisher_desired_same_meaning_same_hash),
        cmocka_unit_test(test_publisher_desired_invalid_spec_is_refused),
        cmocka_unit_test(test_publisher_desired_other_network_type_is_refused),
        cmocka_unit_test(test_publisher_desired_merges_ovs_flows_config),
        cmocka_unit_test(test_publisher_desired_reports_ovs_flows_config_with_invalid_spec),
        cmocka_unit_test(test_publisher_configmap_new_publishes_config),
        cmocka_unit_test(test_publisher_configmap_current_needs_content_and_labels),
        cmocka_unit_test(test_publisher_configmap_set_keeps_what_is_not_ours),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
