/* flowconfig — the applier's input: the normalised spec plus the tuning; the
 * contract between the publisher, which writes it, and the appliers, which read
 * it, and which run different releases during a rolling upgrade.
 *
 * It travels as the key FLOWCONFIG_KEY ("config.json") of the ConfigMap the
 * publisher writes (or as the applier's --config-file), as in DESIGN.md "What the
 * applier writes":
 *   {"generation": 7, "hash": "sha256:...",
 *    "netFlow": {"collectors": [...], "activeTimeout": 60},
 *    "sFlow":   {"collectors": [...], "agent": "ovn-k8s-mp0"},
 *    "ipfix":   {"collectors": [...], "cacheActiveTimeout": 60}}
 * An absent protocol is off.  A tuning key is present only when it has a value
 * (struct flowtuning's 'set'): with the default tuning the applier writes what
 * ovnkube-node writes, and OVS's own defaults apply to the rest.  The ConfigMap
 * part of the contract (the key, reading it out of and into a ConfigMap object)
 * is the flowconfig_data_*() functions below: the publisher, the applier's
 * ConfigMap source and `exportflows render` all go through them.
 *
 * Reading rule (so that a rolling upgrade, where a newer publisher runs beside
 * older appliers, never fails them):
 *   - "version" is a positive integer; absent means 1.  A version above
 *     FLOWCONFIG_VERSION is refused: the payload changed incompatibly.  Additions
 *     that an older reader may safely ignore do not raise the version.
 *   - Keys this reader does not know, at the top level and inside a protocol
 *     object, are optional additions: they are ignored (counted in 'n_ignored',
 *     the first named in 'first_ignored', so that a program can warn about a
 *     typo in a hand-written file).
 *   - Keys it knows are strict: wrong types, values out of range, invalid or
 *     non-canonical collectors (a NUL inside included) and duplicate keys are
 *     refused with one message.  "\u0000" elsewhere (an addition) is read.
 *
 * Writing rule (so that the previous release's readers, which may still run,
 * accept what is written; tests/system/k8s-skew.sh checks it against them):
 *   - The writer writes the lowest version whose readers understand the
 *     content, and "version" only when that is above 1: its absence means 1,
 *     and the releases before the version existed (up to 407dbf4) refuse every
 *     key they do not know, "version" included.  Today everything is version 1,
 *     so "version" is never written.
 *   - A key added later is written only when the config uses it (its absence
 *     means what the older releases did), and it must be safe to ignore;
 *     otherwise it raises the version.  Readers before the reading rule above
 *     (up to 407dbf4) refuse any new key: a feature that adds one is used only
 *     once no such applier runs.
 *   - A tuning key without a value is left out, and each reader then uses its
 *     own default: this release leaves the column to OVS, the releases up to
 *     407dbf4 write their flag defaults (NetFlow activeTimeout 60; sFlow
 *     header 128, sampling 64, polling 10; IPFIX sampling 400,
 *     cacheActiveTimeout 60, obsDomainID 123, obsPointID 456).  So during the
 *     skew window an old applier writes those to OVS, and the previous
 *     release's publisher writes them all explicitly.
 *
 * The canonical serialisation (fixed key order, compact) is what the hash
 * covers, without "generation" and "hash" themselves.  A 'struct flowconfig' is
 * a plain value. */
#ifndef EXPORTFLOWS_FLOWCONFIG_H
#define EXPORTFLOWS_FLOWCONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowspec.h"

/* Largest config text accepted by flowconfig_parse(). */
#define FLOWCONFIG_MAX_BYTES (64 * 1024)
#define FLOWCONFIG_AGENT_MAX 64         /* sFlow agent: an interface name or IP */
#define FLOWCONFIG_HASH_SIZE 72         /* "sha256:" + 64 hex + NUL */
#define FLOWCONFIG_IGNORED_SIZE 48      /* an ignored key's name, cut with "..." */

/* The ConfigMap key holding the payload. */
#define FLOWCONFIG_KEY "config.json"

/* The highest payload version this reader understands (see the rules above). */
#define FLOWCONFIG_VERSION 1

/* The numeric tuning keys, in canonical order (sFlow's "agent" is apart: it is a
 * string and always has a value). */
enum flowtuning_key {
    FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT,      /* netFlow.activeTimeout */
    FLOWTUNING_SFLOW_HEADER,                /* sFlow.header */
    FLOWTUNING_SFLOW_SAMPLING,              /* sFlow.sampling */
    FLOWTUNING_SFLOW_POLLING,               /* sFlow.polling */
    FLOWTUNING_IPFIX_SAMPLING,              /* ipfix.sampling */
    FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT,  /* ipfix.cacheActiveTimeout */
    FLOWTUNING_IPFIX_CACHE_MAX_FLOWS,       /* ipfix.cacheMaxFlows */
    FLOWTUNING_IPFIX_OBS_DOMAIN_ID,         /* ipfix.obsDomainID */
    FLOWTUNING_IPFIX_OBS_POINT_ID,          /* ipfix.obsPointID */
    FLOWTUNING_N_KEYS
};

/* What a key is: for parsing, writing, OVS and `exportflows render`. */
struct flowtuning_key_info {
    enum flowproto proto;
    const char *name;           /* JSON key inside the protocol: "sampling" */
    const char *column;         /* OVS column of the protocol's table */
    uint32_t min, max;          /* accepted values (OVS's limits where it has them) */
    bool column_optional;       /* the OVS column may be empty ("min": 0) */
    const char *when_unset;     /* what OVS does when the column is empty */
    const char *unit;           /* what the number counts, for help texts; or NULL */
};

