/* configsource_kube — the applier's config source on a watched ConfigMap.  The
 * watch thread records the latest observation; the loop parses it.  See
 * configsource_kube.h. */
#include "exportflows/kube/configsource_kube.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubewatch.h"

/* Object names: DNS-1123 subdomains. */

/* What the watch thread last saw of the ConfigMap. */
enum observed {
    OBS_NONE,                   /* nothing yet (no LIST completed) */
    OBS_ABSENT,                 /* no such ConfigMap, or it was deleted */
    OBS_NO_KEY,                 /* it exists without a string FLOWCONFIG_KEY */
    OBS_TEXT,                   /* 'text' holds data[FLOWCONFIG_KEY] */
};

struct kube_source {
    struct configsource up;
    char *namespace, *name;
    struct kubewatch *watch;
    int wake_fd;                /* eventfd: the watch thread -> the loop */

    /* Shared with the watch thread, under 'lock'. */
    pthread_mutex_t lock;
    uint64_t seq;               /* bumped on every observation */
    enum observed pending;
    char *pending_text;
    size_t pending_len;

    /* Watch thread only. */
    bool failing;
    report_fn *report;
    void *aux;

    /* Loop thread only. */
    uint64_t seen_seq;
};

static struct kube_source *
kube_source_cast(const struct configsource *source)
{
    return (struct kube_source *) source;
}

/* ---- the watch thread ---- */

/* Records an observation (takes 'text') and wakes the loop. */
static void
publish(struct kube_source *ks, enum observed obs, char *text, size_t len)
{
    uint64_t one = 1;

    pthread_mutex_lock(&ks->lock);
    free(ks->pending_text);
    ks->pending = obs;
    ks->pending_text = text;
    ks->pending_len = len;
    ks->seq++;
    pthread_mutex_unlock(&ks->lock);
    /* An eventfd only fails to take a write when its counter would overflow,
     * and then it is readable anyway: the loop wakes either way. */
    if (write(ks->wake_fd, &one, sizeof one) < 0) {
        return;
    }
}

/* Records what 'cm' (a ConfigMap, borrowed) says.  Out of memory counts as "no
 * key": the next event or relist tries again. */
static void
observe(struct kube_source *ks, const json_t *cm)
{
    const char *value;
    char *text;
    size_t len;

    if (flowconfig_data_text(json_object_get(cm, "data"), &value, &len)) {
        publish(ks, OBS_NO_KEY, NULL, 0);
        return;
    }
    text = malloc(len + 1);
    if (!text) {
        publish(ks, OBS_NO_KEY, NULL, 0);
        return;
    }
    memcpy(text, value, len);
    text[len] = '\0';
    publish(ks, OBS_TEXT, text, len);
}

static bool
is_ours(const struct kube_source *ks, const json_t *obj)
{
    const char *name = kube_meta_string(obj, "name");

    return name && !strcmp(name, ks->name);
}

static void
note_delivery(struct kube_source *ks)
{
    if (ks->failing) {
        ks->failing = false;
        report_send(ks->report, ks->aux, REPORT_INFO, 0, "watching again");
    }
}

static void
on_synced(void *ctx, const json_t *items)
{
    struct kube_source *ks = ctx;
    size_t i;
    const json_t *item;

    note_delivery(ks);
    json_array_foreach(items, i, item) {
        if (is_ours(ks, item)) {
            observe(ks, item);
            return;
        }
    }
    publish(ks, OBS_ABSENT, NULL, 0);
}

static void
on_event(void *ctx, enum watchstream_type type, const json_t *object)
{
    struct kube_source *ks = ctx;

    note_delivery(ks);
    if (!is_ours(ks, object)) {
        return;
    }
    if (type == WATCHSTREAM_DELETED) {
        publish(ks, OBS_ABSENT, NULL, 0);
    } else {
        observe(ks, object);
    }
}

/* Says the first of a run of failures louder than the next ones. */
static void
on_watch_report(void *ctx, const struct report *r)
{
    struct kube_source *ks = ctx;
    enum report_level level = ks->failing ? REPORT_DEBUG : REPORT_WARN;

    ks->failing = true;
    report_send(ks->report, ks->aux, level, r->code, r->message);
}

/* ---- the loop ---- */

static void
kube_destroy(struct configsource *source)
{
    struct kube_source *ks = kube_source_cast(source);

    kubewatch_destroy(ks->watch);       /* joins the thread first */
    if (ks->wake_fd >= 0) {
        close(ks->wake_fd);
    }
    pthread_mutex_destroy(&ks->lock);
    free(ks->pending_text);
    free(ks->namespace);
    free(ks->name);
    free(ks);
}

static void
drain_wake(struct kube_source *ks)
{
    uint64_t count;

    if (read(ks->wake_fd, &count, sizeof count) < 0) {
        return;                 /* EAGAIN: nothing was pending */
    }
}

