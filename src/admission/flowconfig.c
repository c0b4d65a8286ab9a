/* flowconfig — the applier's input: parse, serialise, hash, compare; see
 * flowconfig.h.
 *
 * Ranges (OVS's own limits where vswitch.ovsschema has them):
 *   netFlow.activeTimeout       0..86400 s (0: OVS's default, 600 s)
 *   sFlow.agent                 1..63 of [A-Za-z0-9._:-] (an interface or an IP)
 *   sFlow.header                1..256 bytes (sFlow agents' customary maximum;
 *                               OVS sends 1400-byte datagrams)
 *   sFlow.sampling              1..4294967295
 *   sFlow.polling               0..86400 s (0: no counter polling)
 *   ipfix.sampling              1..4294967295        (schema)
 *   ipfix.cacheActiveTimeout    0..4200 s            (schema)
 *   ipfix.cacheMaxFlows         0..4294967295, 0: not set (schema)
 *   ipfix.obsDomainID/PointID   0..4294967295        (schema)
 * A tuning key left out keeps flowtuning_init()'s state (a value for the three
 * ovnkube-node writes, none for the rest), so that a hand-written --config-file
 * can list collectors only; "collectors" is required (1..10 canonical strings:
 * what flowspec_validate() yields, so the same rules).  A protocol set to null is
 * refused: the publisher leaves out protocols that are off, and anything else is
 * a sign of a foreign writer.
 *
 * Collectors are kept sorted, as flowspec normalises them, so the canonical text
 * and its hash do not depend on list order: OVS stores the targets as a set.
 * The canonical text is written by hand into a fixed buffer rather than through
 * jansson, so building and hashing a config never allocates and cannot fail. */
#include "exportflows/admission/flowconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/jsontext.h"

/* Bigger than the longest canonical text: 30 collectors of at most 47
 * characters, the hash, an escaped agent and the numbers. */
#define FLOWCONFIG_TEXT_MAX 4096

/* ---- the numeric tuning keys, one table for parsing, writing and comparing ---- */

#define KEY(PROTO, NAME, COLUMN, MIN, MAX, OPTIONAL, UNSET, UNIT) \
    { PROTO, NAME, COLUMN, MIN, MAX, OPTIONAL, UNSET, UNIT }

/* Indexed by enum flowtuning_key, in canonical order within each protocol. */
static const struct flowtuning_key_info tuning_keys[FLOWTUNING_N_KEYS] = {
    [FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT] = KEY(FLOWPROTO_NETFLOW, "activeTimeout",
        "active_timeout", 0, 86400, false, "OVS default, 600 s", "seconds"),
    [FLOWTUNING_SFLOW_HEADER] = KEY(FLOWPROTO_SFLOW, "header", "header", 1, 256,
        true, "OVS default, 128 bytes", "bytes"),
    [FLOWTUNING_SFLOW_SAMPLING] = KEY(FLOWPROTO_SFLOW, "sampling", "sampling", 1,
        UINT32_MAX, true, "OVS default, 1 in 400", "1 in N packets"),
    [FLOWTUNING_SFLOW_POLLING] = KEY(FLOWPROTO_SFLOW, "polling", "polling", 0, 86400,
        true, "OVS default, 30 s", "seconds"),
    [FLOWTUNING_IPFIX_SAMPLING] = KEY(FLOWPROTO_IPFIX, "sampling", "sampling", 1,
        UINT32_MAX, true, "OVS default, 1 in 400", "1 in N packets"),
    [FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT] = KEY(FLOWPROTO_IPFIX,
        "cacheActiveTimeout", "cache_active_timeout", 0, 4200, true,
        "OVS default, no flow cache", "seconds"),
    [FLOWTUNING_IPFIX_CACHE_MAX_FLOWS] = KEY(FLOWPROTO_IPFIX, "cacheMaxFlows",
        "cache_max_flows", 0, UINT32_MAX, true, "OVS default, no limit",
        "flows (0: no limit)"),
    [FLOWTUNING_IPFIX_OBS_DOMAIN_ID] = KEY(FLOWPROTO_IPFIX, "obsDomainID",
        "obs_domain_id", 0, UINT32_MAX, true, "OVS default, 0", NULL),
    [FLOWTUNING_IPFIX_OBS_POINT_ID] = KEY(FLOWPROTO_IPFIX, "obsPointID",
        "obs_point_id", 0, UINT32_MAX, true, "OVS default, 0", NULL),
};

const struct flowtuning_key_info *
flowtuning_key_info(enum flowtuning_key key)
{
    return &tuning_keys[key];
}

int
flowtuning_set(struct flowtuning *t, enum flowtuning_key key, uint32_t value)
{
    const struct flowtuning_key_info *k = &tuning_keys[key];

    if (value < k->min || value > k->max) {
        return -ERANGE;
    }
    if (key == FLOWTUNING_IPFIX_CACHE_MAX_FLOWS && value == 0) {
        flowtuning_unset(t, key);
        return 0;
    }
    t->value[key] = value;
    t->set |= 1u << key;
    return 0;
}

