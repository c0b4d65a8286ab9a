/* test_fielderr — formatting of Kubernetes-style field errors, the aggregate
 * summary, the caps on errors and warnings, value shortening, and that running
 * out of memory drops (and counts) instead of failing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/admission/fielderr.h"

#include "../../lib/testalloc.h"

static void
assert_formatted(const struct fielderr *e, const char *want)
{
    char *text = fielderr_format(e);

    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

static void
test_fielderr_formats_like_kubernetes(void **state)
{
    struct fielderr_list l;
    json_t *port = json_string("10.0.0.1:70000");
    json_t *dup = json_string("172.30.158.150:2056");
    json_t *list = json_pack("[iiiiiiiiiii]", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    json_t *type = json_string("OpenShiftSDN");
    json_t *number = json_integer(5);
    char *message;

    fielderr_list_init(&l);
    fielderr_add(&l, FIELDERR_INVALID, "spec.exportNetworkFlows.ipfix[0]", port,
                 "port must be between 1 and 65535");
    fielderr_add(&l, FIELDERR_DUPLICATE, "spec.exportNetworkFlows.netFlow[2]", dup,
                 "same as %s[%d]", "netFlow", 0);
    fielderr_add(&l, FIELDERR_REQUIRED, "spec.x", port, "must list %d", 1);
    fielderr_add(&l, FIELDERR_TOO_MANY, "spec.y", list, "must have at most 10 items");
    fielderr_add(&l, FIELDERR_NOT_SUPPORTED, "spec.defaultNetwork.type", type,
                 "supported values: \"OVNKubernetes\"");
    fielderr_add(&l, FIELDERR_FORBIDDEN, "spec.z", NULL, NULL);
    fielderr_add(&l, FIELDERR_TYPE_INVALID, "spec.w", number, "must be a string");
    fielderr_add(&l, FIELDERR_DUPLICATE, "spec.v", dup, NULL);
    fielderr_add(&l, FIELDERR_INVALID, "spec.u", NULL, "x");
    assert_int_equal(l.n_errors, 9);
    assert_formatted(&l.errors[0], "spec.exportNetworkFlows.ipfix[0]: Invalid value: "
                     "\"10.0.0.1:70000\": port must be between 1 and 65535");
    assert_formatted(&l.errors[1], "spec.exportNetworkFlows.netFlow[2]: Duplicate value: "
                     "\"172.30.158.150:2056\" (same as netFlow[0])");
    assert_formatted(&l.errors[2], "spec.x: Required value: must list 1");
    assert_formatted(&l.errors[3], "spec.y: Too many: 11: must have at most 10 items");
    assert_formatted(&l.errors[4], "spec.defaultNetwork.type: Unsupported value: "
                     "\"OpenShiftSDN\": supported values: \"OVNKubernetes\"");
    assert_formatted(&l.errors[5], "spec.z: Forbidden");
    assert_formatted(&l.errors[6], "spec.w: Invalid value: 5: must be a string");
    assert_formatted(&l.errors[7], "spec.v: Duplicate value: \"172.30.158.150:2056\"");
    assert_formatted(&l.errors[8], "spec.u: Invalid value: null: x");
    message = fielderr_message(&l.errors[0]);
    assert_string_equal(message, "Invalid value: \"10.0.0.1:70000\": "
                        "port must be between 1 and 65535");
    free(message);
    assert_null(l.errors[2].value);     /* Required has no value */
    fielderr_list_release(&l);
    assert_int_equal(l.n_errors, 0);
    fielderr_list_release(NULL);
    json_decref(port);
    json_decref(dup);
    json_decref(list);
    json_decref(type);
    json_decref(number);
}

static void
test_fielderr_labels_and_reasons(void **state)
{
    static const struct {
        enum fielderr_type type;
        const char *label, *reason;
    } want[] = {
        { FIELDERR_INVALID, "Invalid value", "FieldValueInvalid" },
        { FIELDERR_DUPLICATE, "Duplicate value", "FieldValueDuplicate" },
        { FIELDERR_REQUIRED, "Required value", "FieldValueRequired" },
        { FIELDERR_NOT_SUPPORTED, "Unsupported value", "FieldValueNotSupported" },
        { FIELDERR_FORBIDDEN, "Forbidden", "FieldValueForbidden" },
        { FIELDERR_TOO_MANY, "Too many", "FieldValueTooMany" },
        { FIELDERR_TYPE_INVALID, "Invalid value", "FieldValueTypeInvalid" },
    };

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(fielderr_type_label(want[i].type), want[i].label);
        assert_string_equal(fielderr_type_reason(want[i].type), want[i].reason);
    }
}

static void
test_fielderr_summary(void **state)
{
    struct fielderr_list l;
    json_t *v = json_string("a");
    char *s;

    fielderr_list_init(&l);
    s = fielderr_list_summary(&l);
    assert_string_equal(s, "");
    free(s);
    fielderr_add(&l, FIELDERR_INVALID, "f0", v, "d");
    s = fielderr_list_summary(&l);
    assert_string_equal(s, "f0: Invalid value: \"a\": d");
    free(s);
    fielderr_add(&l, FIELDERR_REQUIRED, "f1", NULL, NULL);
    s = fielderr_list_summary(&l);
    assert_string_equal(s, "[f0: Invalid value: \"a\": d, f1: Required value]");
    free(s);
    for (int i = 2; i < 53; i++) {
        fielderr_add(&l, FIELDERR_FORBIDDEN, "f", NULL, NULL);
    }
    assert_int_equal(l.n_errors, FIELDERR_MAX_ERRORS);
    assert_int_equal(l.n_dropped_errors, 3);
    assert_int_equal(fielderr_list_count(&l), 53);
    s = fielderr_list_summary(&l);
    assert_non_null(strstr(s, ", f: Forbidden, and 3 more]"));
    free(s);
    fielderr_list_release(&l);
    json_decref(v);
}

