/* uninstall — tells an uninstall of exportflows from a mere stop of one applier,
 * so that the applier clears br-int's flow export only when exportflows is
 * being removed.
 *
 * The applier is a DaemonSet's pod.  The kubelet sends it SIGTERM for many
 * reasons: a rolling update, a node drain or shutdown, an eviction, a deleted
 * pod, and the DaemonSet's own deletion.  Only the last one is an uninstall, and
 * only then must OVS stop exporting (otherwise flows keep going to the
 * collectors after exportflows is gone).  The API server knows which it is: at
 * SIGTERM the applier GETs apps/v1 daemonsets/<name> in its namespace:
 *   - 404: the DaemonSet is gone (`kubectl delete ds`, default background
 *     cascade: the object goes at once, the garbage collector then deletes the
 *     pods)                                                           -> clear;
 *   - metadata.deletionTimestamp set: the DaemonSet is being deleted
 *     (foreground cascade: it stays until its pods are gone)          -> clear;
 *   - present without deletionTimestamp: a rolling update, a restart, a drain,
 *     a node shutdown; the next pod on this node takes over           -> keep;
 *   - no answer (API server unreachable, timeout, 401/403 because the RBAC or
 *     the service account went first, 5xx): cannot tell               -> keep.
 * Keeping is the safe side: a wrong "clear" stops every node's export during a
 * routine rollout, a wrong "keep" leaves the last config in place as before.
 *
 * The name comes from a flag: a typo would read as "gone" at every restart, so
 * the applier also looks once at start: a DaemonSet that is already gone then
 * (UNINSTALL_GONE) turns "auto" clearing off for the life of the process.
 *
 * Explicit choice instead of the DaemonSet (enum uninstall_mode): "always" and
 * "never" clear or keep on every stop without asking anyone, for the
 * --config-file source (no DaemonSet to ask: "auto" keeps there) and for an
 * administrator who wants one or the other.  A deleted ConfigMap is not taken
 * as a marker: the publisher recreates it (a stray `kubectl delete cm` must not
 * stop export on every node), and an applier keeps the last good config.
 *
 * Plain functions and values; uninstall_get_state() makes one API request and
 * does not log. */
#ifndef EXPORTFLOWS_UNINSTALL_H
#define EXPORTFLOWS_UNINSTALL_H

#include <jansson.h>
#include <stdbool.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kube.h"

/* --clear-on-exit */
enum uninstall_mode {
    UNINSTALL_AUTO,             /* clear when the DaemonSet is gone or going */
    UNINSTALL_ALWAYS,           /* clear on every stop */
    UNINSTALL_NEVER,            /* never clear */
};

/* What the API server said about the DaemonSet. */
enum uninstall_state {
    UNINSTALL_UNKNOWN,          /* no usable answer (or not asked) */
    UNINSTALL_PRESENT,          /* exists, not being deleted */
    UNINSTALL_DELETING,         /* exists with metadata.deletionTimestamp */
    UNINSTALL_GONE,             /* 404 */
};

/* "auto", "always", "never": indexed by enum uninstall_mode, NULL-terminated
 * (the --clear-on-exit choices). */
extern const char *const uninstall_mode_names[];

/* "unknown", "present", "deleting", "gone". */
const char *uninstall_state_name(enum uninstall_state state);

/* The state from a GET of the DaemonSet: 'get_rc' is what kube_get() returned
 * and 'daemonset' (borrowed, may be NULL) the object it gave on success. */
enum uninstall_state uninstall_state_of(int get_rc, const json_t *daemonset);

/* GETs /apis/apps/v1/namespaces/'namespace'/daemonsets/'name' with 'client'
 * within 'timeout_ms' and writes its state to '*ret' (always written).  Returns
 * 0 when the API server answered usefully (present, deleting, 404) and the
 * request's negative errno otherwise (*ret UNINSTALL_UNKNOWN), with the reason
 * in 'err'; -EINVAL for names that are not valid object names. */
int uninstall_get_state(struct kube_client *client, const char *namespace,
                        const char *name, unsigned timeout_ms,
                        enum uninstall_state *ret, struct errmsg *err);

/* Whether a stopping applier clears its rows.  'daemonset' is the DaemonSet's
 * name (NULL or "": none configured), 'at_start' and 'at_exit' what
 * uninstall_get_state() said when the applier started and now.  '*ret_why'
 * (may be NULL) receives a static phrase for the log, such as "the DaemonSet
 * is gone: exportflows is being uninstalled". */
bool uninstall_should_clear(enum uninstall_mode mode, const char *daemonset,
                            enum uninstall_state at_start,
                            enum uninstall_state at_exit, const char **ret_why);

#endif
