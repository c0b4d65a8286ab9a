/* Unit tests for kubeevent: the core/v1 Event object built for a report (the API
 * server side is covered by tests/integration/test_publisher.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "exportflows/kube/kubeevent.h"

static const char *
str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_t *
network(void)
{
    return json_pack("{s:{s:s, s:s, s:s, s:i}}", "metadata", "name", "cluster",
                     "uid", "0b7c8e1e-1111-2222-3333-444455556666",
                     "resourceVersion", "812", "generation", 3);
}

static struct kubeevent
event_about(const json_t *object, const char *message, const char *instance)
{
    return (struct kubeevent) {
        .namespace = "default", .api_version = "operator.openshift.io/v1",
        .kind = "Network", .object = object, .type = "Warning",
        .reason = "InvalidExportNetworkFlows", .message = message,
        .component = "exportflows-publisher", .instance = instance,
    };
}

static void
test_kubeevent_build_names_the_object(void **state)
{
    json_t *net = network();
    struct kubeevent ev = event_about(net, "spec.exportNetworkFlows is invalid", "pod-1");
    json_t *obj = kubeevent_build(&ev, 1700000000);
    const json_t *ref = json_object_get(obj, "involvedObject");
    const json_t *meta = json_object_get(obj, "metadata");

    assert_non_null(obj);
    assert_string_equal(str(obj, "apiVersion"), "v1");
    assert_string_equal(str(obj, "kind"), "Event");
    assert_string_equal(str(meta, "generateName"), "cluster.");
    assert_string_equal(str(meta, "namespace"), "default");
    assert_string_equal(str(ref, "apiVersion"), "operator.openshift.io/v1");
    assert_string_equal(str(ref, "kind"), "Network");
    assert_string_equal(str(ref, "name"), "cluster");
    assert_string_equal(str(ref, "uid"), "0b7c8e1e-1111-2222-3333-444455556666");
    assert_string_equal(str(ref, "resourceVersion"), "812");
    /* Cluster-scoped: no namespace in the reference, as the API requires. */
    assert_null(json_object_get(ref, "namespace"));
    assert_string_equal(str(obj, "type"), "Warning");
    assert_string_equal(str(obj, "reason"), "InvalidExportNetworkFlows");
    assert_string_equal(str(obj, "message"), "spec.exportNetworkFlows is invalid");
    assert_string_equal(str(json_object_get(obj, "source"), "component"),
                        "exportflows-publisher");
    assert_string_equal(str(obj, "reportingComponent"), "exportflows-publisher");
    assert_string_equal(str(obj, "reportingInstance"), "pod-1");
    assert_string_equal(str(obj, "firstTimestamp"), "2023-11-14T22:13:20Z");
    assert_string_equal(str(obj, "lastTimestamp"), "2023-11-14T22:13:20Z");
    assert_int_equal(json_integer_value(json_object_get(obj, "count")), 1);
    json_decref(obj);
    json_decref(net);
}

static void
test_kubeevent_build_shortens_on_a_utf8_boundary(void **state)
{
    json_t *net = network();
    char message[KUBEEVENT_MESSAGE_MAX + 16], instance[300];
    struct kubeevent ev;
    json_t *obj;
    const char *got;

    /* 1023 ASCII bytes, then a 2-byte character that would straddle the limit. */
    memset(message, 'a', KUBEEVENT_MESSAGE_MAX - 1);
    memcpy(message + KUBEEVENT_MESSAGE_MAX - 1, "\xc3\xa9tail", sizeof "\xc3\xa9tail");
    memset(instance, 'i', sizeof instance - 1);
    instance[sizeof instance - 1] = '\0';
    ev = event_about(net, message, instance);
    obj = kubeevent_build(&ev, 0);
    assert_non_null(obj);
    got = str(obj, "message");
    assert_int_equal(strlen(got), KUBEEVENT_MESSAGE_MAX - 1);
    assert_int_equal(got[KUBEEVENT_MESSAGE_MAX - 2], 'a');
    assert_int_equal(strlen(str(obj, "reportingInstance")), KUBEEVENT_INSTANCE_MAX);
    json_decref(obj);
    json_decref(net);
}

static void
test_kubeevent_build_needs_a_name(void **state)
{
    json_t *nameless = json_pack("{s:{s:s}}", "metadata", "uid", "x");
    struct kubeevent ev = event_about(nameless, "m", "i");

    assert_null(kubeevent_build(&ev, 0));
    ev.object = NULL;
    assert_null(kubeevent_build(&ev, 0));
    json_decref(nameless);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeevent_build_names_the_object),
        cmocka_unit_test(test_kubeevent_build_shortens_on_a_utf8_boundary),
        cmocka_unit_test(test_kubeevent_build_needs_a_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
