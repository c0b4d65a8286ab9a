/* flowconfig — the applier's input: parse, serialise, hash, compare; see
 * flowconfig.h.
 *
 * Ranges (OVS's own limits where vswitch.ovsschema has them):
 *   netFlow.activeTimeout       0..86400 s (0: no active timeout)
 *   sFlow.agent                 1..63 of [A-Za-z0-9._:-] (an interface or an IP)
 *   sFlow.header                1..256 bytes (sFlow agents' customary maximum;
 *                               OVS sends 1400-byte datagrams)
 *   sFlow.sampling              1..4294967295
 *   sFlow.polling               0..86400 s (0: no counter polling)
 *   ipfix.sampling              1..4294967295        (schema)
 *   ipfix.cacheActiveTimeout    0..4200 s            (schema)
 *   ipfix.cacheMaxFlows         0..4294967295, 0: not set (schema)
 *   ipfix.obsDomainID/PointID   0..4294967295        (schema)
 * Tuning keys may be left out and take flowtuning_init()'s values, so that a
 * hand-written --config-file can list collectors only; "collectors" is required
 * (1..10 canonical strings: what flowspec_validate() yields, so the same rules).
 * A protocol set to null is refused: the publisher leaves out protocols that are
 * off, and anything else is a sign of a foreign writer.
 *
 * Collectors are kept sorted, as flowspec normalises them, so the canonical text
 * and its hash do not depend on list order: OVS stores the targets as a set.
 * The canonical text is written by hand into a fixed buffer rather than through
 * jansson, so building and hashing a config never allocates and cannot fail. */
#include "exportflows/flowconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bigger than the longest canonical text: 30 collectors of at most 47
 * characters, the hash, an escaped agent and the numbers. */
#define FLOWCONFIG_TEXT_MAX 4096

/* Unknown keys are shown at most this long in messages. */
#define FLOWCONFIG_KEY_SHOWN 40

void
flowtuning_init(struct flowtuning *t)
{
    memset(t, 0, sizeof *t);
    t->netflow_active_timeout = 60;
    memcpy(t->sflow_agent, "ovn-k8s-mp0", sizeof "ovn-k8s-mp0");
    t->sflow_header = 128;
    t->sflow_sampling = 64;
    t->sflow_polling = 10;
    t->ipfix_sampling = 400;
    t->ipfix_cache_active_timeout = 60;
    t->ipfix_cache_max_flows = 0;
    t->ipfix_obs_domain_id = 123;
    t->ipfix_obs_point_id = 456;
}

/* ---- the numeric tuning keys, one table for parsing, writing and comparing ---- */

struct tuning_key {
    enum flowproto proto;
    const char *name;
    size_t offset;              /* of a uint32_t in struct flowtuning */
    uint32_t min, max;
};

#define TUNING(PROTO, NAME, MEMBER, MIN, MAX) \
    { PROTO, NAME, offsetof(struct flowtuning, MEMBER), MIN, MAX }

/* In canonical order within each protocol; sFlow's "agent" comes before these. */
static const struct tuning_key tuning_keys[] = {
    TUNING(FLOWPROTO_NETFLOW, "activeTimeout", netflow_active_timeout, 0, 86400),
    TUNING(FLOWPROTO_SFLOW, "header", sflow_header, 1, 256),
    TUNING(FLOWPROTO_SFLOW, "sampling", sflow_sampling, 1, UINT32_MAX),
    TUNING(FLOWPROTO_SFLOW, "polling", sflow_polling, 0, 86400),
    TUNING(FLOWPROTO_IPFIX, "sampling", ipfix_sampling, 1, UINT32_MAX),
    TUNING(FLOWPROTO_IPFIX, "cacheActiveTimeout", ipfix_cache_active_timeout, 0, 4200),
    TUNING(FLOWPROTO_IPFIX, "cacheMaxFlows", ipfix_cache_max_flows, 0, UINT32_MAX),
    TUNING(FLOWPROTO_IPFIX, "obsDomainID", ipfix_obs_domain_id, 0, UINT32_MAX),
    TUNING(FLOWPROTO_IPFIX, "obsPointID", ipfix_obs_point_id, 0, UINT32_MAX),
};

#define N_TUNING_KEYS (sizeof tuning_keys / sizeof tuning_keys[0])

static uint32_t *
tuning_member(struct flowtuning *t, const struct tuning_key *k)
{
    return (uint32_t *) ((char *) t + k->offset);
}

static uint32_t
tuning_value(const struct flowtuning *t, const struct tuning_key *k)
{
    return *(const uint32_t *) ((const char *) t + k->offset);
}

