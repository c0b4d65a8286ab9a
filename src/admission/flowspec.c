/* flowspec — validation and normalisation of spec.exportNetworkFlows; see
 * flowspec.h and DESIGN.md "Validation rules" 1-8.
 *
 * Choices the rules leave open:
 * - `exportNetworkFlows: {}` (and protocols that are all null) is allowed and means
 *   export is off: the released API accepts it, and refusing it would block
 *   clusters that already store it.  A protocol set to null is off as well.
 * - A protocol given as an object without "collectors" (`netFlow: {}`, or a null
 *   list, which the CRD prunes to the same) is off, as the CRD and the network
 *   operator treat it: allowed with a warning that says so, and it does not
 *   count as "configured" for rule 8.  An empty list is "Required value": rule
 *   3 asks for at least one collector (the CRD's minItems refuses it too).
 * - Each collector gets at most one error, the first that applies in this order:
 *   type, syntax (rule 4), unspecified/broadcast (rule 5), IPv6 under netFlow
 *   (rule 6), duplicate (rule 7).  Warnings go only to collectors without error.
 * - Protocols are checked in the fixed order netFlow, sFlow, ipfix, so the
 *   messages do not depend on key order; unknown keys are reported first.
 * - The normalised collectors are sorted (IPv4, IPv6, then :PORT; by address and
 *   port): OVS stores them as a set, so reordering the list changes nothing and
 *   must not change the published config or its hash.
 *
 * - An IPv4-mapped address ([::ffff:a.b.c.d]) is IPv6 text, so it is refused
 *   under netFlow; its scope is that of the IPv4 address it embeds.
 *
 * Valid input costs no allocation (a unit test counts): field paths are built
 * in stack buffers only when something is reported, and fielderr allocates only
 * for errors and warnings.
 *
 * Two entry points, one set of rules: flowspec_validate() walks jansson values,
 * flowspec_validate_text() the webhook's text (no tree to build); both hand each
 * list entry to check_item() as a 'struct item' and finish in
 * validation_finish(), and test_flowspec runs the data cases through both. */
#include "exportflows/admission/flowspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exportflows/base/jsontext.h"

/* Collectors remembered per protocol for duplicate detection.  A longer list is
 * already refused as "Too many"; its later entries still get syntax checks. */
#define FLOWSPEC_SCAN_MAX 64

/* Room for the longest field path built here (keys are shortened first). */
#define FLOWSPEC_PATH_SIZE 192
/* Unknown keys longer than this are shortened in field paths. */
#define FLOWSPEC_KEY_SHOWN 64

static const char *const proto_names[FLOWPROTO_N] = {
    [FLOWPROTO_NETFLOW] = "netFlow",
    [FLOWPROTO_SFLOW] = "sFlow",
    [FLOWPROTO_IPFIX] = "ipfix",
};

/* The protocols as people write them, for messages. */
static const char *const proto_titles[FLOWPROTO_N] = {
    [FLOWPROTO_NETFLOW] = "NetFlow",
    [FLOWPROTO_SFLOW] = "sFlow",
    [FLOWPROTO_IPFIX] = "IPFIX",
};

/* The field paths of each protocol's list, in either shape: static, so a
 * walk formats nothing unless it reports. */
static const char *const list_paths[FLOWPROTO_N] = {
    FLOWSPEC_FIELD ".netFlow", FLOWSPEC_FIELD ".sFlow", FLOWSPEC_FIELD ".ipfix",
};
static const char *const released_paths[FLOWPROTO_N] = {
    FLOWSPEC_FIELD ".netFlow.collectors", FLOWSPEC_FIELD ".sFlow.collectors",
    FLOWSPEC_FIELD ".ipfix.collectors",
};

const char *
flowproto_name(enum flowproto proto)
{
    return proto < FLOWPROTO_N ? proto_names[proto] : "unknown";
}

/* State of one flowspec_validate() call. */
struct validation {
    struct fielderr_list *report;
    bool configured;            /* some protocol is present and not null */
    struct flowspec out;        /* collectors without error, so far */
};

/* One protocol's list being checked. */
struct walk {
    struct validation *v;
    enum flowproto proto;
    const char *base;               /* full path of the list (static) */
    const char *rel;                /* the list's path relative to the spec field */
    size_t n_seen;
    struct collector seen[FLOWSPEC_SCAN_MAX];
    size_t seen_index[FLOWSPEC_SCAN_MAX];
};

