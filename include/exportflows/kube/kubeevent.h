/* kubeevent — Kubernetes Events (core/v1) about an object, the way a controller
 * tells `kubectl describe` users that something is wrong with what they stored.
 *
 * A small value type, built into the JSON of a core/v1 Event and POSTed:
 *   kind Event, metadata.generateName "<object name>.", involvedObject (apiVersion,
 *   kind, name, namespace, uid, resourceVersion), type, reason, message (shortened
 *   to KUBEEVENT_MESSAGE_MAX bytes on a UTF-8 boundary), source.component,
 *   reportingComponent/reportingInstance, firstTimestamp = lastTimestamp = now,
 *   count 1.
 * The API server insists that an Event about a cluster-scoped object lives in the
 * namespace "default" (or kube-system), and one about a namespaced object in that
 * object's namespace; kubeevent_build() does not second-guess 'namespace'. */
#ifndef EXPORTFLOWS_KUBEEVENT_H
#define EXPORTFLOWS_KUBEEVENT_H

#include <jansson.h>
#include <time.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kube.h"

#define KUBEEVENT_MESSAGE_MAX 1024  /* the API's limit on a note */
#define KUBEEVENT_INSTANCE_MAX 128  /* the API's limit on reportingInstance */

struct kubeevent {
    const char *namespace;      /* where the Event is created */
    const char *api_version;    /* of the object, e.g. "operator.openshift.io/v1" */
    const char *kind;           /* of the object, e.g. "Network" */
    const json_t *object;       /* borrowed: its metadata names it */
    const char *type;           /* "Warning" or "Normal" */
    const char *reason;         /* CamelCase, e.g. "InvalidExportNetworkFlows" */
    const char *message;
    const char *component;      /* e.g. "exportflows-publisher" */
    const char *instance;       /* this replica; shortened to KUBEEVENT_INSTANCE_MAX */
};

/* The Event object for 'ev' at time 'now'.  Caller json_decref()s it; NULL on
 * ENOMEM or when the object has no metadata.name. */
json_t *kubeevent_build(const struct kubeevent *ev, time_t now);

/* Creates the Event for 'ev' now with 'client'.  0, or -errno from kube_create()
 * with its message in 'err'. */
int kubeevent_post(struct kube_client *client, const struct kubeevent *ev,
                   struct errmsg *err);

#endif