/* Takes the latest observation when there is a new one; false otherwise. */
static bool
take_pending(struct kube_source *ks, enum observed *obs, char **text, size_t *len)
{
    bool news;

    pthread_mutex_lock(&ks->lock);
    news = ks->seq != ks->seen_seq;
    if (news) {
        ks->seen_seq = ks->seq;
        *obs = ks->pending;
        *text = ks->pending_text;
        *len = ks->pending_len;
        ks->pending_text = NULL;
    }
    pthread_mutex_unlock(&ks->lock);
    return news;
}

static enum configsource_seen
kube_poll(struct configsource *source, uint64_t now, char **ret_text, size_t *ret_len,
          int *ret_code, struct errmsg *err)
{
    struct kube_source *ks = kube_source_cast(source);
    enum observed obs;

    (void) now;
    drain_wake(ks);
    if (!take_pending(ks, &obs, ret_text, ret_len)) {
        return CONFIGSOURCE_SEEN_NOTHING;
    }
    switch (obs) {
    case OBS_TEXT:
        return CONFIGSOURCE_SEEN_TEXT;
    case OBS_ABSENT:
        *ret_code = errmsg_set(err, -ENOENT, "%s not found", source->description);
        return CONFIGSOURCE_SEEN_NO_TEXT;
    case OBS_NO_KEY:
        *ret_code = errmsg_set(err, -ENOENT, "%s has no key '%s'", source->description,
                               FLOWCONFIG_KEY);
        return CONFIGSOURCE_SEEN_NO_TEXT;
    case OBS_NONE:
        break;
    }
    return CONFIGSOURCE_SEEN_NOTHING;
}

static void
kube_wait(const struct configsource *source, uint64_t now, struct pollfd *pfd,
          int *timeout_ms)
{
    const struct kube_source *ks = kube_source_cast(source);

    (void) now;
    (void) timeout_ms;          /* everything comes through the eventfd */
    pfd->fd = ks->wake_fd;
    pfd->events = POLLIN;
    pfd->revents = 0;
}

static const struct configsource_class kube_class = {
    .kind = "kubernetes",
    .destroy = kube_destroy,
    .poll = kube_poll,
    .wait = kube_wait,
};

/* ---- creation ---- */

static int
start_watch(struct kube_source *ks, struct kubeconfig *cfg,
            const struct configsource_kube_config *kc, struct errmsg *err)
{
    static const struct kubewatch_callbacks cb = {
        .synced = on_synced, .event = on_event, .report = on_watch_report,
    };
    char path[KUBE_PATH_MAX], selector[KUBE_NAME_MAX + 32];
    struct kubewatch_config wc = {
        .path = path, .field_selector = selector,
        .timeout_min_s = kc->watch_timeout_min_s,
        .timeout_max_s = kc->watch_timeout_max_s,
        .backoff_min_ms = kc->backoff_min_ms,
        .backoff_max_ms = kc->backoff_max_ms,
        .max_items = 16,        /* the selector matches one object at most */
    };
    int rc;

    if (kube_path(path, sizeof path, "/api/v1/namespaces/%s/configmaps",
                  kc->namespace) < 0) {
        return errmsg_set(err, -EINVAL, "namespace too long");
    }
    snprintf(selector, sizeof selector, "metadata.name=%s", kc->name);
    rc = kubewatch_create(cfg, &wc, &cb, ks, &ks->watch, err);
    return rc < 0 ? rc : kubewatch_start(ks->watch, err);
}

int
configsource_kube_create(struct kubeconfig *cfg, const struct configsource_kube_config *kc,
                         struct configsource **ret, struct errmsg *err)
{
    struct kube_source *ks;
    int rc;

    /* DNS-1123 subdomains, what Kubernetes accepts as a namespace or ConfigMap
     * name (namespaces are stricter labels, which the API server checks).
     * Checked here because the names go into a URL path. */
    if (!kube_name_valid(kc->namespace, KUBE_NAME_MAX)
        || !kube_name_valid(kc->name, KUBE_NAME_MAX)) {
        return errmsg_set(err, -EINVAL, "invalid ConfigMap namespace or name '%s/%s'",
                          kc->namespace ? kc->namespace : "",
                          kc->name ? kc->name : "");
    }
    ks = calloc(1, sizeof *ks);
    if (!ks) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    configsource_init(&ks->up, &kube_class, "configmap '%s/%s'", kc->namespace, kc->name);
    pthread_mutex_init(&ks->lock, NULL);
    ks->report = kc->report;
    ks->aux = kc->aux;
    ks->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ks->wake_fd < 0) {
        rc = -errno;
        errmsg_set(err, rc, "cannot create an eventfd: %s", strerror(-rc));
        goto out;
    }
    ks->namespace = strdup(kc->namespace);
    ks->name = strdup(kc->name);
    if (!ks->namespace || !ks->name) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = start_watch(ks, cfg, kc, err);
    if (rc < 0) {
        goto out;
    }
    *ret = &ks->up;
    ks = NULL;
out:
    if (ks) {
        kube_destroy(&ks->up);
    }
    return rc;
}