void
flowtuning_unset(struct flowtuning *t, enum flowtuning_key key)
{
    t->value[key] = 0;
    t->set &= ~(1u << key);
}

bool
flowtuning_is_set(const struct flowtuning *t, enum flowtuning_key key)
{
    return (t->set >> key) & 1;
}

uint32_t
flowtuning_get(const struct flowtuning *t, enum flowtuning_key key)
{
    return flowtuning_is_set(t, key) ? t->value[key] : 0;
}

/* What ovnkube-node writes when nothing else is configured. */
void
flowtuning_init(struct flowtuning *t)
{
    memset(t, 0, sizeof *t);
    memcpy(t->sflow_agent, "ovn-k8s-mp0", sizeof "ovn-k8s-mp0");
    flowtuning_set(t, FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT, 60);
    flowtuning_set(t, FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT, 60);
}

static enum flowtuning_key
find_tuning_key(enum flowproto proto, const char *name)
{
    for (int i = 0; i < FLOWTUNING_N_KEYS; i++) {
        if (tuning_keys[i].proto == proto && !strcmp(tuning_keys[i].name, name)) {
            return (enum flowtuning_key) i;
        }
    }
    return FLOWTUNING_N_KEYS;
}

/* ---- canonical text ---- */

/* A capbuf in a fixed array: the array is sized for the largest config, so
 * the cut at its end cannot happen. */
struct writer {
    char buf[FLOWCONFIG_TEXT_MAX];
    struct capbuf text;
};

static void writer_printf(struct writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
writer_printf(struct writer *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    capbuf_vprintf(&w->text, fmt, ap);
    va_end(ap);
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
    for (int i = 0; i < FLOWTUNING_N_KEYS; i++) {
        if (tuning_keys[i].proto == proto
            && flowtuning_is_set(&config->tuning, (enum flowtuning_key) i)) {
            writer_printf(w, ",\"%s\":%" PRIu32, tuning_keys[i].name,
                          config->tuning.value[i]);
        }
    }
    writer_printf(w, "}");
}

/* The lowest payload version whose readers understand all of 'config' (the
 * writing rule in flowconfig.h).  Every key written today is a version 1 key;
 * a key that an older reader must not ignore will raise it when it is used. */
static int
needed_version(const struct flowconfig *config)
{
    return 1;
}

/* The canonical text, with generation and hash only when 'with_identity';
 * "version" only above 1, which its absence means. */
static void
write_config(struct writer *w, const struct flowconfig *config, bool with_identity)
{
    int version = needed_version(config);
    const char *sep = "";

    capbuf_init_fixed(&w->text, w->buf, sizeof w->buf, CAPBUF_CUT);
    writer_printf(w, "{");
    if (version > 1) {
        writer_printf(w, "\"version\":%d", version);
        sep = ",";
    }
    if (with_identity && config->has_generation) {
        writer_printf(w, "%s\"generation\":%" PRId64, sep, config->generation);
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
    if (!EVP_Digest(w.buf, w.text.len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
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
    return strndup(w.buf, w.text.len);
}

json_t *
flowconfig_to_json(const struct flowconfig *config)
{
    struct writer w;

    write_config(&w, config, true);
    return json_loadb(w.buf, w.text.len, JSON_REJECT_DUPLICATES, NULL);
}

/* ---- parsing ---- */

/* Counts an unknown key that the reading rule ignores, and keeps the first one's
 * name ("where.key"), made safe to quote in a one-line message. */
static void
ignore_key(struct flowconfig *c, const char *where, const char *key)
{
    char *buf = c->first_ignored;
    size_t n = 0, max = FLOWCONFIG_IGNORED_SIZE - 4;

    if (c->n_ignored++) {
        return;
    }
    if (where) {
        n = (size_t) snprintf(buf, max, "%s.", where);
    }
    for (; *key && n < max; key++, n++) {
        unsigned char ch = (unsigned char) *key;

        buf[n] = ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char) ch : '?';
    }
    memcpy(buf + n, *key ? "..." : "", *key ? 4 : 1);
}

static int
parse_tuning_number(const json_t *value, enum flowtuning_key key,
                    struct flowtuning *t, struct errmsg *err)
{
    const struct flowtuning_key_info *k = &tuning_keys[key];
    json_int_t v = json_integer_value(value);

    if (!json_is_integer(value) || v < (json_int_t) k->min
        || v > (json_int_t) k->max) {
        return errmsg_set(err, -EINVAL, "%s.%s must be an integer between %" PRIu32
                          " and %" PRIu32, flowproto_name(k->proto), k->name,
                          k->min, k->max);
    }
    flowtuning_set(t, key, (uint32_t) v);
    return 0;
}

static bool
agent_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("._:-", c));
}

int
flowtuning_set_agent(struct flowtuning *t, const char *agent)
{
    size_t len = strlen(agent);
    size_t ok = 0;

    while (ok < len && agent_char_ok(agent[ok])) {
        ok++;
    }
    if (len == 0 || len >= FLOWCONFIG_AGENT_MAX || ok != len) {
        return -EINVAL;
    }
    memcpy(t->sflow_agent, agent, len + 1);
    return 0;
}

static int
parse_agent(const json_t *value, struct flowtuning *t, struct errmsg *err)
{
    const char *s = json_string_value(value);

    if (!s || strlen(s) != json_string_length(value) || flowtuning_set_agent(t, s)) {
        return errmsg_set(err, -EINVAL, "sFlow.agent must be 1 to %d letters, digits, "
                          "'.', '_', ':' or '-'", FLOWCONFIG_AGENT_MAX - 1);
    }
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

    if (!text) {
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu] must be a string",
                          name, i);
    }
    if (jsontext_has_nul(item)) {   /* collector_parse() would read it cut short */
        return errmsg_set(err, -EINVAL, "%s.collectors[%zu]: " JSONTEXT_NUL_DETAIL, name, i);
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
    enum flowtuning_key k = find_tuning_key(proto, key);

    if (!strcmp(key, "collectors")) {
        return parse_collectors(proto, value, &c->spec.proto[proto], err);
    }
    if (proto == FLOWPROTO_SFLOW && !strcmp(key, "agent")) {
        return parse_agent(value, &c->tuning, err);
    }
    if (k != FLOWTUNING_N_KEYS) {
        return parse_tuning_number(value, k, &c->tuning, err);
    }
    ignore_key(c, flowproto_name(proto), key);
    return 0;
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
    if (strcmp(key, "version")) {
        ignore_key(c, NULL, key);
    }
    return 0;
}

