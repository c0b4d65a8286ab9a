/* admission_fast — see src/admission/admission_fast.h.  Every function reads what the
 * tree path (admission.c: decode_envelope(), decode_request(),
 * resource_is_network(), object_name()) would read, and gives up where the two
 * could differ. */
#include "admission_fast.h"

#include <errno.h>
#include <string.h>

/* The key paths of enum admission_field. */
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

const char *const *const admission_field_paths[AF_N] = {
    [AF_ROOT] = path_root, [AF_API_VERSION] = path_api_version, [AF_KIND] = path_kind,
    [AF_REQUEST] = path_request, [AF_UID] = path_uid, [AF_OPERATION] = path_operation,
    [AF_RESOURCE_REF] = path_resource_ref, [AF_GROUP] = path_group,
    [AF_RESOURCE] = path_resource, [AF_SUB_RESOURCE] = path_sub_resource,
    [AF_NAME] = path_name, [AF_OBJECT] = path_object, [AF_METADATA] = path_metadata,
    [AF_OBJECT_NAME] = path_object_name, [AF_SPEC] = path_spec, [AF_EXPORT] = path_export,
    [AF_DEFAULT_NETWORK] = path_default_network, [AF_NETWORK_TYPE] = path_network_type,
    [AF_OLD_OBJECT] = path_old_object, [AF_OLD_SPEC] = path_old_spec,
    [AF_OLD_EXPORT] = path_old_export, [AF_NAMESPACE] = path_namespace,
    [AF_DATA] = path_data, [AF_OLD_DATA] = path_old_data,
};

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
    error = jsonscan_load_value(v, &value);
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
fast_name(struct admission_fast *f, const struct jsonscan_value *v)
{
    const struct jsonscan_value *name = v[AF_OBJECT_NAME].type == JSONSCAN_STRING
                                        ? &v[AF_OBJECT_NAME] : &v[AF_NAME];

    if (name->type != JSONSCAN_STRING) {
        f->name = "";
        return 0;
    }
    return fast_text(name, f->name_buf, sizeof f->name_buf, &f->name);
}

/* What decode_envelope(), decode_request() and resource_is_network() accept,
 * or -ENOTSUP. */
static int
fast_request(struct admission_fast *f, const struct jsonscan_value *v,
             const struct admission_fast_target *target)
{
    const struct jsonscan_value *sub = &v[AF_SUB_RESOURCE];
    bool network;

    if (!jsonscan_string_is(&v[AF_API_VERSION], target->api_version)
        || !jsonscan_string_is(&v[AF_KIND], "AdmissionReview")
        || fast_text(&v[AF_UID], f->uid_buf, sizeof f->uid_buf, &f->uid) || !*f->uid
        || fast_text(&v[AF_OPERATION], f->operation_buf, sizeof f->operation_buf,
                     &f->operation)
        || v[AF_GROUP].type != JSONSCAN_STRING || v[AF_RESOURCE].type != JSONSCAN_STRING
        || fast_name(f, v)) {
        return -ENOTSUP;
    }
    /* ConfigMaps are rare here (one of them is checked): the tree path. */
    if (jsonscan_string_is(&v[AF_GROUP], "")
        && jsonscan_string_is(&v[AF_RESOURCE], "configmaps")) {
        return -ENOTSUP;
    }
    /* A subResource that is not a string counts as none, as in the tree path. */
    network = jsonscan_string_is(&v[AF_GROUP], target->group)
              && jsonscan_string_is(&v[AF_RESOURCE], target->resource)
              && (sub->type != JSONSCAN_STRING || jsonscan_string_is(sub, ""));
    /* Unequal because of a NUL byte: resource_is_network() refuses it. */
    if (!network && (jsonscan_string_has_nul(&v[AF_GROUP])
                     || jsonscan_string_has_nul(&v[AF_RESOURCE])
                     || jsonscan_string_has_nul(sub))) {
        return -ENOTSUP;
    }
    f->checked = network && (!strcmp(f->operation, "CREATE")
                              || !strcmp(f->operation, "UPDATE"));
    return 0;
}

/* The collector list 'list' (an array) as text into 'out', decoded into
 * 'bufs'.  -ENOTSUP for what flowspec_validate_text() does not take: an entry
 * that is not a string, too many or too long entries. */
