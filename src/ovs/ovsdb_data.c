/* ovsdb_data — OVSDB values: the monitor cache, datum comparison and
 * transaction results.  See ovsdb_data.h. */
#include "exportflows/ovs/ovsdb_data.h"

#include <errno.h>
#include <string.h>

static int
cache_update_table(json_t *cache, const char *table, const json_t *rows,
                   struct errmsg *err)
{
    json_t *cached = json_object_get(cache, table);
    const char *uuid;
    json_t *update;

    if (!json_is_object(rows)) {
        return errmsg_set(err, -EPROTO, "table '%s' updates are not an object", table);
    }
    if (!cached) {
        cached = json_object();
        if (!cached || json_object_set_new(cache, table, cached) < 0) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    json_object_foreach((json_t *) rows, uuid, update) {
        json_t *new = json_object_get(update, "new");
        json_t *old_row = json_object_get(cached, uuid);

        if (!json_is_object(update) || (new && !json_is_object(new))) {
            return errmsg_set(err, -EPROTO, "malformed update of %s row %s", table, uuid);
        }
        if (!new) {
            json_object_del(cached, uuid);
        } else if (old_row) {
            /* Merge: monitor sends every column in "new", but merging also
             * keeps a row whole if a server sends only the changed ones. */
            json_object_update(old_row, new);
        } else if (json_object_set_new(cached, uuid, json_deep_copy(new)) < 0) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

int
ovsdb_cache_update(json_t *cache, const json_t *table_updates, struct errmsg *err)
{
    const char *table;
    json_t *rows;

    if (!json_is_object(table_updates)) {
        return errmsg_set(err, -EPROTO, "table updates are not an object");
    }
    json_object_foreach((json_t *) table_updates, table, rows) {
        int rc = cache_update_table(cache, table, rows, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ["set", [...]] or ["map", [...]]: the inner array; NULL for an atom. */
static const json_t *
datum_elements(const json_t *datum)
{
    const char *tag;

    if (!json_is_array(datum) || json_array_size(datum) != 2) {
        return NULL;
    }
    tag = json_string_value(json_array_get(datum, 0));
    if (tag && (!strcmp(tag, "set") || !strcmp(tag, "map"))
        && json_is_array(json_array_get(datum, 1))) {
        return json_array_get(datum, 1);
    }
    return NULL;
}

size_t
ovsdb_datum_size(const json_t *datum)
{
    const json_t *elems = datum_elements(datum);

    return elems ? json_array_size(elems) : 1;
}

const json_t *
ovsdb_datum_at(const json_t *datum, size_t i)
{
    const json_t *elems = datum_elements(datum);

    if (!elems) {
        return i == 0 ? datum : NULL;
    }
    return json_array_get(elems, i);
}

static bool
datum_contains(const json_t *datum, const json_t *elem)
{
    size_t n = ovsdb_datum_size(datum);

    for (size_t i = 0; i < n; i++) {
        if (json_equal((json_t *) ovsdb_datum_at(datum, i), (json_t *) elem)) {
            return true;
        }
    }
    return false;
}

bool
ovsdb_datum_equal(const json_t *a, const json_t *b)
{
    size_t n = ovsdb_datum_size(a);

    if (!a || !b || n != ovsdb_datum_size(b)) {
        return false;
    }
    /* OVSDB sets and maps hold no duplicates, so equal sizes plus containment
     * one way is equality. */
    for (size_t i = 0; i < n; i++) {
        if (!datum_contains(b, ovsdb_datum_at(a, i))) {
            return false;
        }
    }
    return true;
}

const json_t *
ovsdb_map_get(const json_t *map, const char *key)
{
    const json_t *elems = datum_elements(map);
    size_t i;
    json_t *pair;

    if (!elems) {
        return NULL;
    }
    json_array_foreach(elems, i, pair) {
        const char *k = json_string_value(json_array_get(pair, 0));
        if (k && !strcmp(k, key)) {
            return json_array_get(pair, 1);
        }
    }
    return NULL;
}

int
ovsdb_transact_check(const json_t *result, struct errmsg *err)
{
    size_t i;
    json_t *op;

    if (!json_is_array(result)) {
        return errmsg_set(err, -EIO, "transaction reply is not an array");
    }
    json_array_foreach(result, i, op) {
        const char *error = json_string_value(json_object_get(op, "error"));
        const char *details = json_string_value(json_object_get(op, "details"));

        if (error) {
            return errmsg_set(err, -EIO, "operation %zu failed: %s%s%s", i, error,
                              details ? ": " : "", details ? details : "");
        }
    }
    return 0;
}
