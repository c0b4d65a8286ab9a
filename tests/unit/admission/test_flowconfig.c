/* test_flowconfig — the applier's input: strict parsing, canonical text, hash,
 * comparison.
 *
 * Data cases: tests/data/flowconfig/<case>/input.json is config text and
 * <case>/expected either "error: <errmsg text>" or "ok" then
 * "canonical: <flowconfig_dump()>" (re-parsing the canonical text must give the
 * same config).  EXPORTFLOWS_UPDATE_EXPECTED=1 rewrites the expected files.
 * The code tests pin the exact text and hash of the DESIGN.md example, the
 * comparison rules, the size cap and an allocation-failure loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/admission/flowconfig.h"
#include "../../lib/testalloc.h"
#include "../../lib/testutil.h"

#define DATA_DIR "tests/data/flowconfig"

static void
assert_roundtrip(const struct flowconfig *c)
{
    char *dump = flowconfig_dump(c);
    struct flowconfig again;
    struct errmsg err;
    char *dump2;

    assert_non_null(dump);
    if (flowconfig_parse(dump, strlen(dump), &again, &err)) {
        fail_msg("canonical text refused: %s: %s", err.text, dump);
    }
    assert_true(flowconfig_same(c, &again));
    assert_int_equal(again.has_generation, c->has_generation);
    assert_string_equal(again.hash, c->hash);
    dump2 = flowconfig_dump(&again);
    assert_string_equal(dump, dump2);
    free(dump);
    free(dump2);
}

/* "error: ..." or "ok\ncanonical: ...\n" for one config text. */
static char *
outcome(const char *text, size_t len)
{
    struct flowconfig c;
    struct errmsg err;
    char *result = NULL;
    char *dump;
    int rc = flowconfig_parse(text, len, &c, &err);

    if (rc) {
        assert_int_equal(rc, -EINVAL);
        assert_true(asprintf(&result, "error: %s\n", err.text) > 0);
        return result;
    }
    assert_roundtrip(&c);
    dump = flowconfig_dump(&c);
    assert_true(asprintf(&result, "ok\ncanonical: %s\n", dump) > 0);
    free(dump);
    return result;
}

static bool
run_case(const char *dir)
{
    char *in_path = testutil_path(dir, "input.json");
    char *want_path = testutil_path(dir, "expected");
    size_t len;
    char *text = testutil_read_file(in_path, &len);
    char *want = testutil_read_file(want_path, NULL);
    char *got;
    bool ok;

    assert_non_null(text);
    got = outcome(text, len);
    ok = want && !strcmp(want, got);
    if (!ok && getenv("EXPORTFLOWS_UPDATE_EXPECTED")) {
        assert_int_equal(testutil_write_file(want_path, got, strlen(got)), 0);
        ok = true;
    } else if (!ok) {
        print_error("case %s\n--- expected\n%s--- actual\n%s", dir,
                    want ? want : "(missing)\n", got);
    }
    free(in_path);
    free(want_path);
    free(text);
    free(want);
    free(got);
    return ok;
}

static void
test_flowconfig_data_cases(void **state)
{
    size_t n = 0, failed = testutil_run_cases(DATA_DIR, run_case, &n);

    assert_true(n >= 40);
    assert_int_equal(failed, 0);
}

/* The DESIGN.md example, built the way the publisher builds it. */
static void
design_config(struct flowconfig *ret, int64_t generation)
{
    static const char *const collectors[FLOWPROTO_N][3] = {
        { "172.30.158.150:2056" },
        { "172.30.158.150:6343" },
        { ":4739", "[fd00::5]:4739", "172.30.158.150:2055" },
    };
    struct flowspec spec;
    struct flowtuning tuning;

    memset(&spec, 0, sizeof spec);
    for (int p = 0; p < FLOWPROTO_N; p++) {
        for (size_t i = 0; i < 3 && collectors[p][i]; i++) {
            assert_int_equal(collector_parse(collectors[p][i],
                                             &spec.proto[p].items[i], NULL), 0);
            spec.proto[p].n++;
        }
    }
    flowtuning_init(&tuning);
    flowconfig_build(&spec, &tuning, generation, ret);
}

