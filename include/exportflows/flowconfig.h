/* flowconfig — the applier's input: the normalised spec plus the tuning.
 *
 * This is the ConfigMap key "config.json" (or the applier's --config-file), as in
 * DESIGN.md "What the applier writes":
 *   {"generation": 7, "hash": "sha256:...",
 *    "netFlow": {"collectors": [...], "activeTimeout": 60},
 *    "sFlow":   {"collectors": [...], "agent": "ovn-k8s-mp0", "header": 128,
 *                "sampling": 64, "polling": 10},
 *    "ipfix":   {"collectors": [...], "sampling": 400, "cacheActiveTimeout": 60,
 *                "cacheMaxFlows": 0, "obsDomainID": 123, "obsPointID": 456}}
 * An absent protocol is off.  Parsing is strict: unknown keys, wrong types, values
 * out of range and invalid collectors are refused with one message.  The canonical
 * serialisation (fixed key order, compact) is what the hash covers, without
 * "generation" and "hash" themselves.  A 'struct flowconfig' is a plain value. */
#ifndef EXPORTFLOWS_FLOWCONFIG_H
#define EXPORTFLOWS_FLOWCONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/errmsg.h"
#include "exportflows/flowspec.h"

/* Largest config text accepted by flowconfig_parse(). */
#define FLOWCONFIG_MAX_BYTES (64 * 1024)
#define FLOWCONFIG_AGENT_MAX 64         /* sFlow agent: an interface name or IP */
#define FLOWCONFIG_HASH_SIZE 72         /* "sha256:" + 64 hex + NUL */

/* Per-protocol settings that are not collectors.  Defaults: see
 * flowtuning_init(); they are the publisher's command-line flags. */
struct flowtuning {
    uint32_t netflow_active_timeout;        /* 60 */
    char sflow_agent[FLOWCONFIG_AGENT_MAX]; /* "ovn-k8s-mp0" */
    uint32_t sflow_header;                  /* 128 */
    uint32_t sflow_sampling;                /* 64 */
    uint32_t sflow_polling;                 /* 10 */
    uint32_t ipfix_sampling;                /* 400 */
    uint32_t ipfix_cache_active_timeout;    /* 60 */
    uint32_t ipfix_cache_max_flows;         /* 0: not set */
    uint32_t ipfix_obs_domain_id;           /* 123 */
    uint32_t ipfix_obs_point_id;            /* 456 */
};

void flowtuning_init(struct flowtuning *tuning);

struct flowconfig {
    bool has_generation;
    int64_t generation;
    char hash[FLOWCONFIG_HASH_SIZE];        /* "" when absent */
    struct flowspec spec;                   /* protocols on, collectors */
    struct flowtuning tuning;               /* meaningful for protocols that are on */
};

/* Builds the config the publisher writes: 'spec' + 'tuning', the source object's
 * 'generation' (negative: none), and the hash of the canonical form. */
void flowconfig_build(const struct flowspec *spec, const struct flowtuning *tuning,
                      int64_t generation, struct flowconfig *ret);

/* Parses config text (at most FLOWCONFIG_MAX_BYTES, duplicate keys refused).
 * Returns 0 and writes '*ret', or -EINVAL / -E2BIG with a message in 'err'. */
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

/* True when both configs ask OVS for the same thing (generation and hash ignored;
 * tuning of a protocol that is off ignored). */
bool flowconfig_same(const struct flowconfig *a, const struct flowconfig *b);

#endif
