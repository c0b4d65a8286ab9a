/* Unit tests for ovsdb_data: the monitor cache (insert, modify, delete,
 * malformed updates), datum comparison of sets and maps, and the check of a
 * transaction's results. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exportflows/ovs/ovsdb_data.h"

static void
test_ovsdb_data_cache_update_inserts_modifies_deletes(void **state)
{
    json_t *cache = json_object();
    json_t *u1 = json_loads("{\"NetFlow\":{\"u1\":{\"new\":{\"active_timeout\":60,"
                            "\"targets\":\"1.2.3.4:5\"}}}}", 0, NULL);
    json_t *u2 = json_loads("{\"NetFlow\":{\"u1\":{\"old\":{\"active_timeout\":60},"
                            "\"new\":{\"active_timeout\":30}}}}", 0, NULL);
    json_t *u3 = json_loads("{\"NetFlow\":{\"u1\":{\"old\":{}}}}", 0, NULL);
    json_t *bad = json_loads("{\"NetFlow\":[1]}", 0, NULL);
    struct errmsg err;
    json_t *row;

    assert_int_equal(ovsdb_cache_update(cache, u1, &err), 0);
    assert_int_equal(ovsdb_cache_update(cache, u2, &err), 0);
    row = json_object_get(json_object_get(cache, "NetFlow"), "u1");
    assert_int_equal(json_integer_value(json_object_get(row, "active_timeout")), 30);
    assert_string_equal(json_string_value(json_object_get(row, "targets")), "1.2.3.4:5");
    assert_int_equal(ovsdb_cache_update(cache, u3, &err), 0);
    assert_int_equal(json_object_size(json_object_get(cache, "NetFlow")), 0);
    assert_int_equal(ovsdb_cache_update(cache, bad, &err), -EPROTO);
    json_decref(cache);
    json_decref(u1);
    json_decref(u2);
    json_decref(u3);
    json_decref(bad);
}

static bool
datum_eq(const char *a, const char *b)
{
    json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL);
    json_t *jb = json_loads(b, JSON_DECODE_ANY, NULL);
    bool eq;

    assert_non_null(ja);
    assert_non_null(jb);
    eq = ovsdb_datum_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

static void
test_ovsdb_data_datum_equal_compares_sets_and_maps(void **state)
{
    assert_true(datum_eq("[\"set\",[\"a\",\"b\"]]", "[\"set\",[\"b\",\"a\"]]"));
    assert_true(datum_eq("\"a\"", "[\"set\",[\"a\"]]"));
    assert_true(datum_eq("[\"set\",[]]", "[\"map\",[]]"));
    assert_true(datum_eq("[\"uuid\",\"x\"]", "[\"set\",[[\"uuid\",\"x\"]]]"));
    assert_true(datum_eq("[\"map\",[[\"k\",\"v\"],[\"a\",\"b\"]]]",
                         "[\"map\",[[\"a\",\"b\"],[\"k\",\"v\"]]]"));
    assert_false(datum_eq("[\"set\",[\"a\",\"b\"]]", "[\"set\",[\"a\"]]"));
    assert_false(datum_eq("[\"set\",[]]", "5"));
    assert_false(datum_eq("5", "6"));
    assert_false(datum_eq("[\"map\",[[\"k\",\"v\"]]]", "[\"map\",[[\"k\",\"w\"]]]"));
}

static void
test_ovsdb_data_datum_elements_and_map_lookup(void **state)
{
    json_t *set = json_loads("[\"set\",[1,2,3]]", 0, NULL);
    json_t *atom = json_integer(7);
    json_t *map = json_loads("[\"map\",[[\"a\",\"x\"],[\"b\",5]]]", 0, NULL);

    assert_int_equal(ovsdb_datum_size(set), 3);
    assert_int_equal(json_integer_value(ovsdb_datum_at(set, 2)), 3);
    assert_null(ovsdb_datum_at(set, 3));
    assert_int_equal(ovsdb_datum_size(atom), 1);
    assert_ptr_equal(ovsdb_datum_at(atom, 0), atom);
    assert_null(ovsdb_datum_at(atom, 1));
    assert_string_equal(json_string_value(ovsdb_map_get(map, "a")), "x");
    assert_int_equal(json_integer_value(ovsdb_map_get(map, "b")), 5);
    assert_null(ovsdb_map_get(map, "c"));
    assert_null(ovsdb_map_get(set, "a"));
    assert_null(ovsdb_map_get(atom, "a"));
    json_decref(set);
    json_decref(atom);
    json_decref(map);
}

static void
test_ovsdb_data_transact_check_finds_the_failed_operation(void **state)
{
    json_t *ok = json_loads("[{}, {\"uuid\":[\"uuid\",\"x\"]}, {\"count\":1}]", 0, NULL);
    json_t *bad = json_loads("[{\"error\":\"timed out\",\"details\":\"wait\"}, null]", 0,
                             NULL);
    struct errmsg err;

    assert_int_equal(ovsdb_transact_check(ok, &err), 0);
    assert_int_equal(ovsdb_transact_check(bad, &err), -EIO);
    assert_string_equal(err.text, "operation 0 failed: timed out: wait");
    json_decref(ok);
    json_decref(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovsdb_data_cache_update_inserts_modifies_deletes),
        cmocka_unit_test(test_ovsdb_data_datum_equal_compares_sets_and_maps),
        cmocka_unit_test(test_ovsdb_data_datum_elements_and_map_lookup),
        cmocka_unit_test(test_ovsdb_data_transact_check_finds_the_failed_operation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
