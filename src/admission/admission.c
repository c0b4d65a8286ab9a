/* admission — see include/exportflows/admission/admission.h.
 *
 * A review runs in three steps, each a small function: decode (is this an
 * AdmissionReview v1 request, and what does it ask about), evaluate (validate,
 * ratchet) and encode (the reply).  Everything borrowed from the request lives
 * in 'struct review', which owns what was parsed and the report.
 *
 * The body is scanned once (jsonscan_fields(), no allocation), which finds
 * every member a review reads (enum admission_field and admission_field_paths,
 * in admission_fast.h).  Decoding then takes one of three readers with the
 * same outcome:
 *   - the fast path (src/admission/admission_fast.c, called by decode_fast()) hands the
 *     two members flowspec reads (spec.exportNetworkFlows,
 *     spec.defaultNetwork.type) to flowspec_validate_text() as text when they
 *     have the usual shapes (else as jansson trees to flowspec_validate());
 *     trees of the new and old specs are built only when the new spec is
 *     invalid, for flowspec_same().  It handles the requests Kubernetes sends,
 *     and gives up (-ENOTSUP) on anything else: a field of the wrong type, a
 *     missing field, text too long for its buffer;
 *   - the sparse tree (sparse_tree()) is a tree of only the members a review
 *     reads, built from what the scan found, on which the tree checks
 *     (decode_envelope(), decode_request()) decide and word every error: a
 *     body of a million values costs a few small trees;
 *   - the whole tree (whole_tree()), only for a body the scanner could not
 *     read: invalid JSON, whose error jansson words, or what jsonscan gives up
 *     on (nesting past 64, objects wider than 64 keys).
 * A request the fast path gives up on is reviewed again from the start from
 * the sparse tree, so the fast path only needs to be right on what it accepts,
 * and the unit tests compare the three readers' replies byte for byte.  Every
 * jansson value of a review counts against ADMISSION_TREE_BYTES_MAX
 * (jsonbudget): past it the review stops with -E2BIG instead of growing. */
#include "exportflows/admission/admission.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/clock.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/base/goduration.h"
#include "exportflows/admission/jsonbudget.h"
#include "exportflows/admission/jsonscan.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/admission/ovsflowsconfig.h"

#include "admission_fast.h"

/* How jansson parses a body (JSONTEXT_PARSE_FLAGS): a string may hold
 * "\u0000" (an annotation value can be any string), which jsonscan accepts
 * alike; the strings a review reads are checked for it (get_text() here,
 * the decoded length on the fast path). */
#define PARSE_FLAGS JSONTEXT_PARSE_FLAGS

/* Longest ?timeout= text; Go durations Kubernetes sends are a few characters. */
#define TIMEOUT_TEXT_MAX 32

/* What the scanner found in the body. */
struct scan {
    bool ok;                        /* false: it could not read the body */
    size_t n_fields;                /* v[0 .. n_fields - 1] were looked for */
    struct jsonscan_value v[AF_N];
};

struct review {
    const char *uid;                /* borrowed from 'root' or 'fast_path' */
    const char *operation;
    const char *name;               /* "" when the request names nothing */
    bool checked;                   /* a Network or ovs-flows-config CREATE/UPDATE */
    bool flows_config;              /* ... of ovs-flows-config (the tree path only) */
    const json_t *data, *old_data;  /* its data and oldObject's (borrowed; may be NULL) */
    bool has_old;                   /* ... an UPDATE with an oldObject object */
    const json_t *spec;             /* the object's spec (borrowed), may be NULL */
    bool ratcheted;
    struct fielderr_list report;    /* errors and warnings of the new spec */
    struct fielderr_list warnings;  /* what goes into response.warnings */

    /* The tree path. */
    json_t *root;                   /* owned: the parsed request body */
    const json_t *old_object;       /* borrowed from 'root'; may be NULL */

    struct scan *scan;              /* borrowed: the body as the scanner read it */

    /* The fast path. */
    bool fast;
    struct admission_fast fast_path;        /* owned: what it read */
};

static void
review_init(struct review *rv)
{
    rv->uid = rv->operation = NULL;
    rv->name = "";
    rv->checked = rv->has_old = rv->ratcheted = rv->fast = false;
    rv->flows_config = false;
    rv->scan = NULL;
    rv->spec = rv->old_object = rv->data = rv->old_data = NULL;
    rv->root = NULL;
    admission_fast_init(&rv->fast_path);
    fielderr_list_init(&rv->report);
    fielderr_list_init(&rv->warnings);
}