/* One list entry as the rules read it, from either entry point: its text when
 * it is a string, and its JSON value when the caller has one (reports render
 * it; flowspec_validate_text() has none, so one is made for a report). */
struct item {
    const char *text;           /* NUL-terminated; NULL when not a string */
    size_t len;                 /* of 'text', NULs inside included */
    const json_t *json;         /* borrowed; NULL only when 'text' is set */
};

/* Writes 'key' into 'buf' for use in a field path: characters that would make
 * the message ambiguous or span lines become '?', and long keys end in "...". */
static void
format_key(const char *key, char buf[FLOWSPEC_KEY_SHOWN + 4])
{
    size_t n = 0;

    for (; key[n] && n < FLOWSPEC_KEY_SHOWN; n++) {
        unsigned char c = key[n];

        buf[n] = c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char) c : '?';
    }
    memcpy(buf + n, key[n] ? "..." : "", key[n] ? 4 : 1);
}

/* Reports 'key' of the object at 'base' as unknown, suggesting the accepted key
 * it matches when only letter case differs. */
static void
report_unknown_key(struct fielderr_list *report, const char *base,
                   const char *key, const char *const *accepted, size_t n,
                   const char *expected)
{
    char shown[FLOWSPEC_KEY_SHOWN + 4];
    char field[FLOWSPEC_PATH_SIZE];

    format_key(key, shown);
    snprintf(field, sizeof field, "%s.%s", base, shown);
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(key, accepted[i])) {
            fielderr_add(report, FIELDERR_FORBIDDEN, field, NULL,
                         "unknown field, did you mean \"%s\"?", accepted[i]);
            return;
        }
    }
    fielderr_add(report, FIELDERR_FORBIDDEN, field, NULL,
                 "unknown field, expected %s", expected);
}

/* A protocol that exports nothing: absent, null, or an object without
 * collectors and nothing else ({} or {"collectors": null}; the CRD prunes a
 * null list, so both are what the API server stores for "off"). */
static bool
is_off(const json_t *value)
{
    const json_t *list;

    if (!value || json_is_null(value)) {
        return true;
    }
    list = json_object_get(value, "collectors");
    return json_is_object(value) && (!list || json_is_null(list))
           && json_object_size(value) == (list ? 1u : 0u);
}

static ptrdiff_t
find_seen(const struct walk *w, const struct collector *c)
{
    for (size_t i = 0; i < w->n_seen; i++) {
        if (collector_equal(&w->seen[i], c)) {
            return (ptrdiff_t) i;
        }
    }
    return -1;
}

static void
remember(struct walk *w, const struct collector *c, size_t index)
{
    if (w->n_seen < FLOWSPEC_SCAN_MAX) {
        w->seen[w->n_seen] = *c;
        w->seen_index[w->n_seen++] = index;
    }
}

/* The path of entry 'index', built only when something is reported: formatting
 * it for every valid entry would be a good part of the cost of a valid spec. */
static const char *
item_field(const struct walk *w, size_t index, char buf[FLOWSPEC_PATH_SIZE])
{
    snprintf(buf, FLOWSPEC_PATH_SIZE, "%s[%zu]", w->base, index);
    return buf;
}

/* Reports 'detail' about entry 'index' with its value.  An entry given as text
 * gets a JSON string made for the report: errors are rare, trees are not. */
static void
report_item(const struct walk *w, size_t index, enum fielderr_type type,
            const struct item *item, const char *detail)
{
    char field[FLOWSPEC_PATH_SIZE];
    json_t *made = item->json ? NULL : json_stringn_nocheck(item->text, item->len);

    fielderr_add(w->v->report, type, item_field(w, index, field),
                 item->json ? item->json : made, "%s", detail);
    json_decref(made);
}

/* Warns when 'c' is also a collector of an earlier protocol (rule 7). */
static void
warn_other_protocols(const struct walk *w, size_t index, const struct collector *c)
{
    for (int p = 0; p < (int) w->proto; p++) {
        const struct flowspec_collectors *other = &w->v->out.proto[p];

        for (size_t i = 0; i < other->n; i++) {
            if (collector_equal(&other->items[i], c)) {
                char field[FLOWSPEC_PATH_SIZE], text[COLLECTOR_TEXT_SIZE];

                fielderr_warn(w->v->report, "%s: %s is also listed under %s",
                              item_field(w, index, field),
                              collector_format(c, text), proto_names[p]);
                return;
            }
        }
    }
}

