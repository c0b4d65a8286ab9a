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
 * (the released API accepts them).  A protocol object without collectors
 * (`netFlow: {}`) is off too, as the CRD and the network operator treat it, and
 * gets a warning that says so; a protocol with a list needs 1 to 10 collectors.
 * Rule 8 applies only when some protocol has a list.
 * The normalised collectors are sorted (OVS stores a set), so reordering a list
 * changes neither flowspec_equal() nor the published hash. */
#ifndef EXPORTFLOWS_FLOWSPEC_H
#define EXPORTFLOWS_FLOWSPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/fielderr.h"

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

/* Rules 4 to 6 on one collector given as text ('len' bytes; a NUL inside is
 * refused) for 'proto', as flowspec_validate() checks each list entry: for
 * collectors from elsewhere that end up in the same OVS rows (the network
 * operator's ovs-flows-config).  Returns 0 and writes '*ret' and its scope
 * '*ret_scope' (anything but COLLECTOR_SCOPE_UNICAST deserves a warning, worded
 * with collector_scope_name()); or -EINVAL with '*why' a static detail for a
 * Kubernetes field error ("must not be the broadcast address"). */
int flowspec_check_collector(enum flowproto proto, const char *text, size_t len,
                             struct collector *ret, enum collector_scope *ret_scope,
                             const char **why);

/* spec.exportNetworkFlows in its common shapes, as text: what a caller that
 * reads the object without building a jansson tree (the webhook) can give
 * flowspec_validate_text(), which applies the same rules, with the same
 * messages, as flowspec_validate() on the equivalent object.  Other shapes
 * (unknown keys, a list entry that is not a string, a protocol or list of
 * another type, a type that is not a string) need flowspec_validate(). */
enum flowspec_shape {
    FLOWSPEC_SHAPE_OFF,         /* absent or null */
    FLOWSPEC_SHAPE_LIST,        /* "netFlow": ["..."] */
    FLOWSPEC_SHAPE_RELEASED,    /* "netFlow": {"collectors": [...]}, and nothing
                                 * else */
    FLOWSPEC_SHAPE_NO_COLLECTORS, /* "netFlow": {} or {"collectors": null}:
                                   * off, with a warning (n == 0) */
};

struct flowspec_text_list {
    enum flowspec_shape shape;
    size_t n;                                   /* at most FLOWSPEC_MAX_COLLECTORS */
    const char *items[FLOWSPEC_MAX_COLLECTORS]; /* borrowed strings (no NUL inside) */
};

struct flowspec_text {
    struct flowspec_text_list proto[FLOWPROTO_N];
    const char *network_type;   /* spec.defaultNetwork.type (a string), NULL if absent */
};

/* flowspec_validate() on the spec 'spec' describes (borrowed): same rules,
 * same report, same result; -E2BIG (nothing reported) when a list holds more
 * than FLOWSPEC_MAX_COLLECTORS items. */
int flowspec_validate_text(const struct flowspec_text *spec, struct fielderr_list *report,
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