/* Per-protocol settings that are not collectors.  A key has a value only when
 * its bit is in 'set'; a key without one is not written to OVS, so OVS's default
 * applies (flowtuning_key_info()->when_unset).  flowtuning_init() gives the
 * publisher's defaults, which are what ovnkube-node writes: NetFlow
 * activeTimeout 60, IPFIX cacheActiveTimeout 60, sFlow agent "ovn-k8s-mp0", and
 * nothing else.  Change values through flowtuning_set() / flowtuning_unset(). */
struct flowtuning {
    uint32_t set;                           /* bits 1u << FLOWTUNING_* */
    uint32_t value[FLOWTUNING_N_KEYS];      /* 0 when not set */
    char sflow_agent[FLOWCONFIG_AGENT_MAX]; /* "ovn-k8s-mp0" */
};

void flowtuning_init(struct flowtuning *tuning);

/* The description of 'key' (a static table). */
const struct flowtuning_key_info *flowtuning_key_info(enum flowtuning_key key);

/* Gives 'key' the value 'value'.  Returns 0, or -ERANGE (nothing changed) when
 * 'value' is outside the key's [min, max].  IPFIX cacheMaxFlows 0 means "no
 * limit", as in OVS and ovnkube-node: setting it to 0 unsets it. */
int flowtuning_set(struct flowtuning *tuning, enum flowtuning_key key,
                   uint32_t value);

/* Sets sFlow's agent: 1 to FLOWCONFIG_AGENT_MAX - 1 letters, digits, '.', '_',
 * ':' or '-' (an interface name or an IP).  Returns 0, or -EINVAL (nothing
 * changed). */
int flowtuning_set_agent(struct flowtuning *tuning, const char *agent);

/* Removes 'key''s value: OVS's default applies. */
void flowtuning_unset(struct flowtuning *tuning, enum flowtuning_key key);

bool flowtuning_is_set(const struct flowtuning *tuning, enum flowtuning_key key);

/* The value of 'key'; 0 when it is not set. */
uint32_t flowtuning_get(const struct flowtuning *tuning, enum flowtuning_key key);

struct flowconfig {
    bool has_generation;
    int64_t generation;
    char hash[FLOWCONFIG_HASH_SIZE];        /* "" when absent */
    struct flowspec spec;                   /* protocols on, collectors */
    struct flowtuning tuning;               /* meaningful for protocols that are on */
    unsigned n_ignored;                     /* unknown keys the parser ignored */
    char first_ignored[FLOWCONFIG_IGNORED_SIZE]; /* the first: "sFlow.foo"; or "" */
};

/* Builds the config the publisher writes: 'spec' + 'tuning', the source object's
 * 'generation' (negative: none), and the hash of the canonical form. */
void flowconfig_build(const struct flowspec *spec, const struct flowtuning *tuning,
                      int64_t generation, struct flowconfig *ret);

/* Parses config text (at most FLOWCONFIG_MAX_BYTES, duplicate keys refused) under
 * the reading rule above.  Returns 0 and writes '*ret', or -EINVAL / -E2BIG with a
 * message in 'err' (-EINVAL also for a version above FLOWCONFIG_VERSION). */
int flowconfig_parse(const char *text, size_t len, struct flowconfig *ret,
                     struct errmsg *err);

/* Same from a parsed JSON object (borrowed). */
int flowconfig_from_json(const json_t *json, struct flowconfig *ret,
                         struct errmsg *err);

/* New reference to the full JSON form, with generation and hash when present.
 * NULL on ENOMEM. */
json_t *flowconfig_to_json(const struct flowconfig *config);

/* The canonical text (compact, fixed key order, with generation and hash when
 * present).  Caller frees with free(); NULL on ENOMEM. */
char *flowconfig_dump(const struct flowconfig *config);

/* Computes "sha256:<hex>" over the canonical form without generation and hash. */
void flowconfig_hash(const struct flowconfig *config,
                     char ret[FLOWCONFIG_HASH_SIZE]);

/* The hash 'config' carries, or else the one computed into 'buf'; "" for a
 * NULL 'config'.  Returns 'config->hash', 'buf' or a static "". */
const char *flowconfig_hash_of(const struct flowconfig *config,
                               char buf[FLOWCONFIG_HASH_SIZE]);

/* True when both configs ask OVS for the same thing (generation and hash ignored;
 * tuning of a protocol that is off ignored). */
bool flowconfig_same(const struct flowconfig *a, const struct flowconfig *b);

/* ---- the ConfigMap: the payload under FLOWCONFIG_KEY of its "data" ---- */

/* The payload text in 'data' (a ConfigMap's data object, borrowed; NULL
 * allowed): '*ret_text' points into 'data', '*ret_len' is its length.  -ENOENT
 * when there is no string under FLOWCONFIG_KEY. */
int flowconfig_data_text(const json_t *data, const char **ret_text, size_t *ret_len);

/* Parses the payload in 'data' as its writer reads it back: flowconfig_parse(),
 * and the hash must match the content, because a writer trusts it to decide that
 * nothing needs writing (a hand-edited text is rewritten).  Appliers parse the
 * text with flowconfig_parse() alone: they apply what they are given.  -ENOENT
 * without the key, -EINVAL or -E2BIG, with a message in 'err' (may be NULL). */
int flowconfig_data_parse(const json_t *data, struct flowconfig *ret,
                          struct errmsg *err);

/* Sets the payload of 'data' (a ConfigMap's data object, changed in place) to
 * the canonical text of 'config'; other keys are left alone.  -ENOMEM. */
int flowconfig_data_set(json_t *data, const struct flowconfig *config);

#endif
