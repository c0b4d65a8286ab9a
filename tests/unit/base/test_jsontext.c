/* Unit tests for jsontext: strings with a NUL byte inside are never read cut
 * short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "exportflows/base/jsontext.h"

static void
test_jsontext_reads_plain_strings(void **state)
{
    json_t *s = json_string("10.0.0.1:2056"), *empty = json_string("");

    assert_string_equal(jsontext_get(s), "10.0.0.1:2056");
    assert_false(jsontext_has_nul(s));
    assert_true(jsontext_is(s, "10.0.0.1:2056"));
    assert_false(jsontext_is(s, "10.0.0.1:205"));
    assert_false(jsontext_is(s, "10.0.0.1:20566"));
    assert_string_equal(jsontext_get(empty), "");
    assert_true(jsontext_is(empty, ""));
    json_decref(s);
    json_decref(empty);
}

static void
test_jsontext_refuses_a_nul_inside(void **state)
{
    json_t *tree = json_loads("[\"10.0.0.1:2056\\u0000junk\", \"\\u0000\", \"x\\u0000\"]",
                              JSON_ALLOW_NUL, NULL);
    json_t *cut = json_array_get(tree, 0), *only = json_array_get(tree, 1);
    json_t *last = json_array_get(tree, 2);

    assert_non_null(tree);
    /* What json_string_value() would hand out, cut at the NUL. */
    assert_string_equal(json_string_value(cut), "10.0.0.1:2056");
    assert_null(jsontext_get(cut));
    assert_true(jsontext_has_nul(cut));
    assert_false(jsontext_is(cut, "10.0.0.1:2056"));
    assert_null(jsontext_get(only));
    assert_false(jsontext_is(only, ""));
    assert_true(jsontext_has_nul(last));
    assert_false(jsontext_is(last, "x"));
    json_decref(tree);
}

static void
test_jsontext_other_values_are_no_text(void **state)
{
    json_t *number = json_integer(5);

    assert_null(jsontext_get(NULL));
    assert_null(jsontext_get(number));
    assert_false(jsontext_has_nul(NULL));
    assert_false(jsontext_has_nul(number));
    assert_false(jsontext_is(NULL, ""));
    assert_false(jsontext_is(number, "5"));
    json_decref(number);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsontext_reads_plain_strings),
        cmocka_unit_test(test_jsontext_refuses_a_nul_inside),
        cmocka_unit_test(test_jsontext_other_values_are_no_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