/* Rules 5 and 6 on a parsed collector; returns the error detail or NULL. */
static const char *
check_destination(enum flowproto proto, const struct collector *c,
                  enum collector_scope scope)
{
    if (scope == COLLECTOR_SCOPE_UNSPECIFIED) {
        return "must not be the unspecified address";
    }
    if (scope == COLLECTOR_SCOPE_BROADCAST) {
        return "must not be the broadcast address";
    }
    if (proto == FLOWPROTO_NETFLOW && c->kind == COLLECTOR_IPV6) {
        return "NetFlow v5 carries IPv4 only: use an IPv4 address or :PORT";
    }
    return NULL;
}

/* Rules 4 to 6 on one collector's text: COLLECTOR_OK, or the kind of
 * failure with '*why' set; '*c' and '*scope' are written unless it is
 * COLLECTOR_SYNTAX (a destination error still names a collector, which
 * duplicate detection remembers). */
enum collector_check { COLLECTOR_OK, COLLECTOR_SYNTAX, COLLECTOR_DESTINATION };

static enum collector_check
check_collector_text(enum flowproto proto, const char *text, size_t len,
                     struct collector *c, enum collector_scope *scope, const char **why)
{
    if (strlen(text) != len) {
        *why = JSONTEXT_NUL_DETAIL;     /* collector_parse() would read it cut short */
        return COLLECTOR_SYNTAX;
    }
    if (collector_parse(text, c, why)) {
        return COLLECTOR_SYNTAX;
    }
    *scope = collector_scope(c);
    *why = check_destination(proto, c, *scope);
    return *why ? COLLECTOR_DESTINATION : COLLECTOR_OK;
}

int
flowspec_check_collector(enum flowproto proto, const char *text, size_t len,
                         struct collector *ret, enum collector_scope *ret_scope,
                         const char **why)
{
    struct collector c;
    enum collector_scope scope;

    if (check_collector_text(proto, text, len, &c, &scope, why) != COLLECTOR_OK) {
        return -EINVAL;
    }
    *ret = c;
    *ret_scope = scope;
    return 0;
}

/* Records a collector without error in the normalised spec and warns about it
 * where rules 5 and 7 ask for a warning. */
static void
accept_item(struct walk *w, size_t index, const struct collector *c,
            enum collector_scope scope)
{
    struct flowspec_collectors *out = &w->v->out.proto[w->proto];

    if (scope != COLLECTOR_SCOPE_UNICAST) {
        char field[FLOWSPEC_PATH_SIZE], text[COLLECTOR_TEXT_SIZE];

        fielderr_warn(w->v->report, "%s: %s is %s", item_field(w, index, field),
                      collector_format(c, text), collector_scope_name(scope));
    }
    warn_other_protocols(w, index, c);
    if (out->n < FLOWSPEC_MAX_COLLECTORS) {
        out->items[out->n++] = *c;
    }
}

static void
report_duplicate(const struct walk *w, size_t index, const struct item *item,
                 size_t earlier)
{
    char detail[FLOWSPEC_PATH_SIZE];

    snprintf(detail, sizeof detail, "same as %s[%zu]", w->rel, earlier);
    report_item(w, index, FIELDERR_DUPLICATE, item, detail);
}

static void
check_item(struct walk *w, size_t index, const struct item *item)
{
    struct collector c;
    enum collector_scope scope = COLLECTOR_SCOPE_UNICAST;
    enum collector_check verdict;
    const char *why = NULL;
    ptrdiff_t dup;

    if (!item->text) {
        report_item(w, index, FIELDERR_TYPE_INVALID, item, "must be a string");
        return;
    }
    verdict = check_collector_text(w->proto, item->text, item->len, &c, &scope, &why);
    if (verdict == COLLECTOR_SYNTAX) {
        report_item(w, index, FIELDERR_INVALID, item, why);
        return;
    }
    dup = find_seen(w, &c);
    remember(w, &c, index);
    if (verdict == COLLECTOR_DESTINATION) {
        report_item(w, index, FIELDERR_INVALID, item, why);
    } else if (dup >= 0) {
        report_duplicate(w, index, item, w->seen_index[dup]);
    } else {
        accept_item(w, index, &c, scope);
    }
}

/* Rule 3 on a list of 'n' entries ('list' renders it; NULL only when 'n' is
 * at most FLOWSPEC_MAX_COLLECTORS).  False when the entries need no check. */