/* "version": absent means 1; a newer one is an incompatible payload. */
static int
check_version(const json_t *version, struct errmsg *err)
{
    json_int_t v = json_integer_value(version);

    if (!version) {
        return 0;
    }
    if (!json_is_integer(version) || v < 1) {
        return errmsg_set(err, -EINVAL, "version must be a positive integer");
    }
    if (v > FLOWCONFIG_VERSION) {
        return errmsg_set(err, -EINVAL, "config version %" JSON_INTEGER_FORMAT
                          " is newer than this program understands (%d): "
                          "upgrade it", v, FLOWCONFIG_VERSION);
    }
    return 0;
}

int
flowconfig_from_json(const json_t *json, struct flowconfig *ret,
                     struct errmsg *err)
{
    struct flowconfig c;
    const char *key;
    const json_t *value;
    int error;

    if (!json_is_object(json)) {
        return errmsg_set(err, -EINVAL, "config must be a JSON object");
    }
    error = check_version(json_object_get(json, "version"), err);
    if (error) {
        return error;
    }
    memset(&c, 0, sizeof c);
    flowtuning_init(&c.tuning);
    json_object_foreach((json_t *) json, key, value) {
        error = parse_top_key(key, value, &c, err);
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
    /* "\u0000" is allowed, as in any JSON the programs read, so that a newer
     * publisher's additions never fail the parse; the strings read here are
     * checked for it. */
    json = json_loadb(text, len, JSONTEXT_PARSE_FLAGS, &jerr);
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
    for (int i = 0; i < FLOWTUNING_N_KEYS; i++) {
        enum flowtuning_key k = (enum flowtuning_key) i;

        if (tuning_keys[i].proto == proto
            && (flowtuning_is_set(&a->tuning, k) != flowtuning_is_set(&b->tuning, k)
                || flowtuning_get(&a->tuning, k) != flowtuning_get(&b->tuning, k))) {
            return false;
        }
    }
    return true;
}

const char *
flowconfig_hash_of(const struct flowconfig *config, char buf[FLOWCONFIG_HASH_SIZE])
{
    if (!config) {
        return "";
    } else if (config->hash[0]) {
        return config->hash;
    }
    flowconfig_hash(config, buf);
    return buf;
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

/* ---- the ConfigMap ---- */

int
flowconfig_data_text(const json_t *data, const char **ret_text, size_t *ret_len)
{
    const json_t *value = json_object_get(data, FLOWCONFIG_KEY);

    if (!json_is_string(value)) {
        return -ENOENT;
    }
    *ret_text = json_string_value(value);
    *ret_len = json_string_length(value);
    return 0;
}

int
flowconfig_data_parse(const json_t *data, struct flowconfig *ret, struct errmsg *err)
{
    char hash[FLOWCONFIG_HASH_SIZE];
    struct flowconfig config;
    const char *text;
    size_t len;
    int r;

    if (flowconfig_data_text(data, &text, &len)) {
        return errmsg_set(err, -ENOENT, "no %s in the configmap", FLOWCONFIG_KEY);
    }
    r = flowconfig_parse(text, len, &config, err);
    if (r) {
        return r;
    }
    flowconfig_hash(&config, hash);
    if (strcmp(hash, config.hash)) {
        return errmsg_set(err, -EINVAL, "%s: hash '%s' does not match the content",
                          FLOWCONFIG_KEY, config.hash);
    }
    *ret = config;
    return 0;
}

int
flowconfig_data_set(json_t *data, const struct flowconfig *config)
{
    struct writer w;
    json_t *text;

    write_config(&w, config, true);
    text = json_stringn(w.buf, w.text.len);
    return text && !json_object_set_new(data, FLOWCONFIG_KEY, text) ? 0 : -ENOMEM;
}
