/* Unit tests for admission_fast, the fast path of admission_review(): what it
 * reads from a scanned request, the spec as text or as a small tree, and each
 * kind of request it leaves to the tree path (-ENOTSUP).  That its reviews
 * equal the tree path's, byte for byte, is test_admission's job
 * (test_admission_fast_path_matches_tree_path*). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../../src/admission/admission_fast.h"

static const struct admission_fast_target target = {
    .api_version = "admission.k8s.io/v1", .group = "operator.openshift.io",
    .resource = "networks",
};

/* A request body: 'request' is the text of the request object's members. */
#define BODY(request) \
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"," \
    "\"request\":{" request "}}"
#define NETWORK "\"resource\":{\"group\":\"operator.openshift.io\",\"resource\":\"networks\"}"

/* Scans 'body' as admission.c does for the fast path and decodes it into 'f'
 * (initialised here; the caller releases it).  'v' must outlive 'f'. */
static int
decode(const char *body, struct jsonscan_value *v, struct admission_fast *f)
{
    admission_fast_init(f);
    assert_int_equal(jsonscan_fields(body, strlen(body), admission_field_paths, AF_FAST_N,
                                     v), 0);
    return admission_fast_decode(f, v, &target);
}

static void
test_admission_fast_reads_a_network_create_as_text(void **state)
{
    static const char body[] = BODY(
        "\"uid\":\"u-1\",\"operation\":\"CREATE\"," NETWORK ",\"name\":\"ignored\","
        "\"object\":{\"metadata\":{\"name\":\"cluster\"},\"spec\":{"
        "\"defaultNetwork\":{\"type\":\"OVNKubernetes\"},"
        "\"exportNetworkFlows\":{\"netFlow\":{\"collectors\":[\"192.0.2.1:2056\"]},"
        "\"ipfix\":[\"192.0.2.2:4739\",\"192.0.2.3:4739\"],\"sFlow\":null}}}");
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;
    const struct flowspec_text *t = &f.text_spec;

    assert_int_equal(decode(body, v, &f), 0);
    assert_string_equal(f.uid, "u-1");
    assert_string_equal(f.operation, "CREATE");
    assert_string_equal(f.name, "cluster");
    assert_true(f.checked);
    assert_false(f.has_old);
    assert_true(f.spec_as_text);
    assert_null(f.spec);
    assert_string_equal(t->network_type, "OVNKubernetes");
    assert_int_equal(t->proto[FLOWPROTO_NETFLOW].shape, FLOWSPEC_SHAPE_RELEASED);
    assert_int_equal(t->proto[FLOWPROTO_NETFLOW].n, 1);
    assert_string_equal(t->proto[FLOWPROTO_NETFLOW].items[0], "192.0.2.1:2056");
    assert_int_equal(t->proto[FLOWPROTO_IPFIX].shape, FLOWSPEC_SHAPE_LIST);
    assert_int_equal(t->proto[FLOWPROTO_IPFIX].n, 2);
    assert_string_equal(t->proto[FLOWPROTO_IPFIX].items[1], "192.0.2.3:4739");
    assert_int_equal(t->proto[FLOWPROTO_SFLOW].shape, FLOWSPEC_SHAPE_OFF);
    admission_fast_release(&f);
}

/* A spec shape flowspec_validate_text() does not take is handed over as a
 * tree of only what flowspec reads. */
static void
test_admission_fast_unusual_spec_becomes_a_small_tree(void **state)
{
    static const char body[] = BODY(
        "\"uid\":\"u-2\",\"operation\":\"CREATE\"," NETWORK ","
        "\"object\":{\"spec\":{\"clusterNetwork\":[{\"cidr\":\"10.128.0.0/14\"}],"
        "\"exportNetworkFlows\":{\"netFlow\":{\"collectors\":[5],\"x\":1}}}}");
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;
    json_t *expected = json_loads("{\"exportNetworkFlows\":{\"netFlow\":"
                                  "{\"collectors\":[5],\"x\":1}}}", 0, NULL);
    const json_t *spec = NULL;

    assert_int_equal(decode(body, v, &f), 0);
    assert_string_equal(f.name, "");
    assert_false(f.spec_as_text);
    assert_non_null(f.spec);
    assert_true(json_equal((json_t *) f.spec, expected));
    assert_int_equal(admission_fast_spec(&f, &spec), 0);
    assert_ptr_equal(spec, f.spec);
    json_decref(expected);
    admission_fast_release(&f);
}

/* oldObject's spec holds exportNetworkFlows alone, and is empty when it has
 * none; the new spec read as text gets its tree on demand. */
