/* configsource_kube — the applier's config from a Kubernetes ConfigMap, watched
 * through the API (the "kubernetes" kind of struct configsource).
 *
 * A kubewatch lists and watches /api/v1/namespaces/NS/configmaps with the field
 * selector metadata.name=NAME, so the API server sends this one object and nothing
 * else.  The watch thread only records what it saw (under a lock) and wakes the
 * applier's loop through an eventfd; configsource_run(), on the loop's thread,
 * parses data["config.json"] (flowconfig_data_text(), FLOWCONFIG_KEY) with
 * flowconfig_parse().  Parsing on the loop keeps
 * the contract of configsource.h (errors returned by run(), the config borrowed
 * until the next run()) and the watch thread free of anything slow.
 *
 * What it says it saw (the policy is configsource.h's):
 *   - the text of data["config.json"], also when a relist after a watch error or
 *     an API server restart sends the same text again;
 *   - no text, -ENOENT, when the ConfigMap does not exist (yet) or was deleted
 *     ("... not found"), or has no key "config.json" ("... has no key ..."):
 *     the last good config stays applied, as for every source, so that a
 *     publisher that briefly recreates the object does not turn flow export off
 *     on every node.  Turning export off is done by publishing a config without
 *     protocols, never by deleting the ConfigMap.
 * Watch failures (API server unreachable, 5xx, ...) are retried by the kubewatch
 * with backoff; they are not config errors and go to the optional 'report'
 * callback instead, on the watch thread. */
#ifndef EXPORTFLOWS_CONFIGSOURCE_KUBE_H
#define EXPORTFLOWS_CONFIGSOURCE_KUBE_H

#include "exportflows/ovs/configsource.h"
#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/report.h"

struct configsource_kube_config {
    const char *namespace;      /* required, e.g. "exportflows" */
    const char *name;           /* required, e.g. "exportflows-config" */
    unsigned watch_timeout_min_s;   /* 0: kubewatch's default (240) */
    unsigned watch_timeout_max_s;   /* 0: kubewatch's default (480) */
    unsigned backoff_min_ms;        /* 0: kubewatch's default (500) */
    unsigned backoff_max_ms;        /* 0: kubewatch's default (30000) */
    /* Optional, runs on the watch thread: a failure the watch retries by itself
     * ('code' a negative errno value; REPORT_WARN for the first of a run of
     * failures, REPORT_DEBUG for the next ones), and, once the watch delivered
     * again after failures, REPORT_INFO with code 0 ("watching again"). */
    report_fn *report;
    void *aux;
};

/* A source watching the ConfigMap 'kc->name' in 'kc->namespace' (strings copied;
 * 'cfg' borrowed, it must outlive the source).  The watch thread starts at once;
 * the first configsource_run() after the first LIST sees the config.  Caller
 * destroys '*ret' with configsource_destroy(), which stops the thread.  -EINVAL
 * (bad names), -ENOMEM or -errno from the thread's creation, with a message. */
int configsource_kube_create(struct kubeconfig *cfg,
                             const struct configsource_kube_config *kc,
                             struct configsource **ret, struct errmsg *err);

#endif