static bool
check_count(struct walk *w, size_t n, const json_t *list)
{
    if (n == 0) {
        fielderr_add(w->v->report, FIELDERR_REQUIRED, w->base, NULL,
                     "must list 1 to %d collectors", FLOWSPEC_MAX_COLLECTORS);
        return false;
    }
    if (n > FLOWSPEC_MAX_COLLECTORS) {
        fielderr_add(w->v->report, FIELDERR_TOO_MANY, w->base, list,
                     "must have at most %d items", FLOWSPEC_MAX_COLLECTORS);
    }
    return true;
}

/* Rule 3, then every entry: the list of one protocol, in either shape. */
static void
check_list(struct walk *w, const json_t *list)
{
    size_t n = json_array_size(list);

    if (!check_count(w, n, list)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *json = json_array_get(list, i);
        struct item item = { json_string_value(json), json_string_length(json), json };

        check_item(w, i, &item);
    }
}

/* Unknown keys of a protocol in the released shape: {collectors: ...} and
 * nothing else. */
static void
check_released_keys(struct fielderr_list *report, enum flowproto proto,
                    const json_t *object)
{
    static const char *const accepted[] = { "collectors" };
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *) object, key, value) {
        if (strcmp(key, "collectors")) {
            report_unknown_key(report, list_paths[proto], key, accepted, 1,
                               "\"collectors\"");
        }
    }
}

/* A protocol object without collectors: that protocol is off. */
static void
warn_no_collectors(struct validation *v, enum flowproto proto)
{
    fielderr_warn(v->report, "%s: no collectors, so %s export is off",
                  list_paths[proto], proto_titles[proto]);
}

/* The list of the released shape, which is present and not null. */
static void
check_released(struct walk *w, const json_t *list)
{
    w->base = released_paths[w->proto];
    if (!json_is_array(list)) {
        fielderr_add(w->v->report, FIELDERR_TYPE_INVALID, w->base, list,
                     "must be a list of strings");
    } else {
        check_list(w, list);
    }
}

/* Starts the walk of a protocol that is present and not null, given as
 * {collectors: [...]} ('released') or as a bare list. */
static void
walk_init(struct walk *w, struct validation *v, enum flowproto proto, bool released)
{
    static const char *const released_rel[FLOWPROTO_N] = {
        "netFlow.collectors", "sFlow.collectors", "ipfix.collectors",
    };

    v->configured = true;
    w->v = v;
    w->proto = proto;
    w->n_seen = 0;
    w->rel = released ? released_rel[proto] : proto_names[proto];
    w->base = list_paths[proto];
}

static void
check_protocol(struct validation *v, enum flowproto proto, const json_t *value)
{
    const json_t *list = json_object_get(value, "collectors");
    struct walk w;

    if (!value || json_is_null(value)) {
        return;
    }
    if (json_is_object(value)) {
        check_released_keys(v->report, proto, value);
        if (!list || json_is_null(list)) {
            warn_no_collectors(v, proto);
            return;
        }
    }
    walk_init(&w, v, proto, json_is_object(value));
    if (json_is_array(value)) {
        check_list(&w, value);
    } else if (json_is_object(value)) {
        check_released(&w, list);
    } else {
        fielderr_add(v->report, FIELDERR_TYPE_INVALID, w.base, value,
                     "must be a list of collector strings or an object with "
                     "a \"collectors\" list");
    }
}

static bool
is_protocol_key(const char *key)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (!strcmp(key, proto_names[p])) {
            return true;
        }
    }
    return false;
}

/* Rule 1 (keys), then rules 2-7 for each protocol. */
static void
check_export(struct validation *v, const json_t *export)
{
    const char *key;
    const json_t *value;

    if (!json_is_object(export)) {
        fielderr_add(v->report, FIELDERR_TYPE_INVALID, FLOWSPEC_FIELD, export,
                     "must be an object with netFlow, sFlow or ipfix");
        return;
    }
    json_object_foreach((json_t *) export, key, value) {
        if (!is_protocol_key(key)) {
            report_unknown_key(v->report, FLOWSPEC_FIELD, key, proto_names,
                               FLOWPROTO_N, "\"netFlow\", \"sFlow\" or \"ipfix\"");
        }
    }
    for (int p = 0; p < FLOWPROTO_N; p++) {
        check_protocol(v, (enum flowproto) p, json_object_get(export, proto_names[p]));
    }
}

/* Rule 8: flows are exported by OVN-Kubernetes only.  'text' is the type's
 * text when it is a string without a NUL byte; 'json' the type (NULL when
 * absent, or when 'text' comes without one: one is then made for the
 * report). */
