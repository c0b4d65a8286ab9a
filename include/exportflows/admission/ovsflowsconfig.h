/* ovsflowsconfig — the network operator's ConfigMap
 * openshift-network-operator/ovs-flows-config: read it as the operator reads
 * it, say what of it would break ovnkube-node, and merge it into what the
 * publisher publishes as the operator merges it into ovnkube-node's settings
 * (reference facts: OPENSHIFT.md, "The network operator").
 *
 * The operator reads these keys of the ConfigMap's data:
 *   sharedTarget        IP:PORT, the IPFIX target; when absent:
 *   nodePort            PORT, the target then being ":PORT" (each node's IP);
 *                       with neither key the whole ConfigMap is ignored
 *   sampling            unsigned 32-bit decimal (Go's strconv.ParseUint)
 *   cacheMaxFlows       unsigned 32-bit decimal
 *   cacheActiveTimeout  a Go duration ("60s", "1m30s"), whole seconds kept
 * A value that does not parse is ignored on its own and the rest applies.  The
 * merge appends the target to the Network's IPFIX collectors (IPFIX is on with
 * the target alone when the Network has none) and the three numbers replace the
 * publisher's IPFIX tuning.
 *
 * Two kinds of problem, kept apart because the webhook treats them apart:
 *   - values the operator passes on and that then break ovnkube-node or OVS on
 *     every node: a target that is not a collector by the project's rules
 *     (flowspec_check_collector(), as for ipfix in a Network spec), or a
 *     cacheActiveTimeout OVS refuses (negative, over 4200 s).  These are errors
 *     in 'report': the webhook denies them;
 *   - values the operator itself ignores (no target, an empty sharedTarget, a
 *     number or duration that does not parse): errors in 'ignored': the webhook
 *     warns about them.
 * Neither kind is merged by the publisher, which reports both.  Remarks that
 * change nothing (a multicast target, a truncated fraction of a second,
 * nodePort ignored beside sharedTarget, an unknown key) are warnings in
 * 'report'.  An invalid target, like an absent one, leaves the whole ConfigMap
 * unmerged: the other values only ever apply together with a target.
 *
 * A 'struct ovsflowsconfig' is a plain value; nothing to free. */
#ifndef EXPORTFLOWS_OVSFLOWSCONFIG_H
#define EXPORTFLOWS_OVSFLOWSCONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"

#define OVSFLOWSCONFIG_NAMESPACE "openshift-network-operator"
#define OVSFLOWSCONFIG_NAME "ovs-flows-config"

/* OVS's own limit on IPFIX cache_active_timeout (vswitch.ovsschema). */
#define OVSFLOWSCONFIG_CACHE_ACTIVE_TIMEOUT_MAX 4200

/* What of the ConfigMap takes effect.  Without a target nothing does, and
 * the other members say only what parsed. */
struct ovsflowsconfig {
    bool has_target;
    struct collector target;            /* sharedTarget, or ":" nodePort */
    const char *target_key;             /* "sharedTarget" or "nodePort" (static) */
    bool has_sampling;
    uint32_t sampling;                  /* 0: OVS's default (ovnkube-node omits it) */
    bool has_cache_max_flows;
    uint32_t cache_max_flows;           /* 0: no limit */
    bool has_cache_active_timeout;
    uint32_t cache_active_timeout;      /* seconds, 0..4200 */
};

/* Reads 'data' (borrowed: the ConfigMap's "data" object; NULL or not an
 * object reads as empty) into '*ret' and reports as described above, with
 * field paths "data.<key>".  'report' and 'ignored' may be the same list.
 * Never fails (fielderr counts what it cannot keep). */
void ovsflowsconfig_parse(const json_t *data, struct ovsflowsconfig *ret,
                          struct fielderr_list *report, struct fielderr_list *ignored);

/* True when the keys the operator reads have the same values in both (an
 * absent key equals only an absent key): an UPDATE that changes none of them
 * changes nothing ovnkube-node sees. */
bool ovsflowsconfig_same(const json_t *a_data, const json_t *b_data);

/* Merges 'c' into 'spec' (the Network's normalised spec) and 'tuning' as the
 * operator does, when 'c' has a target.  A target the IPFIX list already holds
 * is not added again (ovnkube-node drops duplicates).  Returns 0, also when
 * there is nothing to merge, or -E2BIG when the target is new and the list
 * already holds FLOWSPEC_MAX_COLLECTORS, the most a published config carries:
 * then nothing is merged and an error about the target goes to 'report'. */
int ovsflowsconfig_merge(const struct ovsflowsconfig *c, struct flowspec *spec,
                         struct flowtuning *tuning, struct fielderr_list *report);

/* The tuning part of the merge alone: the one place that writes struct
 * flowtuning from the ConfigMap. */
void ovsflowsconfig_apply_tuning(const struct ovsflowsconfig *c, struct flowtuning *tuning);

#endif
