/* ovsflowsconfig — see include/exportflows/admission/ovsflowsconfig.h.
 *
 * Choices the operator's code leaves open, and why:
 * - Numbers are read as Go's strconv.ParseUint(s, 10, 32) reads them: leading
 *   zeros are fine ("0400" is 400), signs, spaces and underscores are not.
 * - cacheActiveTimeout: the operator converts the duration's seconds, a
 *   float, to an unsigned integer; for a negative duration that conversion is
 *   undefined in Go and yields a huge number on amd64, which OVS then refuses.
 *   Every negative duration is therefore an error, and so is one over OVS's
 *   4200 s: ovnkube-node would fail to write it at start, on every node.
 * - sampling "0": the operator passes it on and ovnkube-node then leaves the
 *   column out, so OVS samples 1:400; the merge unsets the key likewise, and
 *   cacheMaxFlows "0" unsets its key too (flowtuning_set()).
 * - An empty sharedTarget is taken as the target, as the operator takes it,
 *   and then ignored with the whole ConfigMap, as the operator ignores it.
 * - A target the Network's IPFIX list already holds: ovnkube-node drops the
 *   duplicate, so the merged list holds it once.  A new target beside ten
 *   collectors: ovnkube-node would take eleven, but a published config holds
 *   at most ten (the CRD's own limit), so it is not merged and is reported. */
#include "exportflows/admission/ovsflowsconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "exportflows/base/goduration.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/base/numparse.h"

#define FIELD_SIZE 64

static const char *const known_keys[] = {
    "sharedTarget", "nodePort", "sampling", "cacheMaxFlows", "cacheActiveTimeout",
};
#define N_KNOWN_KEYS (sizeof known_keys / sizeof known_keys[0])

static const char *
field_of(const char *key, char buf[FIELD_SIZE])
{
    snprintf(buf, FIELD_SIZE, "data.%s", key);
    return buf;
}

/* The string value of 'key', with its length; NULL when absent.  A value
 * that is not a string (the API never stores one) is reported and NULL. */
static const char *
string_of(const json_t *data, const char *key, size_t *len,
          struct fielderr_list *ignored)
{
    const json_t *v = json_object_get(data, key);
    char field[FIELD_SIZE];

