/* kubeevent — see include/exportflows/kube/kubeevent.h. */
#include "exportflows/kube/kubeevent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"

/* Leaves the longest prefix of 's' that fits 'max' bytes and does not end inside a
 * UTF-8 sequence: the API refuses invalid UTF-8. */
static size_t
utf8_prefix(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max) {
        return len;
    }
    len = max;
    /* Back off over continuation bytes to the start of the cut character. */
    while (len > 0 && ((unsigned char) s[len] & 0xC0) == 0x80) {
        len--;
    }
    return len;
}

static json_t *
string_prefix(const char *s, size_t max)
{
    return json_stringn(s ? s : "", utf8_prefix(s ? s : "", max));
}

/* involvedObject: who the Event is about.  Empty members are left out, as
 * client-go's reference does for a cluster-scoped object's namespace. */
static json_t *
involved_object(const struct kubeevent *ev)
{
    static const char *const keys[] = { "name", "namespace", "uid", "resourceVersion" };
    json_t *ref = json_pack("{s:s, s:s}", "apiVersion", ev->api_version, "kind", ev->kind);

    for (size_t i = 0; ref && i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = kube_meta_string(ev->object, keys[i]);

        if (v && *v && json_object_set_new(ref, keys[i], json_string(v))) {
            json_decref(ref);
            return NULL;
        }
    }
    return ref;
}

json_t *
kubeevent_build(const struct kubeevent *ev, time_t now)
{
    const char *name = kube_meta_string(ev->object, "name");
    char stamp[CLOCK_RFC3339_MAX], prefix[300];
    json_t *obj, *ref;

    clock_format_rfc3339(now, stamp);
    if (!name || !*name || !stamp[0]) {
        return NULL;
    }
    /* kubectl's own events are "<name>.<suffix>"; the server picks the suffix. */
    snprintf(prefix, sizeof prefix, "%.200s.", name);
    ref = involved_object(ev);
    if (!ref) {
        return NULL;
    }
    obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:o, s:{s:s}, s:s, s:o, "
                    "s:s, s:s, s:i}",
                    "apiVersion", "v1", "kind", "Event",
                    "metadata", "generateName", prefix, "namespace", ev->namespace,
                    "involvedObject", ref,
                    "type", ev->type, "reason", ev->reason,
                    "message", string_prefix(ev->message, KUBEEVENT_MESSAGE_MAX),
                    "source", "component", ev->component,
                    "reportingComponent", ev->component,
                    "reportingInstance", string_prefix(ev->instance, KUBEEVENT_INSTANCE_MAX),
                    "firstTimestamp", stamp, "lastTimestamp", stamp, "count", 1);
    return obj;
}

int
kubeevent_post(struct kube_client *client, const struct kubeevent *ev, struct errmsg *err)
{
    char path[KUBE_PATH_MAX];
    json_t *obj;
    int r;

    if (kube_path(path, sizeof path, "/api/v1/namespaces/%s/events", ev->namespace)) {
        return errmsg_set(err, -ENAMETOOLONG, "event namespace too long");
    }
    obj = kubeevent_build(ev, time(NULL));
    if (!obj) {
        return errmsg_set(err, -ENOMEM, "cannot build the event (out of memory)");
    }
    r = kube_create(client, path, obj, 0, NULL, err);
    json_decref(obj);
    return r;
}