static void
check_network_type(struct validation *v, const char *text, const json_t *json)
{
    json_t *made;

    if ((!text && !json) || (text && !strcmp(text, "OVNKubernetes"))) {
        return;
    }
    made = json ? NULL : json_string_nocheck(text);
    fielderr_add(v->report, FIELDERR_NOT_SUPPORTED, "spec.defaultNetwork.type",
                 json ? json : made, "supported values: \"OVNKubernetes\" when "
                 FLOWSPEC_FIELD " is set");
    json_decref(made);
}

static void
check_spec_network_type(struct validation *v, const json_t *spec)
{
    const json_t *type = json_object_get(json_object_get(spec, "defaultNetwork"),
                                         "type");

    if (jsontext_has_nul(type)) {
        fielderr_add(v->report, FIELDERR_INVALID, "spec.defaultNetwork.type", type,
                     JSONTEXT_NUL_DETAIL);
        return;
    }
    check_network_type(v, json_string_value(type), type);
}

static int
compare_collectors(const void *a_, const void *b_)
{
    const struct collector *a = a_, *b = b_;
    int cmp;

    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    cmp = memcmp(a->addr, b->addr, sizeof a->addr);
    return cmp ? cmp : (a->port > b->port) - (a->port < b->port);
}

/* Insertion sort: at most FLOWSPEC_MAX_COLLECTORS items, where qsort()'s
 * set-up and indirect calls cost more than the sort (the webhook sorts three
 * lists per review). */
void
flowspec_sort_collectors(struct flowspec_collectors *cs)
{
    for (size_t i = 1; i < cs->n && i < FLOWSPEC_MAX_COLLECTORS; i++) {
        struct collector c = cs->items[i];
        size_t j = i;

        for (; j > 0 && compare_collectors(&cs->items[j - 1], &c) > 0; j--) {
            cs->items[j] = cs->items[j - 1];
        }
        cs->items[j] = c;
    }
}

void
flowspec_sort(struct flowspec *spec)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        flowspec_sort_collectors(&spec->proto[p]);
    }
}

/* The result of a validation: -EINVAL when it reported an error, else 0 and
 * the normalised spec in '*ret'. */
static int
validation_finish(struct validation *v, size_t errors_before, struct flowspec *ret)
{
    if (fielderr_list_count(v->report) != errors_before) {
        return -EINVAL;
    }
    flowspec_sort(&v->out);
    *ret = v->out;
    return 0;
}

int
flowspec_validate(const json_t *spec, struct fielderr_list *report,
                  struct flowspec *ret)
{
    struct validation v;
    size_t errors_before = fielderr_list_count(report);
    const json_t *export;

    memset(&v, 0, sizeof v);
    v.report = report;
    if (spec && !json_is_object(spec)) {
        fielderr_add(report, FIELDERR_TYPE_INVALID, "spec", spec,
                     "must be an object");
        return -EINVAL;
    }
    export = json_object_get(spec, "exportNetworkFlows");
    if (export && !json_is_null(export)) {
        check_export(&v, export);
        if (v.configured) {
            check_spec_network_type(&v, spec);
        }
    }
    return validation_finish(&v, errors_before, ret);
}

/* One protocol of flowspec_validate_text(), with the rules check_protocol()
 * applies to a list of strings. */
static void
check_text_protocol(struct validation *v, enum flowproto proto,
                    const struct flowspec_text_list *list)
{
    struct walk w;

    if (list->shape == FLOWSPEC_SHAPE_OFF) {
        return;
    }
    if (list->shape == FLOWSPEC_SHAPE_NO_COLLECTORS) {
        warn_no_collectors(v, proto);
        return;
    }
    walk_init(&w, v, proto, list->shape == FLOWSPEC_SHAPE_RELEASED);
    if (list->shape == FLOWSPEC_SHAPE_RELEASED) {
        w.base = released_paths[proto];
    }
    if (!check_count(&w, list->n, NULL)) {
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        struct item item = { list->items[i], strlen(list->items[i]), NULL };

        check_item(&w, i, &item);
    }
}

int
flowspec_validate_text(const struct flowspec_text *spec, struct fielderr_list *report,
                       struct flowspec *ret)
{
    struct validation v;
    size_t errors_before = fielderr_list_count(report);

    memset(&v, 0, sizeof v);
    v.report = report;
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (spec->proto[p].n > FLOWSPEC_MAX_COLLECTORS) {
            return -E2BIG;
        }
    }
    for (int p = 0; p < FLOWPROTO_N; p++) {
        check_text_protocol(&v, (enum flowproto) p, &spec->proto[p]);
    }
    if (v.configured) {
        check_network_type(&v, spec->network_type, NULL);
    }
    return validation_finish(&v, errors_before, ret);
}