static void
test_fielderr_values_are_shortened(void **state)
{
    struct fielderr_list l;
    char long_text[301];
    json_t *s, *big = json_array(), *esc = json_string("a\"b\\c\nd\te\x01");
    json_t *utf8, *ctl;
    char ctl_text[41];

    memset(long_text, 'x', 300);
    long_text[300] = '\0';
    s = json_string(long_text);
    for (int i = 0; i < 100; i++) {
        json_array_append_new(big, json_integer(1000 + i));
    }
    /* 79 ASCII bytes then a 2-byte character across the 80-byte cut. */
    memset(long_text, 'y', 79);
    memcpy(long_text + 79, "\xc3\xa9zzz", 6);
    utf8 = json_string(long_text);
    memset(ctl_text, 1, 40);
    ctl_text[40] = '\0';
    ctl = json_string(ctl_text);
    fielderr_list_init(&l);
    fielderr_add(&l, FIELDERR_INVALID, "a", s, NULL);
    fielderr_add(&l, FIELDERR_INVALID, "b", big, NULL);
    fielderr_add(&l, FIELDERR_INVALID, "c", esc, NULL);
    fielderr_add(&l, FIELDERR_INVALID, "d", utf8, NULL);
    fielderr_add(&l, FIELDERR_INVALID, "e", ctl, NULL);
    assert_int_equal(strlen(l.errors[0].value), 1 + 80 + 4);
    assert_memory_equal(l.errors[0].value + 81, "...\"", 4);
    assert_true(strlen(l.errors[1].value) <= 96);
    assert_memory_equal(l.errors[1].value, "[1000,1001,", 11);
    assert_string_equal(l.errors[1].value + strlen(l.errors[1].value) - 3, "...");
    assert_string_equal(l.errors[2].value, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    assert_int_equal(strlen(l.errors[3].value), 1 + 79 + 4);  /* é not split */
    /* Escapes fill the buffer before 80 bytes of content: still well formed. */
    assert_true(strlen(l.errors[4].value) <= 96);
    assert_memory_equal(l.errors[4].value, "\"\\u0001", 7);
    assert_string_equal(l.errors[4].value + strlen(l.errors[4].value) - 4, "...\"");
    fielderr_list_release(&l);
    json_decref(s);
    json_decref(big);
    json_decref(esc);
    json_decref(utf8);
    json_decref(ctl);
}

static void
test_fielderr_warning_caps(void **state)
{
    struct fielderr_list l;
    char long_text[300];

    memset(long_text, 'w', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    fielderr_list_init(&l);
    fielderr_warn(&l, "%s is a loopback address", "127.0.0.1:6343");
    assert_int_equal(l.n_warnings, 1);
    assert_string_equal(l.warnings[0], "127.0.0.1:6343 is a loopback address");
    fielderr_warn(&l, "%s", long_text);
    assert_int_equal(strlen(l.warnings[1]), FIELDERR_WARNING_MAX);
    assert_string_equal(l.warnings[1] + FIELDERR_WARNING_MAX - 3, "...");
    while (l.n_dropped_warnings == 0) {
        fielderr_warn(&l, "%s", long_text);
    }
    assert_true(l.warning_bytes <= FIELDERR_WARNINGS_TOTAL_MAX);
    assert_true(l.warning_bytes + FIELDERR_WARNING_MAX > FIELDERR_WARNINGS_TOTAL_MAX);
    /* A short one still fits after a long one was dropped. */
    fielderr_warn(&l, "x");
    assert_string_equal(l.warnings[l.n_warnings - 1], "x");
    assert_int_equal(l.n_errors, 0);
    fielderr_list_release(&l);
}

/* fielderr_add() and fielderr_warn() never fail: out of memory, they count. */
static void
test_fielderr_enomem_counts_dropped(void **state)
{
    struct fielderr_list l;
    json_t *v = json_string("x");

    fielderr_list_init(&l);
    testalloc_hook(0);
    fielderr_add(&l, FIELDERR_INVALID, "f", v, "d");
    fielderr_warn(&l, "w");
    testalloc_hook(1);          /* the array, not the error's block */
    fielderr_add(&l, FIELDERR_INVALID, "f", v, "d");
    testalloc_hook(1);
    fielderr_add(&l, FIELDERR_INVALID, "g", v, "d");
    testalloc_unhook();
    assert_int_equal(l.n_errors, 1);
    assert_string_equal(l.errors[0].field, "g");
    assert_int_equal(l.n_dropped_errors, 2);
    assert_int_equal(fielderr_list_count(&l), 3);
    assert_int_equal(l.n_warnings, 0);
    assert_int_equal(l.n_dropped_warnings, 1);
    fielderr_list_release(&l);
    json_decref(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fielderr_formats_like_kubernetes),
        cmocka_unit_test(test_fielderr_labels_and_reasons),
        cmocka_unit_test(test_fielderr_summary),
        cmocka_unit_test(test_fielderr_values_are_shortened),
        cmocka_unit_test(test_fielderr_warning_caps),
        cmocka_unit_test(test_fielderr_enomem_counts_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