/* Frees what 'rv' owns; review_init() makes it usable again. */
static void
review_release(struct review *rv)
{
    fielderr_list_release(&rv->warnings);
    fielderr_list_release(&rv->report);
    json_decref(rv->root);
    admission_fast_release(&rv->fast_path);
}

/* Copies 'src' (may be NULL) into 'dst' for logging: cut to fit, control
 * characters replaced, so a hostile uid cannot forge log lines. */
static void
copy_printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src && src[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    dst[i] = '\0';
}

/* True when 'deadline' (CLOCK_MONOTONIC, NULL for none) is now or past. */
static bool
deadline_passed(const struct timespec *deadline)
{
    struct timespec now;

    if (!deadline) {
        return false;
    }
    now = clock_monotonic_now();
    return now.tv_sec > deadline->tv_sec
           || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* The string member 'key' of 'obj' into '*ret' (borrowed; NULL when absent
 * or not a string, which reviews read alike).  -EINVAL, the reason naming
 * 'field', when it holds a NUL byte: read as a C string it would be cut short
 * ("CREATE\u0000x" taken for "CREATE"). */
static int
get_text(const json_t *obj, const char *key, const char *field, const char **ret,
         struct errmsg *err)
{
    const json_t *value = json_object_get(obj, key);

    if (jsontext_has_nul(value)) {
        return errmsg_set(err, -EINVAL, "%s " JSONTEXT_NUL_DETAIL, field);
    }
    *ret = json_string_value(value);
    return 0;
}

/* The body as one tree, built once: by jsonscan's builder when the scanner
 * read it ('scanned'), else by jansson, which also words the error.  jansson's
 * messages are one line except for the quoted token, which may hold control
 * characters: they are replaced. */
static int
whole_tree(const char *body, size_t len, bool scanned, json_t **ret, struct errmsg *err)
{
    json_error_t jerr;
    json_t *root = NULL;

    /* The builder only gives up on a real too long to copy; jansson reads it. */
    if (scanned && jsonscan_load(body, len, &root) == -ENOMEM) {
        return errmsg_set(err, -ENOMEM, "out of memory parsing the body");
    }
    if (!root) {
        root = json_loadb(body, len, PARSE_FLAGS, &jerr);
    }
    if (!root) {
        char text[sizeof jerr.text];

        /* An empty message means the lexer could not even be set up: jansson
         * reports that allocation failure without a code. */
        if (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]) {
            return errmsg_set(err, -ENOMEM, "out of memory parsing the body");
        }
        copy_printable(text, sizeof text, jerr.text);
        return errmsg_set(err, -EINVAL, "body is not valid JSON: %s (line %d, column %d)",
                          text, jerr.line, jerr.column);
    }
    *ret = root;
    return 0;
}

/* See admission.h: validated by the scanner, which allocates nothing, then
 * built by one reader or the other. */
int
admission_parse_body(const char *body, size_t len, json_t **ret, struct errmsg *err)
{
    return whole_tree(body, len, jsonscan_fields(body, len, NULL, 0, NULL) == 0, ret, err);
}

/* How a member of the sparse tree is made from what the scanner found. */
enum sparse_kind {
    SPARSE_STRING,          /* read as a string only: any other value as null */
    SPARSE_WHOLE,           /* read whole: its tree */
    SPARSE_OBJECT,          /* looked into: an object to fill, any other value as null */
    SPARSE_OBJECT_OR_WHOLE, /* looked into, or reported whole when not an object */
};

/* Every member a tree review reads (decode_envelope(), decode_request(),
 * flowspec_validate() and flowspec_same(); for ovs-flows-config the namespace
 * and both objects' data), parents first.  A value read only
 * through json_is_object(), json_object_get() or json_string_value() reads
 * alike as null whatever it is, so only strings and the values reported
 * whole are built. */