    if (!v) {
        return NULL;
    }
    if (!json_is_string(v)) {
        fielderr_add(ignored, FIELDERR_TYPE_INVALID, field_of(key, field), v,
                     "must be a string; the network operator ignores it");
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Go's strconv.ParseUint(text, 10, 32): leading zeros allowed. */
static int
parse_go_uint32(const char *text, size_t len, uint32_t *ret)
{
    uint64_t v;

    while (len > 1 && text[0] == '0') {
        text++;
        len--;
    }
    if (numparse_u64_n(text, len, 0, UINT32_MAX, &v)) {
        return -EINVAL;
    }
    *ret = (uint32_t) v;
    return 0;
}

static void
parse_number(const json_t *data, const char *key, bool *has, uint32_t *value,
             struct fielderr_list *ignored)
{
    char field[FIELD_SIZE];
    size_t len = 0;
    const char *text = string_of(data, key, &len, ignored);

    *has = false;
    if (!text) {
        return;
    }
    if (parse_go_uint32(text, len, value)) {
        fielderr_add(ignored, FIELDERR_INVALID, field_of(key, field),
                     json_object_get(data, key), "must be an unsigned 32-bit integer; "
                     "the network operator ignores it");
        return;
    }
    *has = true;
}

static void
parse_timeout(const json_t *data, struct ovsflowsconfig *c, struct fielderr_list *report,
              struct fielderr_list *ignored)
{
    static const char field[] = "data.cacheActiveTimeout";
    const json_t *value = json_object_get(data, "cacheActiveTimeout");
    size_t len = 0;
    const char *text = string_of(data, "cacheActiveTimeout", &len, ignored);
    int64_t ns, seconds;

    c->has_cache_active_timeout = false;
    if (!text) {
        return;
    }
    if (goduration_parse(text, len, &ns)) {
        fielderr_add(ignored, FIELDERR_INVALID, field, value, "must be a Go duration "
                     "such as \"60s\"; the network operator ignores it");
        return;
    }
    seconds = ns / GODURATION_NS_PER_SECOND;
    if (ns < 0 || seconds > OVSFLOWSCONFIG_CACHE_ACTIVE_TIMEOUT_MAX) {
        fielderr_add(report, FIELDERR_INVALID, field, value, "must be between 0s and "
                     "%ds: OVS refuses it, and ovnkube-node then does not start",
                     OVSFLOWSCONFIG_CACHE_ACTIVE_TIMEOUT_MAX);
        return;
    }
    if (ns % GODURATION_NS_PER_SECOND) {
        fielderr_warn(report, "%s: truncated to %llds, as the network operator does",
                      field, (long long) seconds);
    }
    c->has_cache_active_timeout = true;
    c->cache_active_timeout = (uint32_t) seconds;
}

/* The target's text: sharedTarget as it is, or ":" nodePort into 'buf'.
 * NULL, with the reason reported, when the operator would have none. */
static const char *
target_text(const json_t *data, struct ovsflowsconfig *c, char *buf, size_t size,
            size_t *len, struct fielderr_list *report, struct fielderr_list *ignored)
{
    size_t port_len = 0;
    const char *shared = string_of(data, "sharedTarget", len, ignored);
    const char *port = string_of(data, "nodePort", &port_len, ignored);

    if (json_object_get(data, "sharedTarget")) {
        c->target_key = "sharedTarget";
        if (port) {
            fielderr_warn(report, "data.nodePort: ignored because data.sharedTarget is "
                          "set, as the network operator does");
        }
        if (shared && !*len) {
            fielderr_add(ignored, FIELDERR_INVALID, "data.sharedTarget",
                         json_object_get(data, "sharedTarget"), "must not be empty; "
                         "the network operator ignores the whole ConfigMap");
            return NULL;
        }
        return shared;
    }
    c->target_key = "nodePort";
    if (port) {
        /* Longer than any collector: the parser refuses it for its length. */
        *len = port_len + 1 < size ? port_len + 1 : size - 1;
        buf[0] = ':';
        memcpy(buf + 1, port, *len - 1);
        buf[*len] = '\0';
        return buf;
    }
    if (!json_object_get(data, "nodePort")) {
        fielderr_add(ignored, FIELDERR_REQUIRED, "data.sharedTarget", NULL,
                     "sharedTarget or nodePort is needed, else the network operator "
                     "ignores the ConfigMap");
    }
    return NULL;
}

static void
parse_target(const json_t *data, struct ovsflowsconfig *c, struct fielderr_list *report,
             struct fielderr_list *ignored)
{
    char buf[COLLECTOR_INPUT_MAX + 2], field[FIELD_SIZE], shown[COLLECTOR_TEXT_SIZE];
    size_t len = 0;
    const char *text = target_text(data, c, buf, sizeof buf, &len, report, ignored);
    enum collector_scope scope;
    const char *why = NULL;

    c->has_target = false;
    if (!text) {
        return;
    }
    field_of(c->target_key, field);
    if (flowspec_check_collector(FLOWPROTO_IPFIX, text, len, &c->target, &scope, &why)) {
        /* The parser's guess at what a list or a bare word meant would
         * mislead here: say what the key takes (a NUL byte aside, which the
         * parser names: ovnkube-node would read the text cut short). */
        if (memchr(text, '\0', len)) {
            why = JSONTEXT_NUL_DETAIL;
        } else if (text == buf) {
            why = "must be a port between 1 and 65535";
        } else if (memchr(text, ',', len)) {
            why = "must be one IP:PORT, not a list";
        }
        fielderr_add(report, FIELDERR_INVALID, field, json_object_get(data, c->target_key),
                     "%s", why);
        return;
    }
    if (scope != COLLECTOR_SCOPE_UNICAST) {
        fielderr_warn(report, "%s: %s is %s", field, collector_format(&c->target, shown),
                      collector_scope_name(scope));
    }
    c->has_target = true;
}

static bool
is_known_key(const char *key)
{
    for (size_t i = 0; i < N_KNOWN_KEYS; i++) {
        if (!strcmp(key, known_keys[i])) {
            return true;
        }
    }
    return false;
}

/* A warning per key the operator does not read, naming the key it probably
 * meant when only letter case differs. */
static void
warn_unknown_keys(const json_t *data, struct fielderr_list *report)
{
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *) data, key, value) {
        const char *meant = NULL;

        if (is_known_key(key)) {
            continue;
        }
        for (size_t i = 0; i < N_KNOWN_KEYS && !meant; i++) {
            meant = strcasecmp(key, known_keys[i]) ? NULL : known_keys[i];
        }
        if (meant) {
            fielderr_warn(report, "data.%.64s: not read by the network operator, did "
                          "you mean \"%s\"?", key, meant);
        } else {
            fielderr_warn(report, "data.%.64s: not read by the network operator", key);
        }
    }
}