static void
test_admission_fast_update_builds_specs_on_demand(void **state)
{
    static const char body[] = BODY(
        "\"uid\":\"u-3\",\"operation\":\"UPDATE\"," NETWORK ","
        "\"object\":{\"spec\":{\"exportNetworkFlows\":{\"ipfix\":[\"bad\"]}}},"
        "\"oldObject\":{\"spec\":{\"mtu\":1400,\"exportNetworkFlows\":{\"ipfix\":[\"bad\"]}}}");
    static const char no_old_export[] = BODY(
        "\"uid\":\"u-4\",\"operation\":\"UPDATE\"," NETWORK ",\"object\":{\"spec\":{}},"
        "\"oldObject\":{\"spec\":\"not an object\"}");
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;
    json_t *expected = json_loads("{\"exportNetworkFlows\":{\"ipfix\":[\"bad\"]}}", 0, NULL);
    const json_t *spec = NULL, *old = NULL;

    assert_int_equal(decode(body, v, &f), 0);
    assert_true(f.has_old);
    assert_true(f.spec_as_text);
    assert_int_equal(admission_fast_spec(&f, &spec), 0);
    assert_true(json_equal((json_t *) spec, expected));
    assert_int_equal(admission_fast_old_spec(&f, &old), 0);
    assert_true(json_equal((json_t *) old, expected));
    admission_fast_release(&f);
    json_decref(expected);

    assert_int_equal(decode(no_old_export, v, &f), 0);
    assert_true(f.has_old);
    assert_int_equal(admission_fast_old_spec(&f, &old), 0);
    assert_int_equal(json_object_size(old), 0);
    admission_fast_release(&f);
}

/* Requests about something else are read, and marked unchecked. */
static void
test_admission_fast_reads_unchecked_requests(void **state)
{
    static const char *const bodies[] = {
        BODY("\"uid\":\"u\",\"operation\":\"DELETE\"," NETWORK),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\","
             "\"resource\":{\"group\":\"\",\"resource\":\"pods\"}"),
        BODY("\"uid\":\"u\",\"operation\":\"UPDATE\"," NETWORK ",\"subResource\":\"status\""),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\","
             "\"resource\":{\"group\":\"operator.openshift.io\",\"resource\":\"other\"}"),
    };
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        assert_int_equal(decode(bodies[i], v, &f), 0);
        assert_false(f.checked);
        assert_string_equal(f.uid, "u");
        admission_fast_release(&f);
    }
}

/* Everything the fast path leaves to the tree path, which words the error
 * or reads the rare shape. */
static void
test_admission_fast_gives_up_on_the_rest(void **state)
{
    char long_uid[600];
    static const char *const bodies[] = {
        "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\","
        "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Review\","
        "\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{}}}",
        BODY("\"uid\":\"\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{}"),
        BODY("\"uid\":5,\"operation\":\"CREATE\"," NETWORK ",\"object\":{}"),
        BODY("\"uid\":\"u\\u0000x\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{}"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\",\"object\":{}"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK ",\"object\":[]"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{\"spec\":7}"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\",\"resource\":{\"group\":\"\","
             "\"resource\":\"configmaps\"},\"object\":{}"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\",\"resource\":{\"group\":\"g\\u0000\","
             "\"resource\":\"networks\"},\"object\":{}"),
        BODY("\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK ",\"object\":{\"metadata\":"
             "{\"name\":\"a\\u0000b\"}}"),
    };
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        if (decode(bodies[i], v, &f) != -ENOTSUP) {
            fail_msg("read, not given up on: %s", bodies[i]);
        }
        admission_fast_release(&f);
    }
    /* A uid longer than its buffer (never sent by Kubernetes). */
    snprintf(long_uid, sizeof long_uid, BODY("\"uid\":\"%0*d\",\"operation\":\"CREATE\","
                                             NETWORK ",\"object\":{}"),
             ADMISSION_FAST_UID_SIZE, 0);
    assert_int_equal(decode(long_uid, v, &f), -ENOTSUP);
    admission_fast_release(&f);
}

/* The identity it matches is the caller's, not its own. */
static void
test_admission_fast_matches_the_given_target(void **state)
{
    static const char body[] = BODY("\"uid\":\"u\",\"operation\":\"CREATE\"," NETWORK
                                     ",\"object\":{}");
    static const struct admission_fast_target other = {
        .api_version = "admission.k8s.io/v1", .group = "example.com", .resource = "networks",
    };
    struct jsonscan_value v[AF_FAST_N];
    struct admission_fast f;

    admission_fast_init(&f);
    assert_int_equal(jsonscan_fields(body, strlen(body), admission_field_paths, AF_FAST_N,
                                     v), 0);
    assert_int_equal(admission_fast_decode(&f, v, &other), 0);
    assert_false(f.checked);
    admission_fast_release(&f);
    assert_int_equal(decode(body, v, &f), 0);
    assert_true(f.checked);
    admission_fast_release(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admission_fast_reads_a_network_create_as_text),
        cmocka_unit_test(test_admission_fast_unusual_spec_becomes_a_small_tree),
        cmocka_unit_test(test_admission_fast_update_builds_specs_on_demand),
        cmocka_unit_test(test_admission_fast_reads_unchecked_requests),
        cmocka_unit_test(test_admission_fast_gives_up_on_the_rest),
        cmocka_unit_test(test_admission_fast_matches_the_given_target),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
