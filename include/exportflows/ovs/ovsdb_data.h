/* ovsdb_data — OVSDB values as the applier reads them (RFC 7047): the cache of
 * monitored rows, datum comparison, and the results of a transaction.
 *
 * Pure functions on jansson values: no I/O, no state of its own.  The values
 * come from ovsdb_session.h's replies and notifications, but this module does
 * not depend on it (nor it on this one): anything that holds a "monitor" reply
 * or an "update" notification can keep a cache with it.  ovsplan.h builds the
 * transactions from what it reads here.
 *
 * Every json_t argument is borrowed unless said otherwise; nothing here logs. */
#ifndef EXPORTFLOWS_OVSDB_DATA_H
#define EXPORTFLOWS_OVSDB_DATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "exportflows/base/errmsg.h"

/* Applies RFC 7047 <table-updates> (a monitor reply or the second element of an
 * "update" notification; borrowed) to 'cache', an object {table: {uuid: row}}
 * owned by the caller: a "new" row replaces the cached one (monitor sends all
 * monitored columns in "new"), a row without "new" is removed.  -EPROTO with a
 * message when the updates are malformed ('cache' may then be partially
 * updated: resync), -ENOMEM. */
int ovsdb_cache_update(json_t *cache, const json_t *table_updates,
                       struct errmsg *err);

/* True when two OVSDB datums (RFC 7047 5.1: an atom, ["set", [...]], ["map",
 * [[k, v], ...]], ["uuid", "..."]) hold the same value.  Sets and maps compare
 * regardless of order, and a one-element set equals its bare atom. */
bool ovsdb_datum_equal(const json_t *a, const json_t *b);

/* The number of elements of a datum (0 for an empty set or map, 1 for an atom),
 * and the i-th element (borrowed; for a map, the [key, value] pair). */
size_t ovsdb_datum_size(const json_t *datum);
const json_t *ovsdb_datum_at(const json_t *datum, size_t i);

/* The value of 'key' in a map datum (borrowed), or NULL. */
const json_t *ovsdb_map_get(const json_t *map, const char *key);

/* Checks the results of a "transact" reply against the operations sent: returns
 * 0 when every operation succeeded, else -EIO with the first error ("details" of
 * the failed operation included) in 'err'. */
int ovsdb_transact_check(const json_t *result, struct errmsg *err);

#endif
