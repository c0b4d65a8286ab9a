/* admission — see include/exportflows/admission.h.
 *
 * A review runs in three steps, each a small function: decode (is this an
 * AdmissionReview v1 request, and what does it ask about), evaluate (validate,
 * ratchet) and encode (the reply).  Everything borrowed from the request lives
 * in 'struct review', which owns what was parsed and the report.
 *
 * The body is scanned once (jsonscan_fields(), no allocation), which finds
 * every member a review reads (field_paths).  Decoding then takes one of three
 * readers with the same outcome:
 *   - the fast path (decode_fast()) hands the two members flowspec reads
 *     (spec.exportNetworkFlows, spec.defaultNetwork.type) to
 *     flowspec_validate_text() as text when they have the usual shapes (else
 *     as jansson trees to flowspec_validate()); trees of the new and old specs
 *     are built only when the new spec is invalid, for flowspec_same().  It
 *     handles the requests Kubernetes sends, and gives up (-ENOTSUP) on
 *     anything else: a field of the wrong type, a missing field, text too long
 *     for its buffer;
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
#include "exportflows/admission.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/clock.h"
#include "exportflows/fielderr.h"
#include "exportflows/flowspec.h"
#include "exportflows/goduration.h"
#include "exportflows/jsonbudget.h"
#include "exportflows/jsonscan.h"
#include "exportflows/jsontext.h"
#include "exportflows/ovsflowsconfig.h"

/* How jansson parses a body (JSONTEXT_PARSE_FLAGS): a string may hold
 * "\u0000" (an annotation value can be any string), which jsonscan accepts
 * alike; the strings a review reads are checked for it (get_text(),
 * fast_text()). */
#define PARSE_FLAGS JSONTEXT_PARSE_FLAGS

/* Longest ?timeout= text; Go durations Kubernetes sends are a few characters. */
#define TIMEOUT_TEXT_MAX 32

/* Longest uid, operation and name the fast path copies; longer ones (never
 * sent by Kubernetes: uids are 36 bytes, names at most 253) take the tree path. */
#define FAST_UID_SIZE 256
#define FAST_OPERATION_SIZE 32
#define FAST_NAME_SIZE 256
/* Longest collector and network type the fast path copies; a longer collector
 * is an error anyway ("at most 64 characters"), reported by the tree path. */
#define FAST_COLLECTOR_SIZE (COLLECTOR_INPUT_MAX + 2)
#define FAST_TYPE_SIZE 64

/* What a review reads, by key path; every other member is only checked.  The
 * fast path reads the first F_FAST_N (the leaves, and the objects and the
 * spec); the sparse tree (sparse_tree()) also needs the other containers on
 * the way, to know whether each is an object.  The scan for the fast path
 * looks for its own paths only: each more path costs every key a compare. */
enum field {
    F_API_VERSION, F_KIND, F_UID, F_OPERATION, F_GROUP, F_RESOURCE, F_SUB_RESOURCE,
    F_NAME, F_OBJECT, F_OBJECT_NAME, F_SPEC, F_EXPORT, F_NETWORK_TYPE, F_OLD_OBJECT,
    F_OLD_EXPORT, F_FAST_N = F_OLD_EXPORT + 1,
    F_ROOT = F_FAST_N, F_REQUEST, F_RESOURCE_REF, F_METADATA, F_DEFAULT_NETWORK, F_OLD_SPEC,
    F_NAMESPACE, F_DATA, F_OLD_DATA,    /* ovs-flows-config, never on the fast path */
    F_N
};