static const struct sparse_member {
    enum admission_field field, parent;
    const char *key;
    enum sparse_kind kind;
} sparse_members[] = {
    { AF_API_VERSION, AF_ROOT, "apiVersion", SPARSE_STRING },
    { AF_KIND, AF_ROOT, "kind", SPARSE_STRING },
    { AF_REQUEST, AF_ROOT, "request", SPARSE_OBJECT },
    { AF_UID, AF_REQUEST, "uid", SPARSE_STRING },
    { AF_OPERATION, AF_REQUEST, "operation", SPARSE_STRING },
    { AF_RESOURCE_REF, AF_REQUEST, "resource", SPARSE_OBJECT },
    { AF_GROUP, AF_RESOURCE_REF, "group", SPARSE_STRING },
    { AF_RESOURCE, AF_RESOURCE_REF, "resource", SPARSE_STRING },
    { AF_SUB_RESOURCE, AF_REQUEST, "subResource", SPARSE_STRING },
    { AF_NAME, AF_REQUEST, "name", SPARSE_STRING },
    { AF_NAMESPACE, AF_REQUEST, "namespace", SPARSE_STRING },
    { AF_OBJECT, AF_REQUEST, "object", SPARSE_OBJECT },
    { AF_METADATA, AF_OBJECT, "metadata", SPARSE_OBJECT },
    { AF_OBJECT_NAME, AF_METADATA, "name", SPARSE_STRING },
    { AF_DATA, AF_OBJECT, "data", SPARSE_WHOLE },
    { AF_SPEC, AF_OBJECT, "spec", SPARSE_OBJECT_OR_WHOLE },
    { AF_EXPORT, AF_SPEC, "exportNetworkFlows", SPARSE_WHOLE },
    { AF_DEFAULT_NETWORK, AF_SPEC, "defaultNetwork", SPARSE_OBJECT },
    { AF_NETWORK_TYPE, AF_DEFAULT_NETWORK, "type", SPARSE_WHOLE },
    { AF_OLD_OBJECT, AF_REQUEST, "oldObject", SPARSE_OBJECT },
    { AF_OLD_DATA, AF_OLD_OBJECT, "data", SPARSE_WHOLE },
    { AF_OLD_SPEC, AF_OLD_OBJECT, "spec", SPARSE_OBJECT },
    { AF_OLD_EXPORT, AF_OLD_SPEC, "exportNetworkFlows", SPARSE_WHOLE },
};

/* The tree of member 'm', whose scanned value 'v' is present; '*ret_object'
 * is the tree too when it is an object to fill.  0 or -ENOMEM. */
static int
sparse_value(const struct sparse_member *m, const struct jsonscan_value *v, json_t **ret,
             json_t **ret_object)
{
    bool object = v->type == JSONSCAN_OBJECT;

    *ret_object = NULL;
    switch (m->kind) {
    case SPARSE_STRING:
        return v->type == JSONSCAN_STRING ? jsonscan_load_value(v, ret)
               : (*ret = json_null(), 0);
    case SPARSE_OBJECT:
        *ret = object ? json_object() : json_null();
        break;
    case SPARSE_OBJECT_OR_WHOLE:
        if (!object) {
            return jsonscan_load_value(v, ret);
        }
        *ret = json_object();
        break;
    case SPARSE_WHOLE:
    default:
        return jsonscan_load_value(v, ret);
    }
    if (!*ret) {
        return -ENOMEM;
    }
    *ret_object = object ? *ret : NULL;
    return 0;
}

/* A tree of the scanned body holding only what a review reads, built from the
 * scanner's findings (sparse_members, every field looked for): the same
 * review as the whole tree, at the cost of a few small values whatever else
 * the body holds. */
static int
sparse_tree(const struct scan *scan, json_t **ret)
{
    json_t *objects[AF_N] = { NULL };
    json_t *root;

    if (scan->v[AF_ROOT].type != JSONSCAN_OBJECT) {
        /* An array (the scanner reads nothing else at the top): reviews read
         * it as they read any value that is not an object. */
        *ret = json_array();
        return *ret ? 0 : -ENOMEM;
    }
    root = objects[AF_ROOT] = json_object();
    if (!root) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < sizeof sparse_members / sizeof sparse_members[0]; i++) {
        const struct sparse_member *m = &sparse_members[i];
        const struct jsonscan_value *v = &scan->v[m->field];
        json_t *value = NULL;

        if (!objects[m->parent] || v->type == JSONSCAN_ABSENT) {
            continue;
        }
        if (sparse_value(m, v, &value, &objects[m->field])
            || json_object_set_new(objects[m->parent], m->key, value)) {
            json_decref(root);
            return -ENOMEM;
        }
    }
    *ret = root;
    return 0;
}