/* ---- flowspec_same(): semantic comparison, also of invalid values ---- */

/* One list entry reduced to what it means: a collector when it parses, else
 * its raw JSON. */
struct meaning {
    bool parsed;
    struct collector c;
    const json_t *raw;
};

static void
meaning_of(const json_t *item, struct meaning *m)
{
    m->raw = item;
    m->parsed = jsontext_get(item) && collector_parse(jsontext_get(item), &m->c, NULL) == 0;
}

static bool
same_meaning(const struct meaning *a, const struct meaning *b)
{
    if (a->parsed != b->parsed) {
        return false;
    }
    return a->parsed ? collector_equal(&a->c, &b->c) : json_equal(a->raw, b->raw);
}

/* Lists compare as multisets, because OVS stores a set; past
 * FLOWSPEC_SCAN_MAX entries (invalid anyway) they compare in order. */
static bool
same_list(const json_t *a, const json_t *b)
{
    struct meaning ma[FLOWSPEC_SCAN_MAX], mb[FLOWSPEC_SCAN_MAX];
    bool used[FLOWSPEC_SCAN_MAX] = { false };
    size_t n = json_array_size(a);

    if (n != json_array_size(b)) {
        return false;
    }
    if (n > FLOWSPEC_SCAN_MAX) {
        return json_equal(a, b);
    }
    for (size_t i = 0; i < n; i++) {
        meaning_of(json_array_get(a, i), &ma[i]);
        meaning_of(json_array_get(b, i), &mb[i]);
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;

        while (j < n && (used[j] || !same_meaning(&ma[i], &mb[j]))) {
            j++;
        }
        if (j == n) {
            return false;
        }
        used[j] = true;
    }
    return true;
}

/* The collector list of a protocol value in either shape, or NULL. */
static const json_t *
list_of(const json_t *proto)
{
    if (json_is_array(proto)) {
        return proto;
    }
    if (json_is_object(proto) && json_object_size(proto) == 1) {
        const json_t *list = json_object_get(proto, "collectors");

        return json_is_array(list) ? list : NULL;
    }
    return NULL;
}

static bool
same_protocol(const json_t *a, const json_t *b)
{
    const json_t *la = list_of(a), *lb = list_of(b);

    if (is_off(a) || is_off(b)) {
        return is_off(a) && is_off(b);
    }
    if (la && lb) {
        return same_list(la, lb);
    }
    return json_equal(a, b);
}

/* Every key of 'a' means the same in 'b'; absent and null protocols are equal. */
static bool
keys_same(const json_t *a, const json_t *b)
{
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *) a, key, value) {
        const json_t *other = json_object_get(b, key);

        if (is_protocol_key(key) ? !same_protocol(value, other)
                                 : !other || !json_equal(value, other)) {
            return false;
        }
    }
    return true;
}

/* Export is off: absent, null, or an object whose keys are all protocols that
 * are off (is_off()). */
static bool
export_off(const json_t *export)
{
    const char *key;
    const json_t *value;

    if (!export || json_is_null(export)) {
        return true;
    }
    if (!json_is_object(export)) {
        return false;
    }
    json_object_foreach((json_t *) export, key, value) {
        if (!is_protocol_key(key) || !is_off(value)) {
            return false;
        }
    }
    return true;
}

bool
flowspec_same(const json_t *a, const json_t *b)
{
    const json_t *ea = json_object_get(a, "exportNetworkFlows");
    const json_t *eb = json_object_get(b, "exportNetworkFlows");

    if (ea && eb && json_equal(ea, eb)) {
        return true;            /* the usual case on UPDATE, and the cheapest */
    }
    if (export_off(ea) || export_off(eb)) {
        return export_off(ea) && export_off(eb);
    }
    if (json_is_object(ea) && json_is_object(eb)) {
        return keys_same(ea, eb) && keys_same(eb, ea);
    }
    return json_equal(ea, eb);
}

bool
flowspec_equal(const struct flowspec *a, const struct flowspec *b)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        const struct flowspec_collectors *ca = &a->proto[p], *cb = &b->proto[p];

        if (ca->n != cb->n) {
            return false;
        }
        for (size_t i = 0; i < ca->n; i++) {
            if (!collector_equal(&ca->items[i], &cb->items[i])) {
                return false;
            }
        }
    }
    return true;
}