/* With the default tuning: only what ovnkube-node writes has a value. */
static const char design_text[] =
    "{"
    "\"netFlow\":{\"collectors\":[\"172.30.158.150:2056\"],\"activeTimeout\":60},"
    "\"sFlow\":{\"collectors\":[\"172.30.158.150:6343\"],\"agent\":\"ovn-k8s-mp0\"},"
    "\"ipfix\":{\"collectors\":[\"172.30.158.150:2055\",\"[fd00::5]:4739\",\":4739\"],"
    "\"cacheActiveTimeout\":60}}";

/* sha256 of design_text, computed with sha256sum. */
static const char design_hash[] =
    "sha256:3f20dccc29d61c5d6eedcc1589e4f191b0f80e84ec56a3270216769918da4be4";

/* The carried hash is returned as is; a config without one gets it computed. */
static void
test_flowconfig_hash_of_carried_or_computed(void **state)
{
    struct flowconfig c;
    char buf[FLOWCONFIG_HASH_SIZE] = "";

    (void) state;
    assert_string_equal(flowconfig_hash_of(NULL, buf), "");
    design_config(&c, 7);
    snprintf(c.hash, sizeof c.hash, "sha256:carried");
    assert_ptr_equal(flowconfig_hash_of(&c, buf), c.hash);
    assert_string_equal(buf, "");
    c.hash[0] = '\0';
    assert_ptr_equal(flowconfig_hash_of(&c, buf), buf);
    assert_string_equal(buf, design_hash);
}

static void
test_flowconfig_build_dump_hash(void **state)
{
    struct flowconfig c;
    char hash[FLOWCONFIG_HASH_SIZE];
    char *dump;
    char *want;

    design_config(&c, 7);
    assert_true(c.has_generation);
    assert_int_equal(c.generation, 7);
    assert_string_equal(c.hash, design_hash);
    flowconfig_hash(&c, hash);
    assert_string_equal(hash, design_hash);
    dump = flowconfig_dump(&c);
    assert_true(asprintf(&want, "{\"generation\":7,\"hash\":\"%s\",%s",
                         design_hash, design_text + strlen("{")) > 0);
    assert_string_equal(dump, want);
    free(dump);
    free(want);
    /* Without a generation, and the hash does not depend on it. */
    design_config(&c, -1);
    assert_false(c.has_generation);
    assert_string_equal(c.hash, design_hash);
    c.hash[0] = '\0';
    dump = flowconfig_dump(&c);
    assert_string_equal(dump, design_text);
    free(dump);
    assert_roundtrip(&c);
}

static void
test_flowconfig_to_json(void **state)
{
    struct flowconfig c;
    json_t *json;

    design_config(&c, 3);
    json = flowconfig_to_json(&c);
    assert_non_null(json);
    assert_int_equal(json_integer_value(json_object_get(json, "generation")), 3);
    assert_string_equal(json_string_value(json_object_get(json, "hash")), design_hash);
    /* Version 1 is implied by its absence (the writing rule). */
    assert_null(json_object_get(json, "version"));
    assert_null(json_object_get(json_object_get(json, "sFlow"), "sampling"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json, "ipfix"),
                                                        "cacheActiveTimeout")), 60);
    assert_int_equal(flowconfig_from_json(json, &c, NULL), 0);
    assert_int_equal(c.generation, 3);
    json_decref(json);
}

static void
test_flowconfig_same_rules(void **state)
{
    struct flowconfig a, b;

    design_config(&a, 1);
    design_config(&b, 2);
    assert_true(flowconfig_same(&a, &b));       /* generation ignored */
    b.hash[0] = '\0';
    assert_true(flowconfig_same(&a, &b));       /* hash ignored */
    assert_int_equal(flowtuning_set(&b.tuning, FLOWTUNING_IPFIX_SAMPLING, 1), 0);
    assert_false(flowconfig_same(&a, &b));
    /* Set to OVS's own default is still not the same as unset. */
    design_config(&b, 2);
    assert_int_equal(flowtuning_set(&b.tuning, FLOWTUNING_SFLOW_SAMPLING, 400), 0);
    assert_false(flowconfig_same(&a, &b));
    design_config(&b, 2);
    memcpy(b.tuning.sflow_agent, "eth0", 5);
    assert_false(flowconfig_same(&a, &b));
    design_config(&b, 2);
    b.spec.proto[FLOWPROTO_IPFIX].n = 2;
    assert_false(flowconfig_same(&a, &b));
    /* Tuning of a protocol that is off does not matter. */
    design_config(&a, 1);
    design_config(&b, 1);
    a.spec.proto[FLOWPROTO_NETFLOW].n = 0;
    b.spec.proto[FLOWPROTO_NETFLOW].n = 0;
    assert_int_equal(flowtuning_set(&b.tuning, FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT, 5), 0);
    assert_true(flowconfig_same(&a, &b));
    b.spec.proto[FLOWPROTO_NETFLOW].n = 1;
    assert_false(flowconfig_same(&a, &b));
}