static const char *const path_root[] = { NULL };
static const char *const path_api_version[] = { "apiVersion", NULL };
static const char *const path_kind[] = { "kind", NULL };
static const char *const path_request[] = { "request", NULL };
static const char *const path_uid[] = { "request", "uid", NULL };
static const char *const path_operation[] = { "request", "operation", NULL };
static const char *const path_resource_ref[] = { "request", "resource", NULL };
static const char *const path_group[] = { "request", "resource", "group", NULL };
static const char *const path_resource[] = { "request", "resource", "resource", NULL };
static const char *const path_sub_resource[] = { "request", "subResource", NULL };
static const char *const path_name[] = { "request", "name", NULL };
static const char *const path_object[] = { "request", "object", NULL };
static const char *const path_metadata[] = { "request", "object", "metadata", NULL };
static const char *const path_object_name[] = { "request", "object", "metadata", "name",
                                                NULL };
static const char *const path_spec[] = { "request", "object", "spec", NULL };
static const char *const path_export[] = { "request", "object", "spec",
                                           "exportNetworkFlows", NULL };
static const char *const path_default_network[] = { "request", "object", "spec",
                                                    "defaultNetwork", NULL };
static const char *const path_network_type[] = { "request", "object", "spec",
                                                 "defaultNetwork", "type", NULL };
static const char *const path_old_object[] = { "request", "oldObject", NULL };
static const char *const path_old_spec[] = { "request", "oldObject", "spec", NULL };
static const char *const path_old_export[] = { "request", "oldObject", "spec",
                                               "exportNetworkFlows", NULL };
static const char *const path_namespace[] = { "request", "namespace", NULL };
static const char *const path_data[] = { "request", "object", "data", NULL };
static const char *const path_old_data[] = { "request", "oldObject", "data", NULL };

static const char *const *const field_paths[F_N] = {
    [F_ROOT] = path_root, [F_API_VERSION] = path_api_version, [F_KIND] = path_kind,
    [F_REQUEST] = path_request, [F_UID] = path_uid, [F_OPERATION] = path_operation,
    [F_RESOURCE_REF] = path_resource_ref, [F_GROUP] = path_group,
    [F_RESOURCE] = path_resource, [F_SUB_RESOURCE] = path_sub_resource,
    [F_NAME] = path_name, [F_OBJECT] = path_object, [F_METADATA] = path_metadata,
    [F_OBJECT_NAME] = path_object_name, [F_SPEC] = path_spec, [F_EXPORT] = path_export,
    [F_DEFAULT_NETWORK] = path_default_network, [F_NETWORK_TYPE] = path_network_type,
    [F_OLD_OBJECT] = path_old_object, [F_OLD_SPEC] = path_old_spec,
    [F_OLD_EXPORT] = path_old_export, [F_NAMESPACE] = path_namespace,
    [F_DATA] = path_data, [F_OLD_DATA] = path_old_data,
};

/* What the scanner found in the body. */
struct scan {
    bool ok;                        /* false: it could not read the body */
    size_t n_fields;                /* v[0 .. n_fields - 1] were looked for */
    struct jsonscan_value v[F_N];
};

struct review {
    const char *uid;                /* borrowed from 'root' or the buffers below */
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
    json_t *fast_spec;              /* owned: the members of spec flowspec reads */
    json_t *fast_old_spec;          /* owned: oldObject's, built when needed */
    bool spec_as_text;              /* validate 'text_spec', not 'spec' */
    struct flowspec_text text_spec; /* borrows the buffers below */
    struct jsonscan_value export;   /* spec.exportNetworkFlows */
    struct jsonscan_value network_type;     /* spec.defaultNetwork.type */
    struct jsonscan_value old_export;   /* oldObject.spec.exportNetworkFlows */
    char uid_buf[FAST_UID_SIZE];
    char operation_buf[FAST_OPERATION_SIZE];
    char name_buf[FAST_NAME_SIZE];
    char type_buf[FAST_TYPE_SIZE];
    char collector_buf[FLOWPROTO_N][FLOWSPEC_MAX_COLLECTORS][FAST_COLLECTOR_SIZE];
};