static const struct tuning_key *
find_tuning_key(enum flowproto proto, const char *name)
{
    for (size_t i = 0; i < N_TUNING_KEYS; i++) {
        if (tuning_keys[i].proto == proto && !strcmp(tuning_keys[i].name, name)) {
            return &tuning_keys[i];
        }
    }
    return NULL;
}

/* ---- canonical text ---- */

struct writer {
    char buf[FLOWCONFIG_TEXT_MAX];
    size_t len;
};

static void writer_printf(struct writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The buffer is sized for the largest config, so truncation cannot happen; the
 * check keeps 'len' in bounds should that ever change. */
static void
writer_printf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(w->buf + w->len, sizeof w->buf - w->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        w->len += (size_t) n < sizeof w->buf - w->len ? (size_t) n
                                                       : sizeof w->buf - 1 - w->len;
    }
}

/* A JSON string; only the agent can hold characters that need escaping, and
 * only when flowconfig_build() was given an unchecked one. */
static void
write_string(struct writer *w, const char *s)
{
    writer_printf(w, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            writer_printf(w, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            writer_printf(w, "\\u%04x", c);
        } else {
            writer_printf(w, "%c", c);
        }
    }
    writer_printf(w, "\"");
}

static void
write_protocol(struct writer *w, const struct flowconfig *config,
               enum flowproto proto)
{
    const struct flowspec_collectors *cs = &config->spec.proto[proto];
    char text[COLLECTOR_TEXT_SIZE];

    writer_printf(w, "\"%s\":{\"collectors\":[", flowproto_name(proto));
    for (size_t i = 0; i < cs->n; i++) {
        writer_printf(w, "%s\"%s\"", i ? "," : "",
                      collector_format(&cs->items[i], text));
    }
    writer_printf(w, "]");
    if (proto == FLOWPROTO_SFLOW) {
        writer_printf(w, ",\"agent\":");
        write_string(w, config->tuning.sflow_agent);
    }
    for (size_t i = 0; i < N_TUNING_KEYS; i++) {
        if (tuning_keys[i].proto == proto) {
            writer_printf(w, ",\"%s\":%" PRIu32, tuning_keys[i].name,
                          tuning_value(&config->tuning, &tuning_keys[i]));
        }
    }
    writer_printf(w, "}");
}

/* The canonical text, with generation and hash only when 'with_identity'. */
static void
write_config(struct writer *w, const struct flowconfig *config, bool with_identity)
{
    const char *sep = "";

    w->len = 0;
    writer_printf(w, "{");
    if (with_identity && config->has_generation) {
        writer_printf(w, "\"generation\":%" PRId64, config->generation);
        sep = ",";
    }
    if (with_identity && config->hash[0]) {
        writer_printf(w, "%s\"hash\":\"%s\"", sep, config->hash);
        sep = ",";
    }
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (config->spec.proto[p].n) {
            writer_printf(w, "%s", sep);
            write_protocol(w, config, (enum flowproto) p);
            sep = ",";
        }
    }
    writer_printf(w, "}");
}

void
flowconfig_hash(const struct flowconfig *config, char ret[FLOWCONFIG_HASH_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    struct writer w;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    write_config(&w, config, false);
    if (!EVP_Digest(w.buf, w.len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        ret[0] = '\0';          /* only when OpenSSL itself is broken */
        return;
    }
    memcpy(ret, "sha256:", 7);
    for (unsigned i = 0; i < md_len; i++) {
        ret[7 + 2 * i] = hex[md[i] >> 4];
        ret[8 + 2 * i] = hex[md[i] & 15];
    }
    ret[7 + 2 * md_len] = '\0';
}

void
flowconfig_build(const struct flowspec *spec, const struct flowtuning *tuning,
                 int64_t generation, struct flowconfig *ret)
{
    memset(ret, 0, sizeof *ret);
    ret->spec = *spec;
    flowspec_sort(&ret->spec);
    ret->tuning = *tuning;
    ret->tuning.sflow_agent[FLOWCONFIG_AGENT_MAX - 1] = '\0';
    ret->has_generation = generation >= 0;
    ret->generation = generation >= 0 ? generation : 0;
    flowconfig_hash(ret, ret->hash);
}

char *
flowconfig_dump(const struct flowconfig *config)
{
    struct writer w;

    write_config(&w, config, true);
    return strndup(w.buf, w.len);
}

json_t *
flowconfig_to_json(const struct flowconfig *config)
{
    struct writer w;

    write_config(&w, config, true);
    return json_loadb(w.buf, w.len, JSON_REJECT_DUPLICATES, NULL);
}

/* ---- parsing ---- */

/* 'key' made safe to quote in a one-line message. */
static const char *
shown_key(const char *key, char buf[FLOWCONFIG_KEY_SHOWN + 4])
{
    size_t n = 0;

    for (; key[n] && n < FLOWCONFIG_KEY_SHOWN; n++) {
        unsigned char c = (unsigned char) key[n];

        buf[n] = c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char) c : '?';
    }
    memcpy(buf + n, key[n] ? "..." : "", key[n] ? 4 : 1);
    return buf;
}

static int
unknown_key(struct errmsg *err, const char *where, const char *key)
{
    char shown[FLOWCONFIG_KEY_SHOWN + 4];

    return errmsg_set(err, -EINVAL, "%s%sunknown key \"%s\"", where,
                      where[0] ? ": " : "", shown_key(key, shown));
}

static int
parse_tuning_number(const json_t *value, const struct tuning_key *k,
                    struct flowtuning *t, struct errmsg *err)
{
    json_int_t v = json_integer_value(value);

    if (!json_is_integer(value) || v < (json_int_t) k->min
        || v > (json_int_t) k->max) {
        return errmsg_set(err, -EINVAL, "%s.%s must be an integer between %" PRIu32
                          " and %" PRIu32, flowproto_name(k->proto), k->name,
                          k->min, k->max);
    }
    *tuning_member(t, k) = (uint32_t) v;
    return 0;
}

static bool
agent_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("._:-", c));
}