/* Checks the envelope: apiVersion, kind and a request object. */
static int
decode_envelope(const json_t *root, const json_t **ret_request, struct errmsg *err)
{
    const char *api_version = NULL, *kind = NULL;
    const json_t *request = json_object_get(root, "request");
    int error;

    if (!json_is_object(root)) {
        return errmsg_set(err, -EINVAL, "body is not a JSON object");
    }
    if ((error = get_text(root, "apiVersion", "apiVersion", &api_version, err))
        || (error = get_text(root, "kind", "kind", &kind, err))) {
        return error;
    }
    if (!api_version || strcmp(api_version, ADMISSION_API_VERSION)) {
        return errmsg_set(err, -EINVAL, "apiVersion must be \"%s\"", ADMISSION_API_VERSION);
    }
    if (!kind || strcmp(kind, "AdmissionReview")) {
        return errmsg_set(err, -EINVAL, "kind must be \"AdmissionReview\"");
    }
    if (!json_is_object(request)) {
        return errmsg_set(err, -EINVAL, "request is missing or not an object");
    }
    *ret_request = request;
    return 0;
}

/* Writes whether the request is about the networks.operator.openshift.io
 * resource itself (a subresource such as "status" cannot change the spec). */
static int
resource_is_network(const json_t *request, bool *ret, struct errmsg *err)
{
    const json_t *resource = json_object_get(request, "resource");
    const char *group = NULL, *name = NULL, *sub = NULL;
    int error;

    if ((error = get_text(resource, "group", "request.resource.group", &group, err))
        || (error = get_text(resource, "resource", "request.resource.resource", &name, err))
        || (error = get_text(request, "subResource", "request.subResource", &sub, err))) {
        return error;
    }
    if (!group || !name) {
        return errmsg_set(err, -EINVAL,
                          "request.resource must have string group and resource");
    }
    *ret = !strcmp(group, ADMISSION_GROUP) && !strcmp(name, ADMISSION_RESOURCE)
           && (!sub || !*sub);
    return 0;
}

/* Whether the request is about the ConfigMap ovs-flows-config in the network
 * operator's namespace, named 'name', into '*ret'.  The namespace is read only
 * for a ConfigMap, as the fast path leaves ConfigMaps to the tree path: -EINVAL
 * when it holds a NUL byte.  (resource_is_network() refused one in the group,
 * resource and subResource.) */
static int
resource_is_flows_config(const json_t *request, const char *name, bool *ret,
                         struct errmsg *err)
{
    const json_t *resource = json_object_get(request, "resource");
    const char *sub = json_string_value(json_object_get(request, "subResource"));
    const char *namespace = NULL;
    int error;

    *ret = false;
    if (!jsontext_is(json_object_get(resource, "group"), "")
        || !jsontext_is(json_object_get(resource, "resource"), "configmaps")
        || (sub && *sub)) {
        return 0;
    }
    error = get_text(request, "namespace", "request.namespace", &namespace, err);
    if (!error) {
        *ret = namespace && !strcmp(namespace, OVSFLOWSCONFIG_NAMESPACE)
               && !strcmp(name, OVSFLOWSCONFIG_NAME);
    }
    return error;
}

/* The object's name for messages: metadata.name, else request.name, else "".
 * 0, or -EINVAL when the name it reads holds a NUL byte. */
static int
object_name(const json_t *request, const json_t *object, const char **ret,
            struct errmsg *err)
{
    const char *name = NULL;
    int error = get_text(json_object_get(object, "metadata"), "name",
                         "request.object.metadata.name", &name, err);

    if (!error && !name) {
        error = get_text(request, "name", "request.name", &name, err);
    }
    if (!error) {
        *ret = name ? name : "";
    }
    return error;
}