static int
text_list(const struct jsonscan_value *list, struct flowspec_text_list *out,
          char (*bufs)[ADMISSION_FAST_COLLECTOR_SIZE])
{
    struct jsonscan_value item;
    struct jsonscan_iter it;

    if (jsonscan_iter_init(&it, list)) {
        return -ENOTSUP;
    }
    out->n = 0;
    while (jsonscan_iter_next(&it, NULL, &item)) {
        if (out->n == FLOWSPEC_MAX_COLLECTORS
            || fast_text(&item, bufs[out->n], ADMISSION_FAST_COLLECTOR_SIZE,
                         &out->items[out->n])) {
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
              char (*bufs)[ADMISSION_FAST_COLLECTOR_SIZE])
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
text_spec(struct admission_fast *f)
{
    struct flowspec_text *t = &f->text_spec;
    struct jsonscan_value key, value;
    struct jsonscan_iter it;

    memset(t, 0, sizeof *t);
    if (f->network_type.type == JSONSCAN_STRING) {
        if (fast_text(&f->network_type, f->type_buf, sizeof f->type_buf,
                      &t->network_type)) {
            return -ENOTSUP;
        }
    } else if (f->network_type.type != JSONSCAN_ABSENT) {
        return -ENOTSUP;
    }
    if (f->export.type == JSONSCAN_ABSENT || f->export.type == JSONSCAN_NULL) {
        return 0;
    }
    if (f->export.type != JSONSCAN_OBJECT || jsonscan_iter_init(&it, &f->export)) {
        return -ENOTSUP;
    }
    while (jsonscan_iter_next(&it, &key, &value)) {
        enum flowproto p = text_protocol_key(&key);

        if (p == FLOWPROTO_N || text_protocol(&value, &t->proto[p], f->collector_buf[p])) {
            return -ENOTSUP;
        }
    }
    return 0;
}

int
admission_fast_spec(struct admission_fast *f, const json_t **ret)
{
    if (!f->spec_tree && fast_spec_new(&f->export, &f->network_type, &f->spec_tree)) {
        return -ENOTSUP;
    }
    *ret = f->spec = f->spec_tree;
    return 0;
}

void
admission_fast_init(struct admission_fast *f)
{
    f->uid = f->operation = NULL;
    f->name = "";
    f->checked = f->has_old = f->spec_as_text = false;
    f->spec = f->spec_tree = f->old_spec_tree = NULL;
}

void
admission_fast_release(struct admission_fast *f)
{
    json_decref(f->spec_tree);
    json_decref(f->old_spec_tree);
    f->spec = f->spec_tree = f->old_spec_tree = NULL;
}

int
admission_fast_decode(struct admission_fast *f, const struct jsonscan_value *v,
                      const struct admission_fast_target *target)
{
    if (fast_request(f, v, target)) {
        return -ENOTSUP;
    }
    if (!f->checked) {
        return 0;
    }
    if (v[AF_OBJECT].type != JSONSCAN_OBJECT
        || (v[AF_SPEC].type != JSONSCAN_ABSENT && v[AF_SPEC].type != JSONSCAN_OBJECT)) {
        return -ENOTSUP;
    }
    if (v[AF_SPEC].type == JSONSCAN_OBJECT) {
        const json_t *spec;

        f->export = v[AF_EXPORT];
        f->network_type = v[AF_NETWORK_TYPE];
        f->spec_as_text = text_spec(f) == 0;
        if (!f->spec_as_text && admission_fast_spec(f, &spec)) {
            return -ENOTSUP;
        }
    }
    f->has_old = !strcmp(f->operation, "UPDATE")
                 && v[AF_OLD_OBJECT].type == JSONSCAN_OBJECT;
    f->old_export = v[AF_OLD_EXPORT];
    return 0;
}

int
admission_fast_old_spec(struct admission_fast *f, const json_t **ret)
{
    if (!f->old_spec_tree && fast_spec_new(&f->old_export, NULL, &f->old_spec_tree)) {
        return -ENOTSUP;
    }
    *ret = f->old_spec_tree;
    return 0;
}