/* The hash and text do not depend on the order of the collectors. */
static void
test_flowconfig_order_independent(void **state)
{
    static const char a[] = "{\"ipfix\":{\"collectors\":[\":1\",\"10.0.0.2:1\","
                            "\"10.0.0.1:1\"]}}";
    static const char b[] = "{\"ipfix\":{\"collectors\":[\"10.0.0.1:1\",\":1\","
                            "\"10.0.0.2:1\"]}}";
    struct flowconfig ca, cb;
    char ha[FLOWCONFIG_HASH_SIZE], hb[FLOWCONFIG_HASH_SIZE];

    assert_int_equal(flowconfig_parse(a, strlen(a), &ca, NULL), 0);
    assert_int_equal(flowconfig_parse(b, strlen(b), &cb, NULL), 0);
    assert_true(flowconfig_same(&ca, &cb));
    flowconfig_hash(&ca, ha);
    flowconfig_hash(&cb, hb);
    assert_string_equal(ha, hb);
}

static void
test_flowconfig_size_cap(void **state)
{
    size_t len = FLOWCONFIG_MAX_BYTES + 1;
    char *text = malloc(len);
    struct flowconfig c;
    struct errmsg err;

    assert_non_null(text);
    memset(text, ' ', len);
    text[0] = '{';
    text[len - 1] = '}';
    assert_int_equal(flowconfig_parse(text, len, &c, &err), -E2BIG);
    assert_string_equal(err.text, "config is 65537 bytes, more than the 65536 allowed");
    assert_int_equal(flowconfig_parse(text, len - 1, &c, &err), -EINVAL);
    text[len - 2] = '}';
    assert_int_equal(flowconfig_parse(text, len - 1, &c, &err), 0);
    free(text);
}

/* Each allocation of a parse fails in turn: a clean error (-ENOMEM, or -EINVAL
 * where jansson reports the failure as a syntax error) or a success, no crash,
 * no leak (the sanitizer build checks), '*ret' untouched on failure. */
static void
test_flowconfig_alloc_failures(void **state)
{
    struct flowconfig design, c;
    char *text;

    design_config(&design, 9);
    text = flowconfig_dump(&design);
    assert_non_null(text);
    for (size_t budget = 0;; budget++) {
        struct errmsg err;
        int rc;

        memset(&c, 0, sizeof c);
        testalloc_hook(budget);
        rc = flowconfig_parse(text, strlen(text), &c, &err);
        testalloc_unhook();
        if (rc == 0) {
            assert_true(flowconfig_same(&c, &design));
            assert_true(testalloc_count() <= budget);
            break;
        }
        /* jansson reports most allocation failures as syntax errors. */
        assert_true(rc == -ENOMEM || rc == -EINVAL);
        assert_true(strlen(err.text) > 0);
        assert_int_equal(c.generation, 0);
        assert_true(budget < 10000);
    }
    free(text);
}

/* The defaults are what ovnkube-node writes: three keys with a value. */
static void
test_flowconfig_defaults(void **state)
{
    struct flowtuning t;

    flowtuning_init(&t);
    assert_string_equal(t.sflow_agent, "ovn-k8s-mp0");
    assert_int_equal(t.set, (1u << FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT)
                            | (1u << FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT));
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT), 60);
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT), 60);
    for (int k = 0; k < FLOWTUNING_N_KEYS; k++) {
        if (k != FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT
            && k != FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT) {
            assert_false(flowtuning_is_set(&t, k));
            assert_int_equal(flowtuning_get(&t, k), 0);
        }
        assert_non_null(flowtuning_key_info(k)->when_unset);
    }
}