/* Fills 'rv' from the request: uid, operation, and the objects to check. */
static int
decode_request(struct review *rv, const json_t *request, struct errmsg *err)
{
    const json_t *object;
    bool network = false;
    int error;

    if ((error = get_text(request, "uid", "request.uid", &rv->uid, err))) {
        return error;
    }
    if (!rv->uid || !*rv->uid) {
        return errmsg_set(err, -EINVAL, "request.uid is missing or empty");
    }
    if ((error = get_text(request, "operation", "request.operation", &rv->operation, err))) {
        return error;
    }
    if (!rv->operation) {
        return errmsg_set(err, -EINVAL, "request.operation is missing or not a string");
    }
    error = resource_is_network(request, &network, err);
    if (!error) {
        error = object_name(request, json_object_get(request, "object"), &rv->name, err);
    }
    if (!error && !network) {
        error = resource_is_flows_config(request, rv->name, &rv->flows_config, err);
    }
    if (error) {
        return error;
    }
    rv->checked = (network || rv->flows_config) && (!strcmp(rv->operation, "CREATE")
                                                    || !strcmp(rv->operation, "UPDATE"));
    if (!rv->checked) {
        return 0;
    }
    object = json_object_get(request, "object");
    if (!json_is_object(object)) {
        return errmsg_set(err, -EINVAL, "request.object is missing or not an object");
    }
    rv->spec = json_object_get(object, "spec");
    rv->data = json_object_get(object, "data");
    if (!strcmp(rv->operation, "UPDATE")) {
        rv->old_object = json_object_get(request, "oldObject");
        rv->has_old = json_is_object(rv->old_object);
        rv->old_data = json_object_get(rv->old_object, "data");
    }
    return 0;
}

/* The tree path: the body as a tree into rv->root (owned by 'rv' also on
 * failure), then the fields 'rv' borrows from it.  'sparse': only the members
 * a review reads, from the scan (the whole body when the scanner could not
 * read it). */
static int
decode_tree(struct review *rv, const char *body, size_t len, bool sparse,
            struct errmsg *err)
{
    const json_t *request = NULL;
    int error;

    if (sparse && rv->scan->ok && rv->scan->n_fields < AF_N) {
        /* Scanned for the fast path: again, for every field. */
        rv->scan->ok = jsonscan_fields(body, len, admission_field_paths, AF_N,
                                       rv->scan->v) == 0;
        rv->scan->n_fields = AF_N;
    }
    if (sparse && rv->scan->ok) {
        error = sparse_tree(rv->scan, &rv->root);
        if (error) {
            errmsg_set(err, error, "out of memory parsing the body");
        }
    } else {
        error = whole_tree(body, len, rv->scan->ok, &rv->root, err);
    }
    if (!error) {
        error = decode_envelope(rv->root, &request, err);
    }
    if (!error) {
        error = decode_request(rv, request, err);
    }
    return error;
}

/* ---- the fast path (admission_fast.h) --------------------------------------- */

/* The Network a review checks, for the fast path. */
static const struct admission_fast_target network_target = {
    .api_version = ADMISSION_API_VERSION, .group = ADMISSION_GROUP,
    .resource = ADMISSION_RESOURCE,
};

/* The fast path's decode of the scanned body into 'rv', which borrows from
 * rv->fast_path: 0, or -ENOTSUP for a tree path to take over. */
static int
decode_fast(struct review *rv)
{
    struct admission_fast *f = &rv->fast_path;

    rv->fast = true;
    if (!rv->scan->ok || admission_fast_decode(f, rv->scan->v, &network_target)) {
        return -ENOTSUP;
    }
    rv->uid = f->uid;
    rv->operation = f->operation;
    rv->name = f->name;
    rv->checked = f->checked;
    rv->has_old = f->has_old;
    rv->spec = f->spec;
    return 0;
}

/* oldObject's spec for flowspec_same(): from the tree, or on the fast path a
 * spec of what flowspec_same() reads.  0 or -ENOTSUP. */
static int
old_spec(struct review *rv, const json_t **ret)
{
    if (!rv->fast) {
        *ret = json_object_get(rv->old_object, "spec");
        return 0;
    }
    return admission_fast_old_spec(&rv->fast_path, ret);
}

/* Appends every error of 'list' to rv->warnings. */
static void
warn_errors(struct review *rv, const struct fielderr_list *list)
{
    for (size_t i = 0; i < list->n_errors; i++) {
        char *text = fielderr_format(&list->errors[i]);

        if (text) {
            fielderr_warn(&rv->warnings, "%s", text);
        }
        free(text);
    }
}

/* Ratcheting (rule 9): an UPDATE that leaves 'what' (exportNetworkFlows, or
 * the data of ovs-flows-config) as it was is allowed, and the errors it still
 * has become warnings. */
static void
warn_ratcheted(struct review *rv, const char *what)
{
    rv->ratcheted = true;
    fielderr_warn(&rv->warnings, "%s is unchanged and invalid (%zu errors); "
                  "allowed so other edits are not blocked", what,
                  fielderr_list_count(&rv->report));
    warn_errors(rv, &rv->report);
}

