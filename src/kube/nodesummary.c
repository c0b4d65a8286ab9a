/* nodesummary — see include/exportflows/kube/nodesummary.h. */
#include "exportflows/kube/nodesummary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"

#define PREFIX_LEN (sizeof NODESTATUS_LEASE_PREFIX - 1)
/* One annotation's list: NODESUMMARY_SHOWN names with their errors, the
 * separators and the "and N more". */
#define LIST_MAX (NODESUMMARY_SHOWN * (NODESTATUS_NAME_MAX + NODESUMMARY_ERROR_SHOWN + 8) + 32)

void
nodesummary_init(struct nodesummary *s)
{
    memset(s, 0, sizeof *s);
}

void
nodesummary_release(struct nodesummary *s)
{
    free(s->behind);
    nodesummary_init(s);
}

/* ---- reading one Lease ---- */

static const char *
annotation(const json_t *lease, const char *key)
{
    const json_t *a = kube_meta(lease, "annotations");
    const char *v = json_string_value(json_object_get(a, key));

    return v ? v : "";
}

/* The node a Lease reports on, or NULL when it is not a node status Lease. */
static const char *
node_of(const json_t *lease)
{
    const char *name = kube_meta_string(lease, "name");

    if (!name || strncmp(name, NODESTATUS_LEASE_PREFIX, PREFIX_LEN) || !name[PREFIX_LEN]
        || strlen(name) >= NODESTATUS_NAME_MAX) {
        return NULL;
    }
    return name + PREFIX_LEN;
}

/* Copies 'msg' as printable ASCII ('?' for anything else): the Lease may have
 * been written by anyone, and annotation values and Event notes must be valid
 * UTF-8. */
static void
copy_printable(char *dst, size_t size, const char *msg)
{
    size_t i = 0;

    for (; msg[i] && i < size - 1; i++) {
        unsigned char c = (unsigned char) msg[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
    }
    dst[i] = '\0';
}

/* True when the Lease has a heartbeat and missed it: renewTime is older than
 * leaseDurationSeconds.  Writes the renewTime as text to 'renewed'. */
static bool
expired(const json_t *lease, int64_t now, const char **renewed)
{
    const json_t *spec = json_object_get(lease, "spec");
    const json_t *duration = json_object_get(spec, "leaseDurationSeconds");
    const char *renew = json_string_value(json_object_get(spec, "renewTime"));
    int64_t at;

    *renewed = renew;
    return json_is_integer(duration) && json_integer_value(duration) > 0 && renew
           && clock_parse_rfc3339(renew, &at) == 0
           && now - at > json_integer_value(duration);
}

/* Classifies one Lease into 'node'. */
static enum nodesummary_class
classify(const json_t *lease, const char *hash, int64_t now, struct nodesummary_node *node)
{
    const char *error = annotation(lease, NODESTATUS_ANNOTATION_ERROR);
    const char *renewed;

    node->error[0] = '\0';
    if (expired(lease, now, &renewed)) {
        snprintf(node->error, sizeof node->error,
                 "status not renewed since %.40s: the applier is not running or "
                 "cannot reach the API server", renewed);
        return NODESUMMARY_FAILED;
    }
    if (error[0] || !strcmp(annotation(lease, NODESTATUS_ANNOTATION_STATE), "Failed")) {
        copy_printable(node->error, sizeof node->error, error[0] ? error : "failed");
        return NODESUMMARY_FAILED;
    }
    if (!strcmp(annotation(lease, NODESTATUS_ANNOTATION_STATE), "Applied")
        && !strcmp(annotation(lease, NODESTATUS_ANNOTATION_IN_SYNC), "true")
        && (!hash[0] || !strcmp(annotation(lease, NODESTATUS_ANNOTATION_HASH), hash))) {
        return NODESUMMARY_IN_SYNC;
    }
    return NODESUMMARY_OUT_OF_SYNC;
}

/* ---- the fold ---- */

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct nodesummary_node *) a)->name,
                  ((const struct nodesummary_node *) b)->name);
}

/* When 'node' was first seen behind: in 'prev' if it was behind there. */
static int64_t
since(const struct nodesummary *prev, const char *name, int64_t now)
{
    struct nodesummary_node key, *found;

    if (!prev || !prev->n_behind) {
        return now;
    }
    snprintf(key.name, sizeof key.name, "%s", name);
    found = bsearch(&key, prev->behind, prev->n_behind, sizeof *prev->behind, by_name);
    return found ? found->since : now;
}

static void
note_apply_time(struct nodesummary *s, const json_t *lease)
{
    int64_t at;

    if (!clock_parse_rfc3339(annotation(lease, NODESTATUS_ANNOTATION_APPLY_TIME), &at)
        && (!s->oldest_apply_time || at < s->oldest_apply_time)) {
        s->oldest_apply_time = at;
    }
}

/* Adds one Lease to 's' ('s->behind' has room for it). */
static void
fold_one(struct nodesummary *s, const json_t *lease, const struct nodesummary *prev,
         int64_t now)
{
    struct nodesummary_node *node = &s->behind[s->n_behind];
    const char *name = node_of(lease);

    if (!name) {
        return;
    }
    s->total++;
    note_apply_time(s, lease);
    node->class = classify(lease, s->hash, now, node);
    if (node->class == NODESUMMARY_IN_SYNC) {
        s->in_sync++;
        return;
    }
    if (node->class == NODESUMMARY_FAILED) {
        s->failed++;
    } else {
        s->out_of_sync++;
    }
    snprintf(node->name, sizeof node->name, "%s", name);
    node->since = since(prev, name, now);
    s->n_behind++;
}