static void
test_flowconfig_tuning_set_unset(void **state)
{
    struct flowtuning t;

    flowtuning_init(&t);
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_SFLOW_SAMPLING, 0), -ERANGE);
    assert_false(flowtuning_is_set(&t, FLOWTUNING_SFLOW_SAMPLING));
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_SFLOW_HEADER, 257), -ERANGE);
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT, 4201),
                     -ERANGE);
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT), 60);
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_SFLOW_SAMPLING, 64), 0);
    assert_true(flowtuning_is_set(&t, FLOWTUNING_SFLOW_SAMPLING));
    assert_int_equal(flowtuning_get(&t, FLOWTUNING_SFLOW_SAMPLING), 64);
    flowtuning_unset(&t, FLOWTUNING_SFLOW_SAMPLING);
    assert_false(flowtuning_is_set(&t, FLOWTUNING_SFLOW_SAMPLING));
    /* cacheMaxFlows 0 is "no limit": the same as unset, as ovnkube-node has it. */
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_IPFIX_CACHE_MAX_FLOWS, 100), 0);
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_IPFIX_CACHE_MAX_FLOWS, 0), 0);
    assert_false(flowtuning_is_set(&t, FLOWTUNING_IPFIX_CACHE_MAX_FLOWS));
    /* An IPFIX cache timeout of 0 is a value: it is written. */
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT, 0), 0);
    assert_true(flowtuning_is_set(&t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT));
    assert_string_equal(flowtuning_key_info(FLOWTUNING_IPFIX_OBS_POINT_ID)->column,
                        "obs_point_id");
}