/* ovs-flows-config: what would break ovnkube-node denies (ratcheted on an
 * UPDATE that leaves the keys the operator reads as they were); what the
 * operator ignores is a warning, since the operator accepts it too. */
static void
evaluate_flows_config(struct review *rv)
{
    struct fielderr_list ignored;
    struct ovsflowsconfig c;

    fielderr_list_init(&ignored);
    ovsflowsconfig_parse(rv->data, &c, &rv->report, &ignored);
    if (fielderr_list_count(&rv->report) && rv->has_old
        && ovsflowsconfig_same(rv->old_data, rv->data)) {
        warn_ratcheted(rv, "data");
    }
    warn_errors(rv, &ignored);
    for (size_t i = 0; i < rv->report.n_warnings; i++) {
        fielderr_warn(&rv->warnings, "%s", rv->report.warnings[i]);
    }
    fielderr_list_release(&ignored);
}

/* Validates the new spec into rv->report and gathers rv->warnings: the
 * ratcheting notes first, then the validation warnings.  0, or -ENOTSUP when
 * the fast path cannot read oldObject. */
static int
evaluate(struct review *rv)
{
    struct flowspec normalised;
    const json_t *old = NULL;
    int error;

    if (!rv->checked) {
        return 0;
    }
    if (rv->flows_config) {
        evaluate_flows_config(rv);
        return 0;
    }
    error = rv->fast_path.spec_as_text
            ? flowspec_validate_text(&rv->fast_path.text_spec, &rv->report, &normalised)
            : flowspec_validate(rv->spec, &rv->report, &normalised);
    if (error && rv->has_old) {
        /* flowspec_same() compares trees: an invalid spec read as text gets
         * one now. */
        if ((rv->fast_path.spec_as_text && admission_fast_spec(&rv->fast_path, &rv->spec))
            || old_spec(rv, &old)) {
            return -ENOTSUP;
        }
        if (flowspec_same(old, rv->spec)) {
            warn_ratcheted(rv, FLOWSPEC_FIELD);
        }
    }
    for (size_t i = 0; i < rv->report.n_warnings; i++) {
        fielderr_warn(&rv->warnings, "%s", rv->report.warnings[i]);
    }
    return 0;
}

/* Rule 9 aside, any error denies. */
static bool
is_allowed(const struct review *rv)
{
    return !rv->checked || rv->ratcheted || fielderr_list_count(&rv->report) == 0;
}

/* One details.causes entry, as Kubernetes builds it from a field.Error.  New
 * reference, NULL on ENOMEM (as for every *_new() below). */
static json_t *
cause_new(const struct fielderr *e)
{
    char *message = fielderr_message(e);
    json_t *cause = NULL;

    if (message) {
        cause = json_pack("{s:s, s:s, s:s}", "reason", fielderr_type_reason(e->type),
                          "message", message, "field", e->field);
    }
    free(message);
    return cause;
}

/* details.causes: one entry per error kept in 'report'. */
static json_t *
causes_new(const struct fielderr_list *report)
{
    json_t *causes = json_array();

    for (size_t i = 0; causes && i < report->n_errors; i++) {
        if (json_array_append_new(causes, cause_new(&report->errors[i]))) {
            json_decref(causes);
            causes = NULL;
        }
    }
    return causes;
}

/* The message of Kubernetes' NewInvalid(), the kind qualified by its group
 * unless it is the core group:
 *   Network.operator.openshift.io "cluster" is invalid: <every error>
 *   ConfigMap "ovs-flows-config" is invalid: <every error> */
static json_t *
invalid_message_new(const char *kind, const char *group, const char *name,
                    const struct fielderr_list *report)
{
    char *summary = fielderr_list_summary(report);
    json_t *message = NULL;

    if (summary) {
        message = json_sprintf("%s%s%s \"%s\" is invalid: %s", kind, *group ? "." : "",
                               group, name, summary);
    }
    free(summary);
    return message;
}

/* response.status of a deny: a metav1.Status with reason Invalid and code 422;
 * details.group is left out for the core group, as Kubernetes leaves it out. */