int
nodesummary_fold(const json_t *leases, const char *published_hash,
                 const struct nodesummary *prev, int64_t now, struct nodesummary *ret)
{
    struct nodesummary s;
    size_t n = json_is_array(leases) ? json_array_size(leases) : json_object_size(leases);
    const json_t *lease;
    const char *key;
    size_t i;

    nodesummary_init(&s);
    snprintf(s.hash, sizeof s.hash, "%s", published_hash ? published_hash : "");
    if (n) {
        s.behind = calloc(n, sizeof *s.behind);
        if (!s.behind) {
            return -ENOMEM;
        }
    }
    if (json_is_array(leases)) {
        json_array_foreach(leases, i, lease) {
            fold_one(&s, lease, prev, now);
        }
    } else {
        json_object_foreach((json_t *) leases, key, lease) {
            fold_one(&s, lease, prev, now);
        }
    }
    if (s.n_behind) {
        qsort(s.behind, s.n_behind, sizeof *s.behind, by_name);
    }
    *ret = s;
    return 0;
}

int64_t
nodesummary_behind_seconds(const struct nodesummary *s, int64_t now)
{
    int64_t oldest = now;

    for (size_t i = 0; i < s->n_behind; i++) {
        if (s->behind[i].since < oldest) {
            oldest = s->behind[i].since;
        }
    }
    return now - oldest;
}

/* ---- what it looks like ---- */

/* Lists up to NODESUMMARY_SHOWN nodes of 'class' into 'buf' (LIST_MAX bytes):
 * "n2: error; n3: error; and 2 more" with errors, "n4, n5 and 2 more" without. */
static void
list_nodes(const struct nodesummary *s, enum nodesummary_class class, bool errors,
           char *buf, size_t size)
{
    size_t shown = 0, count = class == NODESUMMARY_FAILED ? s->failed : s->out_of_sync;
    struct capbuf text;

    capbuf_init_fixed(&text, buf, size, CAPBUF_CUT);
    for (size_t i = 0; i < s->n_behind && shown < NODESUMMARY_SHOWN; i++) {
        const struct nodesummary_node *n = &s->behind[i];

        if (n->class != class) {
            continue;
        }
        if (errors) {
            capbuf_printf(&text, "%s%s: %.*s", shown ? "; " : "", n->name,
                          NODESUMMARY_ERROR_SHOWN, n->error);
        } else {
            capbuf_printf(&text, "%s%s", shown ? ", " : "", n->name);
        }
        shown++;
    }
    if (count > shown) {
        capbuf_printf(&text, "%s and %zu more", errors ? ";" : "", count - shown);
    }
}

json_t *
nodesummary_annotations(const struct nodesummary *s)
{
    char applied[48], failed[24], pending[24], when[CLOCK_RFC3339_MAX] = "";
    char *failing = malloc(LIST_MAX), *behind = malloc(LIST_MAX);
    json_t *obj = NULL;

    if (failing && behind) {
        snprintf(applied, sizeof applied, "%zu/%zu", s->in_sync, s->total);
        snprintf(failed, sizeof failed, "%zu", s->failed);
        snprintf(pending, sizeof pending, "%zu", s->out_of_sync);
        if (s->oldest_apply_time) {
            clock_format_rfc3339(s->oldest_apply_time, when);
        }
        list_nodes(s, NODESUMMARY_FAILED, true, failing, LIST_MAX);
        list_nodes(s, NODESUMMARY_OUT_OF_SYNC, false, behind, LIST_MAX);
        obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                        NODESUMMARY_ANNOTATION_HASH, s->hash,
                        NODESUMMARY_ANNOTATION_APPLIED, applied,
                        NODESUMMARY_ANNOTATION_FAILED, failed,
                        NODESUMMARY_ANNOTATION_PENDING, pending,
                        NODESUMMARY_ANNOTATION_FAILING_NODES, failing,
                        NODESUMMARY_ANNOTATION_PENDING_NODES, behind,
                        NODESUMMARY_ANNOTATION_OLDEST, when);
    }
    free(failing);
    free(behind);
    return obj;
}

bool
nodesummary_annotations_current(const json_t *annotations, const json_t *wanted)
{
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *) wanted, key, value) {
        if (!json_equal(json_object_get(annotations, key), (json_t *) value)) {
            return false;
        }
    }
    return true;
}

void
nodesummary_event(const struct nodesummary *s, const char **ret_type,
                  const char **ret_reason, char *message, size_t size)
{
    char *list = malloc(LIST_MAX);
    const char *hash = s->hash[0] ? s->hash : "the published config";

    *ret_type = s->failed ? "Warning" : "Normal";
    *ret_reason = s->failed ? NODESUMMARY_REASON_FAILING
                  : s->out_of_sync ? NODESUMMARY_REASON_PENDING : NODESUMMARY_REASON_APPLIED;
    if (!list) {
        snprintf(message, size, "%zu of %zu nodes applied %s", s->in_sync, s->total, hash);
        return;
    }
    if (s->failed) {
        list_nodes(s, NODESUMMARY_FAILED, true, list, LIST_MAX);
        snprintf(message, size, "%zu of %zu nodes applied %s, %zu failing: %s",
                 s->in_sync, s->total, hash, s->failed, list);
    } else if (s->out_of_sync) {
        list_nodes(s, NODESUMMARY_OUT_OF_SYNC, false, list, LIST_MAX);
        snprintf(message, size, "%zu of %zu nodes applied %s, %zu pending: %s",
                 s->in_sync, s->total, hash, s->out_of_sync, list);
    } else {
        snprintf(message, size, "%zu of %zu nodes applied %s", s->in_sync, s->total, hash);
    }
    free(list);
}