void
ovsflowsconfig_parse(const json_t *data, struct ovsflowsconfig *ret,
                     struct fielderr_list *report, struct fielderr_list *ignored)
{
    struct ovsflowsconfig c;

    memset(&c, 0, sizeof c);
    if (!json_is_object(data)) {
        data = NULL;
    }
    parse_target(data, &c, report, ignored);
    parse_number(data, "sampling", &c.has_sampling, &c.sampling, ignored);
    parse_number(data, "cacheMaxFlows", &c.has_cache_max_flows, &c.cache_max_flows,
                 ignored);
    parse_timeout(data, &c, report, ignored);
    warn_unknown_keys(data, report);
    *ret = c;
}

bool
ovsflowsconfig_same(const json_t *a_data, const json_t *b_data)
{
    for (size_t i = 0; i < N_KNOWN_KEYS; i++) {
        const json_t *a = json_object_get(a_data, known_keys[i]);
        const json_t *b = json_object_get(b_data, known_keys[i]);

        if (!a != !b || (a && !json_equal(a, b))) {
            return false;
        }
    }
    return true;
}

/* The values are within the keys' ranges (parse_timeout() keeps the timeout
 * within OVS's), so flowtuning_set() cannot refuse them. */
void
ovsflowsconfig_apply_tuning(const struct ovsflowsconfig *c, struct flowtuning *tuning)
{
    if (c->has_sampling && c->sampling) {
        flowtuning_set(tuning, FLOWTUNING_IPFIX_SAMPLING, c->sampling);
    } else if (c->has_sampling) {
        flowtuning_unset(tuning, FLOWTUNING_IPFIX_SAMPLING);
    }
    if (c->has_cache_max_flows) {
        flowtuning_set(tuning, FLOWTUNING_IPFIX_CACHE_MAX_FLOWS, c->cache_max_flows);
    }
    if (c->has_cache_active_timeout) {
        flowtuning_set(tuning, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT, c->cache_active_timeout);
    }
}

static bool
holds(const struct flowspec_collectors *cs, const struct collector *c)
{
    for (size_t i = 0; i < cs->n; i++) {
        if (collector_equal(&cs->items[i], c)) {
            return true;
        }
    }
    return false;
}

int
ovsflowsconfig_merge(const struct ovsflowsconfig *c, struct flowspec *spec,
                     struct flowtuning *tuning, struct fielderr_list *report)
{
    struct flowspec_collectors *ipfix = &spec->proto[FLOWPROTO_IPFIX];

    if (!c->has_target) {
        return 0;
    }
    if (!holds(ipfix, &c->target)) {
        if (ipfix->n >= FLOWSPEC_MAX_COLLECTORS) {
            char field[FIELD_SIZE], text[COLLECTOR_TEXT_SIZE];
            json_t *value = json_string(collector_format(&c->target, text));

            fielderr_add(report, FIELDERR_TOO_MANY, field_of(c->target_key, field), value,
                         "the Network already lists %d ipfix collectors, the most a "
                         "published config holds", FLOWSPEC_MAX_COLLECTORS);
            json_decref(value);
            return -E2BIG;
        }
        ipfix->items[ipfix->n++] = c->target;
        flowspec_sort_collectors(ipfix);
    }
    ovsflowsconfig_apply_tuning(c, tuning);
    return 0;
}
