/* flowspec — the spec.exportNetworkFlows model: validation and normalisation.
 *
 * flowspec_validate() enforces every rule of DESIGN.md "Validation rules" (1–8) on
 * the 'spec' of a networks.operator.openshift.io object and, when there is no
 * error, yields the normalised form: which protocols are on and their canonical,
 * de-duplicated collectors.  The webhook, the publisher and `exportflows validate`
 * all call it, so they give the same messages.  Rule 9 (ratcheting) is the
 * admission module's job, with flowspec_same() deciding "semantically unchanged".
 *
 * `exportNetworkFlows: {}`, and protocols set to null, are allowed and mean "off"
 * (the released API accepts them); a protocol that is present needs 1 to 10
 * collectors.  Rule 8 applies only when some protocol is present and not null.
 * The normalised collectors are sorted (OVS stores a set), so reordering a list
 * changes neither flowspec_equal() nor the published hash. */
#ifndef EXPORTFLOWS_FLOWSPEC_H
#define EXPORTFLOWS_FLOWSPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "exportflows/collector.h"
#include "exportflows/fielderr.h"

#define FLOWSPEC_FIELD "spec.exportNetworkFlows"
#define FLOWSPEC_MAX_COLLECTORS 10

enum flowproto {
    FLOWPROTO_NETFLOW,
    FLOWPROTO_SFLOW,
    FLOWPROTO_IPFIX,
    FLOWPROTO_N
};

/* The API's key for 'proto': "netFlow", "sFlow", "ipfix". */
const char *flowproto_name(enum flowproto proto);

struct flowspec_collectors {
    size_t n;                   /* 0: the protocol is off */
    struct collector items[FLOWSPEC_MAX_COLLECTORS];
};

/* A plain value; nothing to free. */
struct flowspec {
    struct flowspec_collectors proto[FLOWPROTO_N];
};

/* Validates 'spec' (borrowed; the object's "spec", may be NULL) and appends every
 * error and warning to 'report'.  Returns 0 and writes '*ret' when there is no
 * error (also when export is off: every protocol then has n == 0); returns -EINVAL
 * otherwise, leaving '*ret' untouched. */
int flowspec_validate(const json_t *spec, struct fielderr_list *report,
                      struct flowspec *ret);

/* True when spec.exportNetworkFlows of 'a' and 'b' (borrowed specs, may be NULL)
 * mean the same thing: both shapes, collector spelling and absent-vs-null are
 * compared after canonicalising, so invalid values compare too. */
bool flowspec_same(const json_t *a, const json_t *b);

bool flowspec_equal(const struct flowspec *a, const struct flowspec *b);

/* Sort collectors into the normalised order (kind, then address, then port),
 * the order flowspec_validate() yields: one protocol's, or every protocol's. */
void flowspec_sort_collectors(struct flowspec_collectors *cs);
void flowspec_sort(struct flowspec *spec);

#endif