static json_t *
status_new(const struct review *rv)
{
    const char *kind = rv->flows_config ? "ConfigMap" : ADMISSION_KIND;
    const char *group = rv->flows_config ? "" : ADMISSION_GROUP;
    json_t *details = json_pack("{s:s}", "name", rv->name);

    if (details && *group && json_object_set_new(details, "group", json_string(group))) {
        json_decref(details);
        details = NULL;
    }
    if (details && (json_object_set_new(details, "kind", json_string(kind))
                    || json_object_set_new(details, "causes", causes_new(&rv->report)))) {
        json_decref(details);
        details = NULL;
    }
    return json_pack("{s:{}, s:s, s:o, s:s, s:o, s:i}", "metadata", "status", "Failure",
                     "message", invalid_message_new(kind, group, rv->name, &rv->report),
                     "reason", "Invalid", "details", details, "code", 422);
}

/* response.warnings, already within Kubernetes' limits (fielderr_warn()). */
static json_t *
warnings_new(const struct fielderr_list *warnings)
{
    json_t *array = json_array();

    for (size_t i = 0; array && i < warnings->n_warnings; i++) {
        if (json_array_append_new(array, json_string(warnings->warnings[i]))) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

/* The AdmissionResponse: uid, allowed, and status and warnings when there
 * are any; never a patch. */
static json_t *
response_new(const struct review *rv)
{
    json_t *response = json_pack("{s:s, s:b}", "uid", rv->uid,
                                 "allowed", is_allowed(rv));

    if (response && !is_allowed(rv)
        && json_object_set_new(response, "status", status_new(rv))) {
        goto fail;
    }
    if (response && rv->warnings.n_warnings
        && json_object_set_new(response, "warnings", warnings_new(&rv->warnings))) {
        goto fail;
    }
    return response;

fail:
    json_decref(response);
    return NULL;
}

/* The reply to a plain allow, written from a template: what json_dumps()
 * writes for it, byte for byte, when the uid needs no escaping.  -ENOTSUP when
 * it does. */
static int
encode_allowed(const struct review *rv, char **ret_reply, size_t *ret_len)
{
    static const char head[] = "{\"apiVersion\":\"" ADMISSION_API_VERSION "\","
                               "\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"";
    static const char tail[] = "\",\"allowed\":true}}";
    size_t uid_len = strlen(rv->uid), len;
    char *text;

    for (size_t i = 0; i < uid_len; i++) {
        unsigned char c = (unsigned char) rv->uid[i];

        if (c < 0x20 || c == '"' || c == '\\') {
            return -ENOTSUP;
        }
    }
    len = sizeof head - 1 + uid_len + sizeof tail - 1;
    text = malloc(len + 1);
    if (!text) {
        return -ENOMEM;
    }
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, rv->uid, uid_len);
    memcpy(text + sizeof head - 1 + uid_len, tail, sizeof tail);
    *ret_reply = text;
    *ret_len = len;
    return 0;
}

/* The reply text into '*ret_reply' (caller frees) and its length. */
static int
encode(const struct review *rv, char **ret_reply, size_t *ret_len)
{
    json_t *reply;
    char *text;
    int error;

    if (is_allowed(rv) && rv->warnings.n_warnings == 0
        && (error = encode_allowed(rv, ret_reply, ret_len)) != -ENOTSUP) {
        return error;
    }

    reply = json_pack("{s:s, s:s, s:o}", "apiVersion", ADMISSION_API_VERSION,
                              "kind", "AdmissionReview", "response", response_new(rv));
    text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (!text) {
        return -ENOMEM;
    }
    *ret_reply = text;
    *ret_len = strlen(text);
    return 0;
}

/* Copies what the caller logs and counts into 'summary' (may be NULL). */
static void
summarise(const struct review *rv, struct admission_summary *summary)
{
    if (!summary) {
        return;
    }
    copy_printable(summary->uid, sizeof summary->uid, rv->uid);
    copy_printable(summary->operation, sizeof summary->operation, rv->operation);
    copy_printable(summary->name, sizeof summary->name, rv->name);
    summary->allowed = is_allowed(rv);
    summary->checked = rv->checked;
    summary->flows_config = rv->flows_config;
    summary->ratcheted = rv->ratcheted;
    summary->n_errors = fielderr_list_count(&rv->report);
    summary->n_warnings = rv->warnings.n_warnings;
}

/* Decodes with one reader and evaluates: 0, -EINVAL and -ETIMEDOUT with 'err'
 * set, -ENOMEM, or -ENOTSUP when the fast path gives up. */
static int
review_run(struct review *rv, enum admission_reader reader, const char *body, size_t len,
           const struct timespec *deadline, struct errmsg *err)
{
    int error = reader == ADMISSION_READER_AUTO ? decode_fast(rv)
                : decode_tree(rv, body, len, reader == ADMISSION_READER_SPARSE, err);

    if (!error && deadline_passed(deadline)) {
        error = errmsg_set(err, -ETIMEDOUT, "the request's timeout passed");
    }
    return error ? error : evaluate(rv);
}

/* The error for a review the memory budget cut short (see jsonbudget.h). */
static int
budget_error(enum jsonbudget_refusal refusal, struct errmsg *err)
{
    if (refusal == JSONBUDGET_OVER_TOTAL) {
        return errmsg_set(err, -EBUSY, "too many large requests at once, retry later");
    }
    return errmsg_set(err, -E2BIG, "request too complex: reviewing it would take more "
                      "than %d MiB of memory", ADMISSION_TREE_BYTES_MAX >> 20);
}

/* Decodes, evaluates and encodes with 'reader' (AUTO: the fast path, then
 * the sparse tree when it gives up), within the memory budget. */
static int
review_within_budget(struct review *rv, enum admission_reader reader, const char *body,
                     size_t len, const struct timespec *deadline, char **ret_reply,
                     size_t *ret_len, struct errmsg *err)
{
    int error = review_run(rv, reader, body, len, deadline, err);

    if (error == -ENOTSUP && jsonbudget_refused() == JSONBUDGET_OK) {
        struct scan *scan = rv->scan;

        review_release(rv);
        review_init(rv);
        rv->scan = scan;
        error = review_run(rv, ADMISSION_READER_SPARSE, body, len, deadline, err);
    }
    if (!error) {
        error = deadline_passed(deadline)
                ? errmsg_set(err, -ETIMEDOUT, "the request's timeout passed")
                : encode(rv, ret_reply, ret_len);
        if (error == -ENOMEM) {
            errmsg_set(err, error, "out of memory building the reply");
        }
    }
    return error;
}

int
admission_review_by(enum admission_reader reader, const char *body, size_t len,
                    const struct timespec *deadline, char **ret_reply, size_t *ret_len,
                    struct admission_summary *summary, struct errmsg *err)
{
    struct jsonbudget_usage usage;
    struct review rv;
    struct scan scan;
    int error;

    review_init(&rv);
    jsonbudget_begin(ADMISSION_TREE_BYTES_MAX);
    scan.n_fields = reader == ADMISSION_READER_AUTO ? AF_FAST_N : AF_N;
    scan.ok = reader != ADMISSION_READER_WHOLE
              && jsonscan_fields(body, len, admission_field_paths, scan.n_fields,
                                 scan.v) == 0;
    rv.scan = &scan;
    error = review_within_budget(&rv, reader, body, len, deadline, ret_reply, ret_len, err);
    summarise(&rv, summary);
    review_release(&rv);
    jsonbudget_end(&usage);
    if (usage.refusal != JSONBUDGET_OK) {
        if (!error) {
            free(*ret_reply);
        }
        error = budget_error(usage.refusal, err);
    }
    if (summary) {
        summary->tree_bytes = usage.peak;
    }
    return error;
}

int
admission_review(const char *body, size_t len, const struct timespec *deadline,
                 char **ret_reply, size_t *ret_len,
                 struct admission_summary *summary, struct errmsg *err)
{
    return admission_review_by(ADMISSION_READER_AUTO, body, len, deadline, ret_reply,
                               ret_len, summary, err);
}

int
admission_parse_timeout(const char *text, uint64_t *ret_us)
{
    size_t len = strnlen(text, TIMEOUT_TEXT_MAX + 1);
    int64_t ns;
    int error;

    if (len > TIMEOUT_TEXT_MAX) {
        return -EINVAL;
    }
    error = goduration_parse(text, len, &ns);
    if (error) {
        return error;
    }
    if (ns <= 0 || (uint64_t) ns > ADMISSION_TIMEOUT_MAX_US * 1000) {
        return -ERANGE;
    }
    *ret_us = ((uint64_t) ns + 999) / 1000;
    return 0;
}

struct timespec
admission_deadline(uint64_t timeout_us)
{
    struct timespec t = clock_monotonic_now();

    t.tv_sec += (time_t) (timeout_us / 1000000);
    t.tv_nsec += (long) (timeout_us % 1000000) * 1000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}