static int
parse_agent(const json_t *value, struct flowtuning *t, struct errmsg *err)
{
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    size_t ok = 0;

    while (s && ok < len && agent_char_ok(s[ok])) {
        ok++;
    }
    if (!s || len == 0 || len >= FLOWCONFIG_AGENT_MAX || ok != len) {
        return errmsg_set(err, -EINVAL, "sFlow.agent must be 1 to %d letters, digits, "
                          "'.', '_', ':' or '-'", FLOWCONFIG_AGENT_MAX - 1);
    }
    memcpy(t->sflow_agent, s, len + 1);
    return 0;
}

/* The same checks flowspec_validate() makes, on text that must moreover be
 * canonical: the publisher only writes canonical text. */
static int
parse_collector(enum flowproto proto, size_t i, const json_t *item,
                struct collector *c, struct errmsg *err)
{
    const char *name = flowproto_name(proto);
    const char *text = json_string_value(item);
    const char *why = NULL;
    char canonical[COLLECTOR_TEXT_SIZE];
    enum collector_scope scope;

    if (!text || strlen(text) != json_string_length(item)) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu] must be a string",
                          name, i);
    }
    if (collector_parse(text, c, &why)) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: %s", name, i, why);
    }
    scope = collector_scope(c);
    if (scope == COLLECTOR_SCOPE_UNSPECIFIED || scope == COLLECTOR_SCOPE_BROADCAST) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: must not be %s",
                          name, i, collector_scope_name(scope));
    }
    if (proto == FLOWPROTO_NETFLOW && c->kind == COLLECTOR_IPV6) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: NetFlow v5 carries "
                          "IPv4 only", name, i);
    }
    if (strcmp(collector_format(c, canonical), text)) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: \"%s\" is not in "
                          "canonical form \"%s\"", name, i, text, canonical);
    }
    return 0;
}

static int
parse_collectors(enum flowproto proto, const json_t *list,
                 struct flowspec_collectors *ret, struct errmsg *err)
{
    const char *name = flowproto_name(proto);
    size_t n = json_array_size(list);
    struct flowspec_collectors cs = { .n = n };

    if (!json_is_array(list) || n == 0 || n > FLOWSPEC_MAX_COLLECTORS) {
        return errmsg_set(err, -EINVAL, "%s.collectors must be a list of 1 to %d "
                          "collectors", name, FLOWSPEC_MAX_COLLECTORS);
    }
    for (size_t i = 0; i < n; i++) {
        int error = parse_collector(proto, i, json_array_get(list, i),
                                    &cs.items[i], err);

        if (error) {
            return error;
        }
        for (size_t j = 0; j < i; j++) {
            if (collector_equal(&cs.items[j], &cs.items[i])) {
                return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: duplicate "
                                  "value \"%s\" (same as %s.collectors[%zu])",
                                  name, i, json_string_value(json_array_get(list, i)),
                                  name, j);
            }
        }
    }
    flowspec_sort_collectors(&cs);
    *ret = cs;
    return 0;
}

static int
parse_protocol_key(enum flowproto proto, const char *key, const json_t *value,
                   struct flowconfig *c, struct errmsg *err)
{
    const struct tuning_key *k = find_tuning_key(proto, key);

    if (!strcmp(key, "collectors")) {
        return parse_collectors(proto, value, &c->spec.proto[proto], err);
    }
    if (proto == FLOWPROTO_SFLOW && !strcmp(key, "agent")) {
        return parse_agent(value, &c->tuning, err);
    }
    if (k) {
        return parse_tuning_number(value, k, &c->tuning, err);
    }
    return unknown_key(err, flowproto_name(proto), key);
}

