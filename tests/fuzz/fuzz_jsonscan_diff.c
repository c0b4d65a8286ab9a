/* fuzz_jsonscan_diff — src/admission/jsonscan.c against jansson, on any bytes.
 *
 * jsonscan reads the webhook's request bodies in place of jansson, under the
 * rule that it agrees with jansson: same accept/reject (or it gives up), and
 * the values it reports are jansson's.  tests/lib/testjsondiff.c checks that
 * (the unit test runs the same check on its cases); a mismatch aborts.  The
 * paths are those the review reads, and short ones the fuzzer reaches fast. */
#include <jansson.h>

#include "exportflows/base/errmsg.h"
#include "fuzz.h"
#include "testjsondiff.h"

static const char *const p_root[] = { NULL };
static const char *const p_a[] = { "a", NULL };
static const char *const p_ab[] = { "a", "b", NULL };
static const char *const p_b[] = { "b", NULL };
static const char *const p_empty[] = { "", NULL };
static const char *const p_api_version[] = { "apiVersion", NULL };
static const char *const p_kind[] = { "kind", NULL };
static const char *const p_request[] = { "request", NULL };
static const char *const p_uid[] = { "request", "uid", NULL };
static const char *const p_operation[] = { "request", "operation", NULL };
static const char *const p_group[] = { "request", "resource", "group", NULL };
static const char *const p_resource[] = { "request", "resource", "resource", NULL };
static const char *const p_subresource[] = { "request", "subResource", NULL };
static const char *const p_name[] = { "request", "name", NULL };
static const char *const p_object[] = { "request", "object", NULL };
static const char *const p_object_name[] = { "request", "object", "metadata", "name", NULL };
static const char *const p_spec[] = { "request", "object", "spec", NULL };
static const char *const p_export[] = { "request", "object", "spec", "exportNetworkFlows",
                                        NULL };
static const char *const p_type[] = { "request", "object", "spec", "defaultNetwork", "type",
                                      NULL };
static const char *const p_old_export[] = { "request", "oldObject", "spec",
                                            "exportNetworkFlows", NULL };

static const char *const *const paths[] = {
    p_root, p_a, p_ab, p_b, p_empty, p_api_version, p_kind, p_request, p_uid, p_operation,
    p_group, p_resource, p_subresource, p_name, p_object, p_object_name, p_spec, p_export,
    p_type, p_old_export,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errmsg why;

    FUZZ_CHECK(testjsondiff_check((const char *) data, size, paths,
                                  sizeof paths / sizeof paths[0], NULL, &why) == 0,
               "jsonscan and jansson disagree: %s", why.text);
    return 0;
}
