/* uninstall — an uninstall (the applier's DaemonSet deleted) against any other
 * stop of an applier.  See uninstall.h for the rules and why. */
#include "exportflows/kube/uninstall.h"

#include <errno.h>
#include <string.h>

#include "exportflows/kube/kube.h"

const char *const uninstall_mode_names[] = {
    [UNINSTALL_AUTO] = "auto",
    [UNINSTALL_ALWAYS] = "always",
    [UNINSTALL_NEVER] = "never",
    NULL,
};

const char *
uninstall_state_name(enum uninstall_state state)
{
    switch (state) {
    case UNINSTALL_PRESENT:
        return "present";
    case UNINSTALL_DELETING:
        return "deleting";
    case UNINSTALL_GONE:
        return "gone";
    case UNINSTALL_UNKNOWN:
        break;
    }
    return "unknown";
}

enum uninstall_state
uninstall_state_of(int get_rc, const json_t *daemonset)
{
    const json_t *deleted;

    if (get_rc == -ENOENT) {
        return UNINSTALL_GONE;
    } else if (get_rc < 0 || !json_is_object(daemonset)) {
        return UNINSTALL_UNKNOWN;
    }
    deleted = kube_meta(daemonset, "deletionTimestamp");
    return json_is_string(deleted) && json_string_length(deleted) > 0
           ? UNINSTALL_DELETING : UNINSTALL_PRESENT;
}

int
uninstall_get_state(struct kube_client *client, const char *namespace,
                    const char *name, unsigned timeout_ms,
                    enum uninstall_state *ret, struct errmsg *err)
{
    char path[KUBE_PATH_MAX];
    json_t *ds = NULL;
    int rc;

    *ret = UNINSTALL_UNKNOWN;
    if (!kube_name_valid(namespace, 63) || !kube_name_valid(name, KUBE_NAME_MAX)) {
        return errmsg_set(err, -EINVAL, "invalid namespace or DaemonSet name");
    }
    rc = kube_path(path, sizeof path, "/apis/apps/v1/namespaces/%s/daemonsets/%s",
                   namespace, name);
    if (rc < 0) {
        return errmsg_set(err, rc, "DaemonSet path too long");
    }
    rc = kube_get(client, path, timeout_ms, &ds, err);
    *ret = uninstall_state_of(rc, ds);
    json_decref(ds);
    return *ret == UNINSTALL_UNKNOWN ? (rc < 0 ? rc : -EPROTO) : 0;
}

bool
uninstall_should_clear(enum uninstall_mode mode, const char *daemonset,
                       enum uninstall_state at_start, enum uninstall_state at_exit,
                       const char **ret_why)
{
    const char *why;
    bool clear = false;

    if (mode == UNINSTALL_ALWAYS) {
        why = "--clear-on-exit=always";
        clear = true;
    } else if (mode == UNINSTALL_NEVER) {
        why = "--clear-on-exit=never";
    } else if (!daemonset || !*daemonset) {
        why = "no --daemonset to ask whether this is an uninstall";
    } else if (at_start == UNINSTALL_GONE) {
        why = "the DaemonSet named by --daemonset did not exist when this applier "
              "started (check the name)";
    } else if (at_exit == UNINSTALL_PRESENT) {
        why = "the DaemonSet is still there: a restart, a rolling update, a drain or "
              "a node shutdown";
    } else if (at_exit == UNINSTALL_DELETING) {
        why = "the DaemonSet is being deleted: exportflows is being uninstalled";
        clear = true;
    } else if (at_exit == UNINSTALL_GONE) {
        why = "the DaemonSet is gone: exportflows is being uninstalled";
        clear = true;
    } else {
        why = "cannot tell whether this is an uninstall: the API server gave no "
              "answer about the DaemonSet";
    }
    if (ret_why) {
        *ret_why = why;
    }
    return clear;
}