static void
review_init(struct review *rv)
{
    rv->uid = rv->operation = NULL;
    rv->name = "";
    rv->checked = rv->has_old = rv->ratcheted = rv->fast = rv->spec_as_text = false;
    rv->flows_config = false;
    rv->scan = NULL;
    rv->spec = rv->old_object = rv->data = rv->old_data = NULL;
    rv->root = rv->fast_spec = rv->fast_old_spec = NULL;
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
    json_decref(rv->fast_spec);
    json_decref(rv->fast_old_spec);
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

/* The value 'v' (found by the scanner, so valid) as a new tree: by jsonscan's
 * builder, or by jansson for the long real it gives up on.  0 or -ENOMEM. */
static int
load_value(const struct jsonscan_value *v, json_t **ret)
{
    int error = jsonscan_load(v->text, v->len, ret);

    if (error == -ENOTSUP) {
        *ret = json_loadb(v->text, v->len, PARSE_FLAGS | JSON_DECODE_ANY, NULL);
        error = *ret ? 0 : -ENOMEM;
    }
    return error;
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
    enum field field, parent;
    const char *key;
    enum sparse_kind kind;
} sparse_members[] = {
    { F_API_VERSION, F_ROOT, "apiVersion", SPARSE_STRING },
    { F_KIND, F_ROOT, "kind", SPARSE_STRING },
    { F_REQUEST, F_ROOT, "request", SPARSE_OBJECT },
    { F_UID, F_REQUEST, "uid", SPARSE_STRING },
    { F_OPERATION, F_REQUEST, "operation", SPARSE_STRING },
    { F_RESOURCE_REF, F_REQUEST, "resource", SPARSE_OBJECT },
    { F_GROUP, F_RESOURCE_REF, "group", SPARSE_STRING },
    { F_RESOURCE, F_RESOURCE_REF, "resource", SPARSE_STRING },
    { F_SUB_RESOURCE, F_REQUEST, "subResource", SPARSE_STRING },
    { F_NAME, F_REQUEST, "name", SPARSE_STRING },
    { F_NAMESPACE, F_REQUEST, "namespace", SPARSE_STRING },
    { F_OBJECT, F_REQUEST, "object", SPARSE_OBJECT },
    { F_METADATA, F_OBJECT, "metadata", SPARSE_OBJECT },
    { F_OBJECT_NAME, F_METADATA, "name", SPARSE_STRING },
    { F_DATA, F_OBJECT, "data", SPARSE_WHOLE },
    { F_SPEC, F_OBJECT, "spec", SPARSE_OBJECT_OR_WHOLE },
    { F_EXPORT, F_SPEC, "exportNetworkFlows", SPARSE_WHOLE },
    { F_DEFAULT_NETWORK, F_SPEC, "defaultNetwork", SPARSE_OBJECT },
    { F_NETWORK_TYPE, F_DEFAULT_NETWORK, "type", SPARSE_WHOLE },
    { F_OLD_OBJECT, F_REQUEST, "oldObject", SPARSE_OBJECT },
    { F_OLD_DATA, F_OLD_OBJECT, "data", SPARSE_WHOLE },
    { F_OLD_SPEC, F_OLD_OBJECT, "spec", SPARSE_OBJECT },
    { F_OLD_EXPORT, F_OLD_SPEC, "exportNetworkFlows", SPARSE_WHOLE },
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
        return v->type == JSONSCAN_STRING ? load_value(v, ret)
               : (*ret = json_null(), 0);
    case SPARSE_OBJECT:
        *ret = object ? json_object() : json_null();
        break;
    case SPARSE_OBJECT_OR_WHOLE:
        if (!object) {
            return load_value(v, ret);
        }
        *ret = json_object();
        break;
    case SPARSE_WHOLE:
    default:
        return load_value(v, ret);
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
    json_t *objects[F_N] = { NULL };
    json_t *root;

    if (scan->v[F_ROOT].type != JSONSCAN_OBJECT) {
        /* An array (the scanner reads nothing else at the top): reviews read
         * it as they read any value that is not an object. */
        *ret = json_array();
        return *ret ? 0 : -ENOMEM;
    }
    root = objects[F_ROOT] = json_object();
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

    if (sparse && rv->scan->ok && rv->scan->n_fields < F_N) {
        /* Scanned for the fast path: again, for every field. */
        rv->scan->ok = jsonscan_fields(body, len, field_paths, F_N, rv->scan->v) == 0;
        rv->scan->n_fields = F_N;
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

/* ---- the fast path ---------------------------------------------------------- */

/* Decodes the string 'v' into 'buf'; -ENOTSUP when it is not a string, too
 * long, or holds a NUL byte (a tree path reports it). */
static int
fast_text(const struct jsonscan_value *v, char *buf, size_t size, const char **ret)
{
    size_t len;

    if (jsonscan_string(v, buf, size, &len) || strlen(buf) != len) {
        return -ENOTSUP;
    }
    *ret = buf;
    return 0;
}

/* Sets 'key' of 'object' to the tree of 'v' unless 'v' is absent. */
static int
fast_set(json_t *object, const char *key, const struct jsonscan_value *v)
{
    json_t *value;
    int error;

    if (v->type == JSONSCAN_ABSENT) {
        return 0;
    }
    error = load_value(v, &value);
    if (error) {
        return error;
    }
    return json_object_set_new(object, key, value) ? -ENOMEM : 0;
}

/* A spec holding only what flowspec reads: exportNetworkFlows and
 * defaultNetwork.type, each when present ('type' may be NULL). */
static int
fast_spec_new(const struct jsonscan_value *export, const struct jsonscan_value *type,
              json_t **ret)
{
    json_t *spec = json_object(), *network = NULL;
    int error = spec ? fast_set(spec, "exportNetworkFlows", export) : -ENOMEM;

    if (!error && type && type->type != JSONSCAN_ABSENT) {
        network = json_object();
        error = network ? fast_set(network, "type", type) : -ENOMEM;
        if (!error && json_object_set(spec, "defaultNetwork", network)) {
            error = -ENOMEM;
        }
    }
    json_decref(network);
    if (error) {
        json_decref(spec);
        return error;
    }
    *ret = spec;
    return 0;
}

/* The object's name as object_name() finds it: metadata.name, else
 * request.name, else "". */
static int
fast_name(struct review *rv, const struct jsonscan_value *v)
{
    const struct jsonscan_value *name = v[F_OBJECT_NAME].type == JSONSCAN_STRING
                                        ? &v[F_OBJECT_NAME] : &v[F_NAME];

    if (name->type != JSONSCAN_STRING) {
        rv->name = "";
        return 0;
    }
    return fast_text(name, rv->name_buf, sizeof rv->name_buf, &rv->name);
}

/* What decode_envelope(), decode_request() and resource_is_network() accept,
 * or -ENOTSUP. */
static int
fast_request(struct review *rv, const struct jsonscan_value *v)
{
    const struct jsonscan_value *sub = &v[F_SUB_RESOURCE];
    bool network;

    if (!jsonscan_string_is(&v[F_API_VERSION], ADMISSION_API_VERSION)
        || !jsonscan_string_is(&v[F_KIND], "AdmissionReview")
        || fast_text(&v[F_UID], rv->uid_buf, sizeof rv->uid_buf, &rv->uid) || !*rv->uid
        || fast_text(&v[F_OPERATION], rv->operation_buf, sizeof rv->operation_buf,
                     &rv->operation)
        || v[F_GROUP].type != JSONSCAN_STRING || v[F_RESOURCE].type != JSONSCAN_STRING
        || fast_name(rv, v)) {
        return -ENOTSUP;
    }
    /* ConfigMaps are rare here (one of them is checked): the tree path. */
    if (jsonscan_string_is(&v[F_GROUP], "") && jsonscan_string_is(&v[F_RESOURCE], "configmaps")) {
        return -ENOTSUP;
    }
    /* A subResource that is not a string counts as none, as in the tree path. */
    network = jsonscan_string_is(&v[F_GROUP], ADMISSION_GROUP)
              && jsonscan_string_is(&v[F_RESOURCE], ADMISSION_RESOURCE)
              && (sub->type != JSONSCAN_STRING || jsonscan_string_is(sub, ""));
    /* Unequal because of a NUL byte: resource_is_network() refuses it. */
    if (!network && (jsonscan_string_has_nul(&v[F_GROUP])
                     || jsonscan_string_has_nul(&v[F_RESOURCE])
                     || jsonscan_string_has_nul(sub))) {
        return -ENOTSUP;
    }
    rv->checked = network && (!strcmp(rv->operation, "CREATE")
                              || !strcmp(rv->operation, "UPDATE"));
    return 0;
}

/* The collector list 'list' (an array) as text into 'out', decoded into
 * 'bufs'.  -ENOTSUP for what flowspec_validate_text() does not take: an entry
 * that is not a string, too many or too long entries. */
static int
text_list(const struct jsonscan_value *list, struct flowspec_text_list *out,
          char (*bufs)[FAST_COLLECTOR_SIZE])
{
    struct jsonscan_value item;
    struct jsonscan_iter it;

    if (jsonscan_iter_init(&it, list)) {
        return -ENOTSUP;
    }
    out->n = 0;
    while (jsonscan_iter_next(&it, NULL, &item)) {
        if (out->n == FLOWSPEC_MAX_COLLECTORS
            || fast_text(&item, bufs[out->n], FAST_COLLECTOR_SIZE, &out->items[out->n])) {
            return -ENOTSUP;
        }
        out->n++;
    }
    return 0;
}

/* A protocol's value in 'out': null, a list, or {"collectors": list or null}
 * and nothing else ({} and a null list: no collectors).  -ENOTSUP for any other shape. */
static int
text_protocol(const struct jsonscan_value *value, struct flowspec_text_list *out,
              char (*bufs)[FAST_COLLECTOR_SIZE])
{
    struct jsonscan_value key, list = { JSONSCAN_ABSENT, NULL, 0 };
    struct jsonscan_iter it;

    out->n = 0;
    if (value->type == JSONSCAN_NULL) {
        out->shape = FLOWSPEC_SHAPE_OFF;
        return 0;
    }
    if (value->type == JSONSCAN_ARRAY) {
        out->shape = FLOWSPEC_SHAPE_LIST;
        return text_list(value, out, bufs);
    }
    if (jsonscan_iter_init(&it, value) || value->type != JSONSCAN_OBJECT) {
        return -ENOTSUP;
    }
    out->shape = FLOWSPEC_SHAPE_RELEASED;
    while (jsonscan_iter_next(&it, &key, &list)) {
        if (!jsonscan_string_is(&key, "collectors")) {
            return -ENOTSUP;
        }
    }
    if (list.type == JSONSCAN_ABSENT || list.type == JSONSCAN_NULL) {
        out->shape = FLOWSPEC_SHAPE_NO_COLLECTORS;
        return 0;
    }
    return list.type == JSONSCAN_ARRAY ? text_list(&list, out, bufs) : -ENOTSUP;
}

/* The protocol a key of exportNetworkFlows names, FLOWPROTO_N for none. */
static enum flowproto
text_protocol_key(const struct jsonscan_value *key)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (jsonscan_string_is(key, flowproto_name((enum flowproto) p))) {
            return (enum flowproto) p;
        }
    }
    return FLOWPROTO_N;
}

/* Reads the spec as flowspec_validate_text() takes it, sparing the trees of
 * the collector lists: 0, or -ENOTSUP (a shape it does not take; a tree then
 * goes to flowspec_validate()). */
static int
text_spec(struct review *rv)
{
    struct flowspec_text *t = &rv->text_spec;
    struct jsonscan_value key, value;
    struct jsonscan_iter it;

    memset(t, 0, sizeof *t);
    if (rv->network_type.type == JSONSCAN_STRING) {
        if (fast_text(&rv->network_type, rv->type_buf, sizeof rv->type_buf,
                      &t->network_type)) {
            return -ENOTSUP;
        }
    } else if (rv->network_type.type != JSONSCAN_ABSENT) {
        return -ENOTSUP;
    }
    if (rv->export.type == JSONSCAN_ABSENT || rv->export.type == JSONSCAN_NULL) {
        return 0;
    }
    if (rv->export.type != JSONSCAN_OBJECT || jsonscan_iter_init(&it, &rv->export)) {
        return -ENOTSUP;
    }
    while (jsonscan_iter_next(&it, &key, &value)) {
        enum flowproto p = text_protocol_key(&key);

        if (p == FLOWPROTO_N || text_protocol(&value, &t->proto[p], rv->collector_buf[p])) {
            return -ENOTSUP;
        }
    }
    return 0;
}

/* The new spec's tree (only what flowspec reads), for flowspec_validate() or
 * flowspec_same().  0 or -ENOTSUP. */
static int
fast_new_spec(struct review *rv)
{
    if (!rv->fast_spec && fast_spec_new(&rv->export, &rv->network_type, &rv->fast_spec)) {
        return -ENOTSUP;
    }
    rv->spec = rv->fast_spec;
    return 0;
}

/* The fast path's decode of the scanned body: 0, or -ENOTSUP for a tree path
 * to take over. */
static int
decode_fast(struct review *rv)
{
    const struct jsonscan_value *v = rv->scan->v;

    rv->fast = true;
    if (!rv->scan->ok || fast_request(rv, v)) {
        return -ENOTSUP;
    }
    if (!rv->checked) {
        return 0;
    }
    if (v[F_OBJECT].type != JSONSCAN_OBJECT
        || (v[F_SPEC].type != JSONSCAN_ABSENT && v[F_SPEC].type != JSONSCAN_OBJECT)) {
        return -ENOTSUP;
    }
    if (v[F_SPEC].type == JSONSCAN_OBJECT) {
        rv->export = v[F_EXPORT];
        rv->network_type = v[F_NETWORK_TYPE];
        rv->spec_as_text = text_spec(rv) == 0;
        if (!rv->spec_as_text && fast_new_spec(rv)) {
            return -ENOTSUP;
        }
    }
    rv->has_old = !strcmp(rv->operation, "UPDATE") && v[F_OLD_OBJECT].type == JSONSCAN_OBJECT;
    rv->old_export = v[F_OLD_EXPORT];
    return 0;
}

/* oldObject's spec for flowspec_same(), which reads only exportNetworkFlows:
 * on the fast path a spec holding that alone (absent when oldObject's spec is
 * absent or not an object, which flowspec_same() reads alike).  0 or -ENOTSUP. */
static int
old_spec(struct review *rv, const json_t **ret)
{
    if (!rv->fast) {
        *ret = json_object_get(rv->old_object, "spec");
        return 0;
    }
    if (!rv->fast_old_spec && fast_spec_new(&rv->old_export, NULL, &rv->fast_old_spec)) {
        return -ENOTSUP;
    }
    *ret = rv->fast_old_spec;
    return 0;
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
    error = rv->spec_as_text
            ? flowspec_validate_text(&rv->text_spec, &rv->report, &normalised)
            : flowspec_validate(rv->spec, &rv->report, &normalised);
    if (error && rv->has_old) {
        /* flowspec_same() compares trees: an invalid spec read as text gets
         * one now. */
        if ((rv->spec_as_text && fast_new_spec(rv)) || old_spec(rv, &old)) {
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
    scan.n_fields = reader == ADMISSION_READER_AUTO ? F_FAST_N : F_N;
    scan.ok = reader != ADMISSION_READER_WHOLE
              && jsonscan_fields(body, len, field_paths, scan.n_fields, scan.v) == 0;
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
