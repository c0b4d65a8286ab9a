/* admission_fast — the fast path of admission_review(): a review read straight
 * from jsonscan's findings, without a tree of the request.
 *
 * Private to admission (admission.c is the orchestrator and the only caller
 * besides the unit test).  It also holds the layout of the scan both readers
 * share: which members a review reads (enum admission_field, with the fast
 * path's first) and their key paths, so admission.c scans the body once with
 * admission_field_paths and hands the values here.
 *
 * The fast path takes the requests Kubernetes sends for a Network: the
 * identity, the uid, operation and name as C strings, and the spec as
 * flowspec_validate_text() takes it (collector lists as text, no tree), or as
 * a small tree of only what flowspec reads when its shape is unusual.  It gives
 * up (-ENOTSUP) on anything else: a field of the wrong type, a missing field,
 * text too long for its buffer, a NUL byte, a ConfigMap.  admission.c then
 * reviews the request again from a tree, so the fast path only needs to be right
 * on what it accepts; test_admission compares the readers' replies byte for
 * byte.
 *
 * It does not include admission.h (which sits above it): the Network identity
 * it matches comes in 'struct admission_fast_target'. */
#ifndef EXPORTFLOWS_ADMISSION_FAST_H
#define EXPORTFLOWS_ADMISSION_FAST_H

#include <stdbool.h>

#include <jansson.h>

#include "exportflows/admission/flowspec.h"
#include "exportflows/admission/jsonscan.h"

/* What a review reads, by key path; every other member is only checked.  The
 * fast path reads the first AF_FAST_N (the leaves, and the objects and the
 * spec); the sparse tree also needs the other containers on the way, to know
 * whether each is an object.  The scan for the fast path looks for its own
 * paths only: each more path costs every key a compare. */
enum admission_field {
    AF_API_VERSION, AF_KIND, AF_UID, AF_OPERATION, AF_GROUP, AF_RESOURCE,
    AF_SUB_RESOURCE, AF_NAME, AF_OBJECT, AF_OBJECT_NAME, AF_SPEC, AF_EXPORT,
    AF_NETWORK_TYPE, AF_OLD_OBJECT, AF_OLD_EXPORT, AF_FAST_N = AF_OLD_EXPORT + 1,
    AF_ROOT = AF_FAST_N, AF_REQUEST, AF_RESOURCE_REF, AF_METADATA, AF_DEFAULT_NETWORK,
    AF_OLD_SPEC, AF_NAMESPACE, AF_DATA, AF_OLD_DATA,   /* never on the fast path */
    AF_N
};

/* The key path of each field, for jsonscan_fields(). */
extern const char *const *const admission_field_paths[AF_N];

/* Longest uid, operation and name the fast path copies; longer ones (never
 * sent by Kubernetes: uids are 36 bytes, names at most 253) take the tree path. */
#define ADMISSION_FAST_UID_SIZE 256
#define ADMISSION_FAST_OPERATION_SIZE 32
#define ADMISSION_FAST_NAME_SIZE 256
/* Longest collector and network type the fast path copies; a longer collector
 * is an error anyway ("at most 64 characters"), reported by the tree path. */
#define ADMISSION_FAST_COLLECTOR_SIZE (COLLECTOR_INPUT_MAX + 2)
#define ADMISSION_FAST_TYPE_SIZE 64

/* The AdmissionReview apiVersion and the resource a review checks
 * (ADMISSION_API_VERSION, ADMISSION_GROUP, ADMISSION_RESOURCE); borrowed. */
struct admission_fast_target {
    const char *api_version;
    const char *group;
    const char *resource;
};

/* One fast read.  The caller owns the struct (it is large: keep one per
 * review); admission_fast_init() before use, admission_fast_release() after.
 * The strings point into its buffers; the trees are owned by it. */
struct admission_fast {
    /* What admission_fast_decode() read. */
    const char *uid;                /* non-empty */
    const char *operation;
    const char *name;               /* "" when the request names nothing */
    bool checked;                   /* a Network CREATE or UPDATE */
    bool has_old;                   /* ... an UPDATE with an oldObject object */
    bool spec_as_text;              /* validate 'text_spec' (else 'spec') */
    struct flowspec_text text_spec; /* borrows the buffers below */
    const json_t *spec;             /* the spec's tree (only what flowspec reads)
                                     * when !spec_as_text; NULL when absent */

    /* Its state. */
    json_t *spec_tree;              /* owned: 'spec' once built */
    json_t *old_spec_tree;          /* owned: oldObject's, built when needed */
    struct jsonscan_value export;   /* spec.exportNetworkFlows */
    struct jsonscan_value network_type;     /* spec.defaultNetwork.type */
    struct jsonscan_value old_export;       /* oldObject.spec.exportNetworkFlows */
    char uid_buf[ADMISSION_FAST_UID_SIZE];
    char operation_buf[ADMISSION_FAST_OPERATION_SIZE];
    char name_buf[ADMISSION_FAST_NAME_SIZE];
    char type_buf[ADMISSION_FAST_TYPE_SIZE];
    char collector_buf[FLOWPROTO_N][FLOWSPEC_MAX_COLLECTORS][ADMISSION_FAST_COLLECTOR_SIZE];
};

void admission_fast_init(struct admission_fast *f);

/* Frees the trees 'f' owns; admission_fast_init() makes it usable again. */
void admission_fast_release(struct admission_fast *f);

/* Reads a review of 'target' from 'v' (AF_FAST_N values found by
 * jsonscan_fields() with admission_field_paths; borrowed, with the body they
 * point into, for as long as 'f' is used) into 'f'.  0, or -ENOTSUP for a tree
 * path to take over (also when a tree could not be built). */
int admission_fast_decode(struct admission_fast *f, const struct jsonscan_value *v,
                          const struct admission_fast_target *target);

/* The new spec as a tree (only what flowspec reads; for flowspec_same() when
 * it was read as text), built once and owned by 'f': 0 and '*ret' (also
 * f->spec), or -ENOTSUP. */
int admission_fast_spec(struct admission_fast *f, const json_t **ret);

/* oldObject's spec for flowspec_same(), which reads only exportNetworkFlows: a
 * spec holding that alone (absent when oldObject's spec is absent or not an
 * object, which flowspec_same() reads alike), built once and owned by 'f'.
 * 0 and '*ret', or -ENOTSUP. */
int admission_fast_old_spec(struct admission_fast *f, const json_t **ret);

#endif