/* What was set travels in the text and the hash; what was not is absent. */
/* The agent rule the parser and the webhook's --sflow-agent share. */
static void
test_flowconfig_set_agent(void **state)
{
    static const char *const bad[] = { "", "a b", "eth0/1", "ovn\"k8s",
        "x123456789012345678901234567890123456789012345678901234567890123" };
    struct flowtuning t;

    flowtuning_init(&t);
    assert_int_equal(flowtuning_set_agent(&t, "10.0.0.1"), 0);
    assert_string_equal(t.sflow_agent, "10.0.0.1");
    assert_int_equal(flowtuning_set_agent(&t, "fe80::1"), 0);
    assert_int_equal(flowtuning_set_agent(&t, "br-ex.100_a"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(flowtuning_set_agent(&t, bad[i]), -EINVAL);
        assert_string_equal(t.sflow_agent, "br-ex.100_a");
    }
    /* 63 characters is the longest. */
    assert_int_equal(flowtuning_set_agent(&t, bad[4] + 1), 0);
}

static void
test_flowconfig_set_keys_in_text_and_hash(void **state)
{
    struct flowconfig a, b;
    struct flowtuning t;
    char *dump;

    design_config(&a, -1);
    t = a.tuning;
    assert_int_equal(flowtuning_set(&t, FLOWTUNING_SFLOW_SAMPLING, 400), 0);
    flowconfig_build(&a.spec, &t, -1, &b);
    assert_string_not_equal(a.hash, b.hash);
    dump = flowconfig_dump(&b);
    assert_non_null(strstr(dump, "\"agent\":\"ovn-k8s-mp0\",\"sampling\":400}"));
    free(dump);
    assert_roundtrip(&b);
    flowtuning_unset(&t, FLOWTUNING_SFLOW_SAMPLING);
    flowconfig_build(&a.spec, &t, -1, &b);
    assert_string_equal(a.hash, b.hash);
}

/* Unknown keys are ignored, counted, and the first one is named. */
static void
test_flowconfig_unknown_keys_ignored(void **state)
{
    static const char text[] =
        "{\"version\": 1, \"futureTop\": {\"x\": 1},"
        " \"sFlow\": {\"collectors\": [\"10.0.0.1:6343\"], \"sampleRate\": [1]},"
        " \"netflow\": 3}";
    struct flowconfig c;
    struct errmsg err;

    assert_int_equal(flowconfig_parse(text, strlen(text), &c, &err), 0);
    assert_int_equal(c.n_ignored, 3);
    assert_string_equal(c.first_ignored, "futureTop");
    assert_int_equal(c.spec.proto[FLOWPROTO_SFLOW].n, 1);
    assert_false(flowtuning_is_set(&c.tuning, FLOWTUNING_SFLOW_SAMPLING));
    /* None in the canonical text, which is what the publisher writes. */
    assert_roundtrip(&c);
}

/* The ConfigMap part: the payload under FLOWCONFIG_KEY, other keys left alone. */
static void
test_flowconfig_data_set_text_parse(void **state)
{
    json_t *data = json_pack("{s:s}", "README", "by hand");
    struct flowconfig c, back;
    const char *text;
    size_t len;
    char *dump;

    assert_string_equal(FLOWCONFIG_KEY, "config.json");
    design_config(&c, 7);
    assert_int_equal(flowconfig_data_set(data, &c), 0);
    assert_string_equal(json_string_value(json_object_get(data, "README")), "by hand");
    assert_int_equal(flowconfig_data_text(data, &text, &len), 0);
    dump = flowconfig_dump(&c);
    assert_string_equal(text, dump);
    assert_int_equal(len, strlen(dump));
    /* The writing rule: version 1 is implied, so never written. */
    assert_null(strstr(text, "version"));
    assert_int_equal(flowconfig_data_parse(data, &back, NULL), 0);
    assert_true(flowconfig_same(&back, &c));
    assert_string_equal(back.hash, c.hash);
    assert_int_equal(back.generation, 7);
    free(dump);
    json_decref(data);
}

static void
test_flowconfig_data_parse_refusals(void **state)
{
    json_t *data = json_object();
    struct flowconfig c, back;
    struct errmsg err = { "" };
    const char *text;
    size_t len;
    char *edited;

    assert_int_equal(flowconfig_data_text(NULL, &text, &len), -ENOENT);
    assert_int_equal(flowconfig_data_parse(NULL, &back, &err), -ENOENT);
    assert_int_equal(flowconfig_data_parse(data, &back, &err), -ENOENT);
    assert_string_equal(err.text, "no config.json in the configmap");
    json_object_set_new(data, FLOWCONFIG_KEY, json_integer(1));
    assert_int_equal(flowconfig_data_text(data, &text, &len), -ENOENT);
    assert_int_equal(flowconfig_data_parse(data, &back, &err), -ENOENT);

    /* Content edited under the writer's hash: the text parses, but a writer
     * must not take it for what it wrote. */
    design_config(&c, 1);
    edited = flowconfig_dump(&c);
    strstr(edited, "172.30.158.150:2056")[13] = '9';
    json_object_set_new(data, FLOWCONFIG_KEY, json_string(edited));
    assert_int_equal(flowconfig_parse(edited, strlen(edited), &back, NULL), 0);
    assert_int_equal(flowconfig_data_parse(data, &back, &err), -EINVAL);
    assert_non_null(strstr(err.text, "config.json: hash 'sha256:"));
    assert_non_null(strstr(err.text, "does not match the content"));

    json_object_set_new(data, FLOWCONFIG_KEY, json_string("{\"netFlow\": "));
    assert_int_equal(flowconfig_data_parse(data, &back, &err), -EINVAL);
    json_object_set_new(data, FLOWCONFIG_KEY, json_string("{\"version\": 2}"));
    assert_int_equal(flowconfig_data_parse(data, &back, &err), -EINVAL);
    assert_non_null(strstr(err.text, "newer than this program understands"));
    free(edited);
    json_decref(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flowconfig_data_cases),
        cmocka_unit_test(test_flowconfig_build_dump_hash),
        cmocka_unit_test(test_flowconfig_to_json),
        cmocka_unit_test(test_flowconfig_same_rules),
        cmocka_unit_test(test_flowconfig_order_independent),
        cmocka_unit_test(test_flowconfig_size_cap),
        cmocka_unit_test(test_flowconfig_alloc_failures),
        cmocka_unit_test(test_flowconfig_defaults),
        cmocka_unit_test(test_flowconfig_tuning_set_unset),
        cmocka_unit_test(test_flowconfig_set_agent),
        cmocka_unit_test(test_flowconfig_set_keys_in_text_and_hash),
        cmocka_unit_test(test_flowconfig_unknown_keys_ignored),
        cmocka_unit_test(test_flowconfig_data_set_text_parse),
        cmocka_unit_test(test_flowconfig_data_parse_refusals),
        cmocka_unit_test(test_flowconfig_hash_of_carried_or_computed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