static int
parse_protocol(enum flowproto proto, const json_t *object, struct flowconfig *c,
               struct errmsg *err)
{
    const char *key;
    const json_t *value;

    if (!json_is_object(object)) {
        return errmsg_set(err, -EINVAL, "%s must be an object",
                          flowproto_name(proto));
    }
    if (!json_object_get(object, "collectors")) {
        return errmsg_set(err, -EINVAL, "%s.collectors is required",
                          flowproto_name(proto));
    }
    json_object_foreach((json_t *) object, key, value) {
        int error = parse_protocol_key(proto, key, value, c, err);

        if (error) {
            return error;
        }
    }
    return 0;
}

static bool
hash_ok(const char *s, size_t len)
{
    if (len != FLOWCONFIG_HASH_SIZE - 1 || strncmp(s, "sha256:", 7)) {
        return false;
    }
    for (size_t i = 7; i < len; i++) {
        if (!strchr("0123456789abcdef", s[i]) || !s[i]) {
            return false;
        }
    }
    return true;
}

static int
parse_identity(const char *key, const json_t *value, struct flowconfig *c,
               struct errmsg *err)
{
    if (!strcmp(key, "generation")) {
        if (!json_is_integer(value) || json_integer_value(value) < 0) {
            return errmsg_set(err, -EINVAL,
                              "generation must be a non-negative integer");
        }
        c->has_generation = true;
        c->generation = json_integer_value(value);
        return 0;
    }
    if (!json_is_string(value)
        || !hash_ok(json_string_value(value), json_string_length(value))) {
        return errmsg_set(err, -EINVAL,
                          "hash must be \"sha256:\" and 64 lowercase hex digits");
    }
    memcpy(c->hash, json_string_value(value), FLOWCONFIG_HASH_SIZE);
    return 0;
}

static int
parse_top_key(const char *key, const json_t *value, struct flowconfig *c,
              struct errmsg *err)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (!strcmp(key, flowproto_name((enum flowproto) p))) {
            return parse_protocol((enum flowproto) p, value, c, err);
        }
    }
    if (!strcmp(key, "generation") || !strcmp(key, "hash")) {
        return parse_identity(key, value, c, err);
    }
    return unknown_key(err, "", key);
}

int
flowconfig_from_json(const json_t *json, struct flowconfig *ret,
                     struct errmsg *err)
{
    struct flowconfig c;
    const char *key;
    const json_t *value;

    if (!json_is_object(json)) {
        return errmsg_set(err, -EINVAL, "config must be a JSON object");
    }
    memset(&c, 0, sizeof c);
    flowtuning_init(&c.tuning);
    json_object_foreach((json_t *) json, key, value) {
        int error = parse_top_key(key, value, &c, err);

        if (error) {
            return error;
        }
    }
    *ret = c;
    return 0;
}

int
flowconfig_parse(const char *text, size_t len, struct flowconfig *ret,
                 struct errmsg *err)
{
    json_error_t jerr;
    json_t *json;
    int error;

    if (len > FLOWCONFIG_MAX_BYTES) {
        return errmsg_set(err, -E2BIG, "config is %zu bytes, more than the %d allowed",
                          len, FLOWCONFIG_MAX_BYTES);
    }
    json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        /* jansson reports most allocation failures as syntax errors ("invalid
         * token"), some with no text at all; only the latter two are told
         * apart here. */
        if (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]) {
            return errmsg_set(err, -ENOMEM, "out of memory parsing the config");
        }
        return errmsg_set(err, -EINVAL, "invalid JSON at line %d column %d: %s",
                          jerr.line, jerr.column, jerr.text);
    }
    error = flowconfig_from_json(json, ret, err);
    json_decref(json);
    return error;
}

static bool
same_tuning(const struct flowconfig *a, const struct flowconfig *b,
            enum flowproto proto)
{
    if (proto == FLOWPROTO_SFLOW
        && strcmp(a->tuning.sflow_agent, b->tuning.sflow_agent)) {
        return false;
    }
    for (size_t i = 0; i < N_TUNING_KEYS; i++) {
        if (tuning_keys[i].proto == proto
            && tuning_value(&a->tuning, &tuning_keys[i])
               != tuning_value(&b->tuning, &tuning_keys[i])) {
            return false;
        }
    }
    return true;
}

bool
flowconfig_same(const struct flowconfig *a, const struct flowconfig *b)
{
    if (!flowspec_equal(&a->spec, &b->spec)) {
        return false;
    }
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (a->spec.proto[p].n && !same_tuning(a, b, (enum flowproto) p)) {
            return false;
        }
    }
    return true;
}
