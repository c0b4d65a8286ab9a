/* Integration tests for kube, kubewatch, lease and kubeauth against a real kube-apiserver
 * (and etcd) started once for the whole program by tests/k8s/control-plane.sh in a
 * temporary directory, on loopback. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubeauth.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/kube/kubewatch.h"
#include "exportflows/kube/lease.h"
#include "exportflows/base/metrics.h"

#include "../lib/testutil.h"

#define CM_PATH "/api/v1/namespaces/default/configmaps"

static char cp_dir[] = "/tmp/exportflows-kube-XXXXXX";
static struct kubeconfig *cfg;

/* ---- helpers ---- */

/* Polls 'cond' every 20 ms until it holds or 'ms' passed. */
static bool
eventually(bool (*cond)(void *), void *arg, unsigned ms)
{
    uint64_t end = clock_monotonic_ms() + ms;

    while (!cond(arg)) {
        if (clock_monotonic_ms() > end) {
            return false;
        }
        testutil_nap(20);
    }
    return true;
}

static int
control_plane(const char *verb)
{
    char cmd[512];

    snprintf(cmd, sizeof cmd, "tests/k8s/control-plane.sh %s %s >>%s/control-plane.log 2>&1",
             verb, cp_dir, cp_dir);
    return system(cmd);
}

static struct kube_client *
new_client(void)
{
    struct kube_client *c = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kube_client_create(cfg, &c, &err), 0);
    return c;
}

static json_t *
configmap(const char *name, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1",
                     "kind", "ConfigMap", "metadata", "name", name, "namespace", "default",
                     "data", "key", value);
}

static const char *
cm_value(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "data"), "key"));
}

static void
unique_name(char *buf, size_t size, const char *prefix)
{
    static unsigned counter;

    snprintf(buf, size, "%s-%ld-%u", prefix, (long) getpid(), counter++);
}

/* ---- group setup: one control plane for every test ---- */

static int
setup_control_plane(void **state)
{
    struct errmsg err = { "" };
    char path[256];

    if (!mkdtemp(cp_dir)) {
        return -1;
    }
    if (control_plane("start")) {
        fprintf(stderr, "control plane did not start; log in %s/control-plane.log\n", cp_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/kubeconfig", cp_dir);
    if (kubeconfig_load_file(path, NULL, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.text);
        return -1;
    }
    return 0;
}

static int
teardown_control_plane(void **state)
{
    char cmd[512];

    kubeconfig_destroy(cfg);
    control_plane("stop");
    if (!getenv("EXPORTFLOWS_KEEP_TEST_DIRS")) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", cp_dir);
        if (system(cmd)) {
            fprintf(stderr, "cannot remove %s\n", cp_dir);
        }
    }
    curl_global_cleanup();
    return 0;
}

/* ---- kube ---- */

static void
test_kube_create_get_update_conflict_delete(void **state)
{
    struct kube_client *c = new_client();
    struct errmsg err = { "" };
    json_t *obj = configmap("", "one"), *got = NULL, *updated = NULL, *stale = NULL;
    char name[64], path[256];
    long status = 0;

    unique_name(name, sizeof name, "crud");
    json_object_set_new(json_object_get(obj, "metadata"), "name", json_string(name));
    snprintf(path, sizeof path, CM_PATH "/%s", name);

    assert_int_equal(kube_create(c, CM_PATH, obj, 0, NULL, &err), 0);
    assert_int_equal(kube_create(c, CM_PATH, obj, 0, NULL, &err), -EEXIST);
    assert_non_null(strstr(err.text, "already exists"));

    assert_int_equal(kube_get(c, path, 0, &got, &err), 0);
    assert_string_equal(cm_value(got), "one");
    stale = json_deep_copy(got);

    json_object_set_new(json_object_get(got, "data"), "key", json_string("two"));
    assert_int_equal(kube_update(c, path, got, 0, &updated, &err), 0);
    assert_string_equal(cm_value(updated), "two");

    /* The copy still carries the old resourceVersion: 409 Conflict. */
    json_object_set_new(json_object_get(stale, "data"), "key", json_string("three"));
    assert_int_equal(kube_request(c, "PUT", path, NULL, stale, 0, &status, NULL, &err),
                     -EAGAIN);
    assert_int_equal(status, 409);
    assert_non_null(strstr(err.text, "Conflict"));

    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    assert_int_equal(kube_get(c, path, 0, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.text, "not found"));
    assert_int_equal(kube_delete(c, path, 0, &err), -ENOENT);

    /* Nine calls, one connection. */
    assert_int_equal(kube_client_connections(c), 1);

    json_decref(obj);
    json_decref(got);
    json_decref(updated);
    json_decref(stale);
    kube_client_destroy(c);
}

struct modify_ctx {
    int calls;
    bool absent;                /* the last call was told the object is absent */
    struct kube_client *other;  /* when set, makes the first attempt conflict */
    const char *path;
    const char *value;          /* to set; NULL: say unchanged */
};

static int
modify_set(void *arg, json_t *obj, bool exists, struct errmsg *err)
{
    struct modify_ctx *m = arg;

    m->absent = !exists;
    if (m->calls++ == 0 && m->other) {
        json_t *copy = json_deep_copy(obj);

        /* Someone else writes in between the read and our write. */
        json_object_set_new(json_object_get(copy, "data"), "key", json_string("other"));
        assert_int_equal(kube_update(m->other, m->path, copy, 0, NULL, err), 0);
        json_decref(copy);
    }
    if (!m->value) {
        return KUBE_MODIFY_UNCHANGED;
    }
    if (!exists) {
        json_object_update_new(obj, configmap(strrchr(m->path, '/') + 1, m->value));
    }
    json_object_set_new(json_object_get(obj, "data"), "key", json_string(m->value));
    return KUBE_MODIFY_UPDATE;
}

static int
modify_fail(void *arg, json_t *obj, bool exists, struct errmsg *err)
{
    return errmsg_set(err, -EPERM, "not allowed");
}

static const char *
rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                             "resourceVersion"));
}

/* Runs kube_modify() and returns how many requests it made. */
static unsigned long
modify_counted(struct kube_client *c, const struct kube_modify_op *op, json_t **stored,
               int want)
{
    unsigned long before = kube_client_requests(c);
    struct errmsg err = { "" };

    assert_int_equal(kube_modify(c, op, stored, &err), want);
    return kube_client_requests(c) - before;
}

static void
test_kube_modify_retries_after_conflict(void **state)
{
    struct kube_client *c = new_client(), *other = new_client();
    struct errmsg err = { "" };
    char name[64], path[256];
    json_t *obj, *stored = NULL;
    struct modify_ctx m = { .other = other, .path = path, .value = "four" };
    struct kube_modify_op op = { .path = path, .fn = modify_set, .ctx = &m };

    unique_name(name, sizeof name, "modify");
    obj = configmap(name, "one");
    snprintf(path, sizeof path, CM_PATH "/%s", name);
    assert_int_equal(kube_create(c, CM_PATH, obj, 0, NULL, &err), 0);

    /* GET, PUT (409), GET, PUT. */
    assert_int_equal(modify_counted(c, &op, &stored, 0), 4);
    assert_int_equal(m.calls, 2);
    assert_string_equal(cm_value(stored), "four");

    /* Every round conflicting: -EAGAIN after the rounds allowed. */
    op.attempts = 1;
    m.calls = 0;
    json_decref(stored);
    stored = NULL;
    assert_int_equal(modify_counted(c, &op, &stored, -EAGAIN), 2);
    assert_null(stored);

    /* Without a collection, absent is -ENOENT and the callback is not called. */
    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    m.calls = 0;
    assert_int_equal(modify_counted(c, &op, NULL, -ENOENT), 1);
    assert_int_equal(m.calls, 0);
    json_decref(obj);
    kube_client_destroy(c);
    kube_client_destroy(other);
}

static void
test_kube_modify_creates_when_absent(void **state)
{
    struct kube_client *c = new_client();
    char name[64], path[256];
    json_t *stored = NULL, *got = NULL;
    struct errmsg err = { "" };
    struct modify_ctx m = { .path = path, .value = "new" };
    struct kube_modify_op op = { .path = path, .collection = CM_PATH, .fn = modify_set,
                                 .ctx = &m };

    unique_name(name, sizeof name, "modify-create");
    snprintf(path, sizeof path, CM_PATH "/%s", name);

    /* Absent and the callback creates nothing: the GET only. */
    m.value = NULL;
    assert_int_equal(modify_counted(c, &op, &stored, 0), 1);
    assert_true(m.absent);
    assert_null(stored);
    assert_int_equal(kube_get(c, path, 0, NULL, &err), -ENOENT);

    /* GET (404), POST. */
    m.value = "new";
    assert_int_equal(modify_counted(c, &op, &stored, 0), 2);
    assert_true(m.absent);
    assert_string_equal(cm_value(stored), "new");
    assert_int_equal(kube_get(c, path, 0, &got, &err), 0);
    assert_string_equal(rv_of(got), rv_of(stored));

    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    json_decref(stored);
    json_decref(got);
    kube_client_destroy(c);
}

static void
test_kube_modify_unchanged_writes_nothing(void **state)
{
    struct kube_client *c = new_client();
    char name[64], path[256];
    json_t *obj, *stored = NULL, *got = NULL;
    struct errmsg err = { "" };
    struct modify_ctx m = { .path = path };
    struct kube_modify_op op = { .path = path, .collection = CM_PATH, .fn = modify_set,
                                 .ctx = &m };

    unique_name(name, sizeof name, "modify-same");
    snprintf(path, sizeof path, CM_PATH "/%s", name);
    obj = configmap(name, "same");
    assert_int_equal(kube_create(c, CM_PATH, obj, 0, &got, &err), 0);

    /* The GET only; the object as read comes back. */
    assert_int_equal(modify_counted(c, &op, &stored, 0), 1);
    assert_false(m.absent);
    assert_string_equal(rv_of(stored), rv_of(got));
    json_decref(got);
    assert_int_equal(kube_get(c, path, 0, &got, &err), 0);
    assert_string_equal(rv_of(stored), rv_of(got));   /* nothing was written */

    /* From a kept object: no request at all. */
    assert_int_equal(modify_counted(c, &op, &stored, 0), 0);
    assert_string_equal(rv_of(stored), rv_of(got));

    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    json_decref(obj);
    json_decref(stored);
    json_decref(got);
    kube_client_destroy(c);
}

static void
test_kube_modify_from_stored_skips_the_get(void **state)
{
    struct kube_client *c = new_client(), *other = new_client();
    char name[64], path[256];
    json_t *obj, *stored = NULL, *got = NULL;
    struct errmsg err = { "" };
    struct modify_ctx m = { .path = path, .value = "two" };
    struct kube_modify_op op = { .path = path, .collection = CM_PATH, .fn = modify_set,
                                 .ctx = &m };

    unique_name(name, sizeof name, "modify-held");
    snprintf(path, sizeof path, CM_PATH "/%s", name);
    obj = configmap(name, "one");
    assert_int_equal(kube_create(c, CM_PATH, obj, 0, &stored, &err), 0);

    /* Still current: one PUT. */
    assert_int_equal(modify_counted(c, &op, &stored, 0), 1);
    assert_string_equal(cm_value(stored), "two");

    /* Someone else wrote meanwhile: PUT (409), GET, PUT. */
    assert_int_equal(kube_get(other, path, 0, &got, &err), 0);
    json_object_set_new(json_object_get(got, "data"), "key", json_string("other"));
    assert_int_equal(kube_update(other, path, got, 0, NULL, &err), 0);
    m.value = "three";
    m.calls = 0;
    assert_int_equal(modify_counted(c, &op, &stored, 0), 3);
    assert_int_equal(m.calls, 2);
    assert_string_equal(cm_value(stored), "three");

    /* Deleted meanwhile: PUT (404), GET (404), POST. */
    assert_int_equal(kube_delete(other, path, 0, &err), 0);
    m.value = "four";
    assert_int_equal(modify_counted(c, &op, &stored, 0), 3);
    assert_true(m.absent);
    assert_string_equal(cm_value(stored), "four");

    /* A failure that is not a lost race keeps the stored object for next time. */
    m.calls = 0;
    op.fn = modify_fail;
    json_decref(got);
    got = json_incref(stored);
    assert_int_equal(modify_counted(c, &op, &stored, -EPERM), 0);
    assert_ptr_equal(stored, got);

    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    json_decref(obj);
    json_decref(stored);
    json_decref(got);
    kube_client_destroy(c);
    kube_client_destroy(other);
}

static void
test_kube_apply_creates_and_forces(void **state)
{
    struct kube_client *c = new_client();
    struct errmsg err = { "" };
    char name[64], path[256];
    json_t *obj, *stored = NULL;

    unique_name(name, sizeof name, "apply");
    obj = configmap(name, "one");
    snprintf(path, sizeof path, CM_PATH "/%s", name);

    assert_int_equal(kube_apply(c, path, obj, "exportflows-test", false, 0, &stored, &err), 0);
    assert_string_equal(cm_value(stored), "one");
    json_decref(stored);

    /* Another manager changing a field it does not own: conflict unless forced. */
    json_object_set_new(json_object_get(obj, "data"), "key", json_string("two"));
    assert_int_equal(kube_apply(c, path, obj, "someone-else", false, 0, NULL, &err), -EAGAIN);
    assert_non_null(strstr(err.text, "conflict"));
    assert_int_equal(kube_apply(c, path, obj, "someone-else", true, 0, &stored, &err), 0);
    assert_string_equal(cm_value(stored), "two");

    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    json_decref(obj);
    json_decref(stored);
    kube_client_destroy(c);
}

static void
test_kube_reply_over_the_cap_is_an_error(void **state)
{
    struct kube_client *c = new_client();
    struct errmsg err = { "" };
    json_t *reply = NULL;

    kube_client_set_max_body(c, 200);
    assert_int_equal(kube_get(c, "/api/v1/namespaces", 0, &reply, &err), -EMSGSIZE);
    assert_null(reply);
    assert_non_null(strstr(err.text, "larger than 200 bytes"));
    kube_client_set_max_body(c, 0);
    assert_int_equal(kube_get(c, "/api/v1/namespaces", 0, &reply, &err), 0);
    assert_true(json_is_array(json_object_get(reply, "items")));
    json_decref(reply);
    kube_client_destroy(c);
}

/* A service account token, written to a file that is read as in a pod. */
static void
request_token(struct kube_client *c, const char *sa, char *token, size_t size)
{
    char path[256];
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1",
                            "kind", "ServiceAccount", "metadata", "name", sa);
    json_t *req = json_pack("{s:s, s:s, s:{s:i}}",
                            "apiVersion", "authentication.k8s.io/v1", "kind", "TokenRequest",
                            "spec", "expirationSeconds", 3600);
    json_t *reply = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kube_create(c, "/api/v1/namespaces/default/serviceaccounts", obj, 0,
                                 NULL, &err), 0);
    snprintf(path, sizeof path, "/api/v1/namespaces/default/serviceaccounts/%s/token", sa);
    assert_int_equal(kube_create(c, path, req, 0, &reply, &err), 0);
    snprintf(token, size, "%s",
             json_string_value(json_object_get(json_object_get(reply, "status"), "token")));
    assert_true(strlen(token) > 20);
    json_decref(reply);
    json_decref(req);
    json_decref(obj);
}

static void
test_kube_incluster_token_is_reread_after_401(void **state)
{
    struct kube_client *admin = new_client(), *c = NULL;
    struct kubeconfig *incluster = NULL;
    char token[4096], sa[64], token_file[300], ca_file[300], ns_file[300], port[16];
    struct kubeconfig_incluster paths = { token_file, ca_file, ns_file, "127.0.0.1", port };
    struct errmsg err = { "" };
    long status = 0;
    const char *server = kubeconfig_server(cfg);

    unique_name(sa, sizeof sa, "sa");
    request_token(admin, sa, token, sizeof token);
    snprintf(token_file, sizeof token_file, "%s/token", cp_dir);
    snprintf(ca_file, sizeof ca_file, "%s/pki/ca.crt", cp_dir);
    snprintf(ns_file, sizeof ns_file, "%s/namespace", cp_dir);
    snprintf(port, sizeof port, "%s", strrchr(server, ':') + 1);
    assert_int_equal(testutil_write_text(ns_file, "default\n"), 0);
    assert_int_equal(testutil_write_text(token_file, "not-a-valid-token\n"), 0);

    assert_int_equal(kubeconfig_load_incluster(&paths, &incluster, &err), 0);
    assert_string_equal(kubeconfig_namespace(incluster), "default");
    assert_int_equal(kube_client_create(incluster, &c, &err), 0);
    assert_int_equal(kube_get(c, "/api/v1/namespaces/default/pods", 0, NULL, &err), -EACCES);

    /* The token rotates; the 401 makes the client re-read it at once.  The service
     * account has no RBAC rights: a 403 naming it proves the token was accepted. */
    assert_int_equal(testutil_write_text(token_file, token), 0);
    assert_int_equal(kube_request(c, "GET", "/api/v1/namespaces/default/pods", NULL, NULL, 0,
                                  &status, NULL, &err), -EACCES);
    assert_int_equal(status, 403);
    assert_non_null(strstr(err.text, sa));

    kube_client_destroy(c);
    kubeconfig_destroy(incluster);
    kube_client_destroy(admin);
}

/* A kubeconfig in the file form, trusting 'ca' (under the control plane's pki/). */
static struct kubeconfig *
file_kubeconfig(const char *ca)
{
    struct kubeconfig *kc = NULL;
    struct errmsg err = { "" };
    char path[300];
    FILE *f;

    snprintf(path, sizeof path, "%s/kubeconfig-files", cp_dir);
    f = fopen(path, "we");
    assert_non_null(f);
    fprintf(f, "apiVersion: v1\nkind: Config\n"
            "clusters: [{name: c, cluster: {server: '%s', certificate-authority: pki/%s}}]\n"
            "users: [{name: u, user: {client-certificate: pki/admin.crt, "
            "client-key: pki/admin.key}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
            kubeconfig_server(cfg), ca);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(kubeconfig_load_file(path, NULL, &kc, &err), 0);
    return kc;
}

static void
test_kube_verifies_the_server_certificate(void **state)
{
    struct kubeconfig *good = file_kubeconfig("ca.crt");
    struct kubeconfig *wrong = file_kubeconfig("admin.crt");    /* not the issuer */
    struct kube_client *c = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kube_client_create(good, &c, &err), 0);
    assert_int_equal(kube_get(c, "/api/v1/namespaces/default", 0, NULL, &err), 0);
    kube_client_destroy(c);

    assert_int_equal(kube_client_create(wrong, &c, &err), 0);
    assert_int_equal(kube_get(c, "/api/v1/namespaces/default", 0, NULL, &err), -EPROTO);
    assert_non_null(strstr(err.text, "certificate"));
    kube_client_destroy(c);
    kubeconfig_destroy(good);
    kubeconfig_destroy(wrong);
}

/* ---- kubewatch ---- */

/* What a watch user sees, rebuilt level-triggered: name -> data.key. */
struct recorder {
    pthread_mutex_t lock;
    json_t *state;              /* object: name -> value */
    char log[4096];             /* "ADDED:name=value " ... */
    unsigned synced;
};

static void
recorder_init(struct recorder *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->state = json_object();
    r->log[0] = '\0';
    r->synced = 0;
}

static void
recorder_release(struct recorder *r)
{
    json_decref(r->state);
    pthread_mutex_destroy(&r->lock);
}

static const char *
obj_name(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static void
on_synced(void *ctx, const json_t *items)
{
    struct recorder *r = ctx;
    size_t i;
    json_t *item;

    pthread_mutex_lock(&r->lock);
    json_object_clear(r->state);
    json_array_foreach(items, i, item) {
        const char *v = cm_value(item);

        json_object_set_new(r->state, obj_name(item), json_string(v ? v : ""));
    }
    r->synced++;
    pthread_mutex_unlock(&r->lock);
}

static void
on_event(void *ctx, enum watchstream_type type, const json_t *obj)
{
    struct recorder *r = ctx;
    const char *v = cm_value(obj);
    size_t len;

    pthread_mutex_lock(&r->lock);
    if (type == WATCHSTREAM_DELETED) {
        json_object_del(r->state, obj_name(obj));
    } else {
        json_object_set_new(r->state, obj_name(obj), json_string(v ? v : ""));
    }
    len = strlen(r->log);
    snprintf(r->log + len, sizeof r->log - len, "%s:%s=%s ", watchstream_type_name(type),
             obj_name(obj), v ? v : "");
    pthread_mutex_unlock(&r->lock);
}

/* Condition helpers for eventually(). */
struct expect {
    struct recorder *rec;
    const char *text;           /* in the log, or the state as JSON */
};

static bool
log_has(void *arg)
{
    struct expect *e = arg;
    bool found;

    pthread_mutex_lock(&e->rec->lock);
    found = strstr(e->rec->log, e->text) != NULL;
    pthread_mutex_unlock(&e->rec->lock);
    return found;
}

static bool
state_is(void *arg)
{
    struct expect *e = arg;
    json_t *want = json_loads(e->text, 0, NULL);
    bool same;

    pthread_mutex_lock(&e->rec->lock);
    same = json_equal(want, e->rec->state);
    pthread_mutex_unlock(&e->rec->lock);
    json_decref(want);
    return same;
}

static bool
synced_once(void *arg)
{
    struct recorder *r = arg;
    bool done;

    pthread_mutex_lock(&r->lock);
    done = r->synced > 0;
    pthread_mutex_unlock(&r->lock);
    return done;
}

static void
make_namespace(struct kube_client *c, const char *ns)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                            "metadata", "name", ns);
    struct errmsg err = { "" };

    assert_int_equal(kube_create(c, "/api/v1/namespaces", obj, 0, NULL, &err), 0);
    json_decref(obj);
}

static void
put_cm(struct kube_client *c, const char *ns, const char *name, const char *value)
{
    char path[256];
    json_t *obj = configmap(name, value);
    struct errmsg err = { "" };

    json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string(ns));
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps/%s", ns, name);
    assert_int_equal(kube_apply(c, path, obj, "exportflows-test", true, 0, NULL, &err), 0);
    json_decref(obj);
}

static const struct kubewatch_callbacks recorder_callbacks = { on_synced, on_event, NULL };

static void
test_kubewatch_sees_added_modified_deleted(void **state)
{
    struct kube_client *c = new_client();
    struct kubewatch *w = NULL;
    struct recorder rec;
    struct errmsg err = { "" };
    char name[64], selector[100], path[256], expected[300];
    struct kubewatch_config wc = { .path = CM_PATH, .field_selector = selector };
    struct expect e = { &rec, expected };
    struct kubewatch_stats stats;
    uint64_t t0;

    recorder_init(&rec);
    unique_name(name, sizeof name, "watched");
    snprintf(selector, sizeof selector, "metadata.name=%s", name);
    snprintf(path, sizeof path, CM_PATH "/%s", name);
    assert_int_equal(kubewatch_create(cfg, &wc, &recorder_callbacks, &rec, &w, &err), 0);
    assert_int_equal(kubewatch_start(w, &err), 0);
    assert_true(eventually(synced_once, &rec, 10000));

    put_cm(c, "default", name, "one");
    put_cm(c, "default", "not-selected", "x");
    put_cm(c, "default", name, "two");
    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    snprintf(expected, sizeof expected, "ADDED:%s=one MODIFIED:%s=two DELETED:%s=two ",
             name, name, name);
    assert_true(eventually(log_has, &e, 10000));
    assert_null(strstr(rec.log, "not-selected"));

    kubewatch_stats(w, &stats);
    assert_int_equal(stats.lists, 1);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.errors, 0);

    /* Stopping interrupts the blocked watch transfer at once. */
    t0 = clock_monotonic_ms();
    kubewatch_stop(w);
    assert_true(clock_monotonic_ms() - t0 < 500);
    kubewatch_destroy(w);
    snprintf(path, sizeof path, CM_PATH "/not-selected");
    assert_int_equal(kube_delete(c, path, 0, &err), 0);
    recorder_release(&rec);
    kube_client_destroy(c);
}

static void
test_kubewatch_survives_apiserver_restart(void **state)
{
    struct kube_client *c = new_client();
    struct kubewatch *w = NULL;
    struct recorder rec;
    struct errmsg err = { "" };
    char ns[64], coll[128], expected[300];
    /* Short watches: kube-apiserver's graceful shutdown waits for open watches,
     * and the server ending a watch is a path worth taking too. */
    struct kubewatch_config wc = { .path = coll, .backoff_min_ms = 200,
                                   .backoff_max_ms = 1000, .timeout_min_s = 2,
                                   .timeout_max_s = 4 };
    struct expect e = { &rec, expected };
    struct kubewatch_stats stats;

    recorder_init(&rec);
    unique_name(ns, sizeof ns, "restart");
    make_namespace(c, ns);
    snprintf(coll, sizeof coll, "/api/v1/namespaces/%s/configmaps", ns);
    put_cm(c, ns, "a", "1");
    assert_int_equal(kubewatch_create(cfg, &wc, &recorder_callbacks, &rec, &w, &err), 0);
    assert_int_equal(kubewatch_start(w, &err), 0);
    /* Only "a": kube-root-ca.crt comes from the controller manager, not run here. */
    snprintf(expected, sizeof expected, "{\"a\": \"1\"}");
    assert_true(eventually(state_is, &e, 10000));

    put_cm(c, ns, "b", "1");
    assert_int_equal(control_plane("restart-apiserver"), 0);
    /* Changes right after the restart, before the watch has reconnected. */
    put_cm(c, ns, "a", "2");
    put_cm(c, ns, "c", "1");
    snprintf(coll + strlen(coll), sizeof coll - strlen(coll), "/b");
    assert_int_equal(kube_delete(c, coll, 0, &err), 0);
    snprintf(expected, sizeof expected, "{\"a\": \"2\", \"c\": \"1\"}");
    assert_true(eventually(state_is, &e, 30000));

    kubewatch_stats(w, &stats);
    fprintf(stderr, "restart: lists %lu watches %lu events %lu bookmarks %lu gone %lu "
            "errors %lu\n", stats.lists, stats.watches, stats.events, stats.bookmarks,
            stats.gone, stats.errors);
    assert_true(stats.errors >= 1);     /* the watch did break */
    assert_true(stats.watches >= 2);
    kubewatch_destroy(w);
    recorder_release(&rec);
    kube_client_destroy(c);
}

/* ---- lease ---- */

static bool
is_leader(void *arg)
{
    return lease_is_leader(arg);
}

static const char *
lease_holder(struct kube_client *c, const char *name, json_int_t *transitions)
{
    static char holder[64];
    char path[256];
    json_t *obj = NULL;
    struct errmsg err = { "" };

    snprintf(path, sizeof path,
             "/apis/coordination.k8s.io/v1/namespaces/default/leases/%s", name);
    assert_int_equal(kube_get(c, path, 0, &obj, &err), 0);
    snprintf(holder, sizeof holder, "%s", json_string_value(json_object_get(
        json_object_get(obj, "spec"), "holderIdentity")));
    *transitions = json_integer_value(json_object_get(json_object_get(obj, "spec"),
                                                      "leaseTransitions"));
    json_decref(obj);
    return holder;
}

static void
test_lease_acquire_renew_release_takeover(void **state)
{
    struct kube_client *c = new_client();
    struct lease *a = NULL, *b = NULL;
    struct errmsg err = { "" };
    char name[64];
    struct lease_config lc = { .namespace = "default", .name = name, .identity = "node-a",
                               .retry_period_ms = 300 };
    json_int_t transitions = -1;
    uint64_t t0;

    unique_name(name, sizeof name, "lease");
    lc.renew_deadline_ms = 20000;       /* longer than the lease: refused */
    assert_int_equal(lease_create(cfg, &lc, &a, &err), -EINVAL);
    assert_null(a);
    lc.renew_deadline_ms = 0;
    assert_int_equal(lease_create(cfg, &lc, &a, &err), 0);
    lc.identity = "node-b";
    assert_int_equal(lease_create(cfg, &lc, &b, &err), 0);

    assert_int_equal(lease_start(a, &err), 0);
    assert_true(eventually(is_leader, a, 10000));
    assert_int_equal(lease_start(b, &err), 0);
    /* B keeps trying while A renews; it must never win (a negative over time). */
    for (int i = 0; i < 10; i++) {
        testutil_nap(200);
        assert_false(lease_is_leader(b));
        assert_true(lease_is_leader(a));
    }
    assert_string_equal(lease_holder(c, name, &transitions), "node-a");
    assert_int_equal(transitions, 0);

    /* A gives the lease up: B takes over long before the 15 s expiry. */
    t0 = clock_monotonic_ms();
    assert_int_equal(lease_stop(a, &err), 0);
    assert_false(lease_is_leader(a));
    assert_true(eventually(is_leader, b, 5000));
    assert_true(clock_monotonic_ms() - t0 < 5000);
    assert_string_equal(lease_holder(c, name, &transitions), "node-b");
    assert_int_equal(transitions, 1);

    lease_destroy(b);           /* releases too */
    assert_string_equal(lease_holder(c, name, &transitions), "");
    lease_destroy(a);
    kube_client_destroy(c);
}

/* ---- kubeauth ---- */

#define READER_ROLE "kubeauth-test-metrics-reader"

/* A token of the ServiceAccount 'name' in namespace default (made when absent),
 * from the TokenRequest API.  Caller frees it. */
static char *
sa_token(struct kube_client *c, const char *name)
{
    json_t *sa = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
                           "ServiceAccount", "metadata", "name", name);
    json_t *request = json_pack("{s:s, s:s, s:{}}", "apiVersion", "authentication.k8s.io/v1",
                                "kind", "TokenRequest", "spec");
    json_t *reply = NULL;
    struct errmsg err = { "" };
    char path[256];
    char *token;
    int rc = kube_create(c, "/api/v1/namespaces/default/serviceaccounts", sa, 0, NULL, &err);

    assert_true(rc == 0 || rc == -EEXIST);
    snprintf(path, sizeof path, "/api/v1/namespaces/default/serviceaccounts/%s/token", name);
    assert_int_equal(kube_create(c, path, request, 0, &reply, &err), 0);
    token = strdup(json_string_value(json_object_get(json_object_get(reply, "status"),
                                                     "token")));
    assert_non_null(token);
    json_decref(sa);
    json_decref(request);
    json_decref(reply);
    return token;
}

/* Binds (or unbinds) the ServiceAccount default/'name' to a ClusterRole that
 * grants get on /metrics. */
static void
bind_reader(struct kube_client *c, const char *name, bool bind)
{
    json_t *role = json_pack("{s:s, s:s, s:{s:s}, s:[{s:[s], s:[s]}]}", "apiVersion",
                             "rbac.authorization.k8s.io/v1", "kind", "ClusterRole",
                             "metadata", "name", READER_ROLE, "rules", "nonResourceURLs",
                             "/metrics", "verbs", "get");
    json_t *binding = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}",
                                "apiVersion", "rbac.authorization.k8s.io/v1", "kind",
                                "ClusterRoleBinding", "metadata", "name", name, "roleRef",
                                "apiGroup", "rbac.authorization.k8s.io", "kind", "ClusterRole",
                                "name", READER_ROLE, "subjects", "kind", "ServiceAccount",
                                "name", name, "namespace", "default");
    struct errmsg err = { "" };
    char path[256];
    int rc;

    rc = kube_create(c, "/apis/rbac.authorization.k8s.io/v1/clusterroles", role, 0, NULL, &err);
    assert_true(rc == 0 || rc == -EEXIST);
    if (bind) {
        assert_int_equal(kube_create(c, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                                     binding, 0, NULL, &err), 0);
    } else {
        snprintf(path, sizeof path, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/%s",
                 name);
        assert_int_equal(kube_delete(c, path, 0, &err), 0);
    }
    json_decref(role);
    json_decref(binding);
}

/* The kubeauth_reviews_total{kind=KIND} sample of registry 'm'. */
static int
reviews_sent(const struct metrics *m, const char *kind)
{
    char *text = metrics_render(m), want[128], *line;
    long n = -1;

    assert_non_null(text);
    snprintf(want, sizeof want, "kt_auth_reviews_total{kind=\"%s\"} ", kind);
    line = strstr(text, want);
    if (line) {
        char *end;

        n = strtol(line + strlen(want), &end, 10);
        assert_true(end > line + strlen(want));
    }
    free(text);
    assert_true(n >= 0);
    return (int) n;
}

static enum kubeauth_result
decide(struct kubeauth *a, const char *header)
{
    enum kubeauth_result r = KUBEAUTH_ALLOWED;
    struct errmsg err = { "" };

    if (kubeauth_check(a, header, &r, &err)) {
        fail_msg("kubeauth_check: %s", err.text);
    }
    return r;
}

struct decision_wait {
    struct kubeauth *auth;
    const char *header;
    enum kubeauth_result want;
};

static bool
decision_is(void *arg)
{
    struct decision_wait *w = arg;

    return decide(w->auth, w->header) == w->want;
}

static struct kubeauth *
new_auth(unsigned ttl_ms, unsigned cache_size, struct metrics *m)
{
    struct kubeauth_config ac = {
        .verb = "get", .path = "/metrics", .allow_ttl_ms = ttl_ms, .deny_ttl_ms = ttl_ms,
        .cache_size = cache_size, .metrics = m, .metrics_prefix = "kt",
    };
    struct kubeauth *a = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubeauth_create(cfg, &ac, &a, &err), 0);
    return a;
}

static void
test_kubeauth_decides_caches_and_expires(void **state)
{
    struct kube_client *c = new_client();
    struct metrics *m = metrics_create();
    struct kubeauth *cached = new_auth(60000, 0, m), *brief = new_auth(200, 0, NULL);
    char *token = sa_token(c, "kubeauth-scraper"), header[4096];
    struct decision_wait w = { .auth = brief, .header = header };

    /* Refused without asking: no header, another scheme, a bad character. */
    assert_int_equal(decide(cached, NULL), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(decide(cached, "Basic dXNlcjpwYXNz"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(decide(cached, "Bearer a,b"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(decide(cached, "Bearer "), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(reviews_sent(m, "tokenreview"), 0);

    /* A token the API server does not know: asked once, then cached. */
    assert_int_equal(decide(cached, "Bearer not-a-token"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(decide(cached, "bearer not-a-token"), KUBEAUTH_UNAUTHENTICATED);
    assert_int_equal(reviews_sent(m, "tokenreview"), 1);
    assert_int_equal(reviews_sent(m, "subjectaccessreview"), 0);

    /* A known user without the permission. */
    snprintf(header, sizeof header, "Bearer %s", token);
    assert_int_equal(decide(cached, header), KUBEAUTH_FORBIDDEN);
    assert_int_equal(reviews_sent(m, "tokenreview"), 2);
    assert_int_equal(reviews_sent(m, "subjectaccessreview"), 1);

    /* Granted: the short-lived cache sees it soon, the long one keeps its
     * refusal without asking again. */
    bind_reader(c, "kubeauth-scraper", true);
    w.want = KUBEAUTH_ALLOWED;
    assert_true(eventually(decision_is, &w, 15000));
    assert_int_equal(decide(cached, header), KUBEAUTH_FORBIDDEN);
    assert_int_equal(reviews_sent(m, "subjectaccessreview"), 1);

    /* Revoked: the allowed answer expires too. */
    bind_reader(c, "kubeauth-scraper", false);
    w.want = KUBEAUTH_FORBIDDEN;
    assert_true(eventually(decision_is, &w, 15000));

    kubeauth_destroy(cached);
    kubeauth_destroy(brief);
    metrics_destroy(m);
    free(token);
    kube_client_destroy(c);
}

static void
test_kubeauth_cache_is_bounded(void **state)
{
    struct kube_client *c = new_client();
    struct metrics *m = metrics_create();
    struct kubeauth *a = new_auth(60000, 2, m);
    char headers[3][4096];

    for (int i = 0; i < 3; i++) {
        char name[64], *token;

        snprintf(name, sizeof name, "kubeauth-bounded-%d", i);
        token = sa_token(c, name);
        snprintf(headers[i], sizeof headers[i], "Bearer %s", token);
        free(token);
        assert_int_equal(decide(a, headers[i]), KUBEAUTH_FORBIDDEN);
    }
    assert_int_equal(reviews_sent(m, "tokenreview"), 3);
    /* The newest two are kept; the first made room for the third. */
    assert_int_equal(decide(a, headers[2]), KUBEAUTH_FORBIDDEN);
    assert_int_equal(decide(a, headers[1]), KUBEAUTH_FORBIDDEN);
    assert_int_equal(reviews_sent(m, "tokenreview"), 3);
    assert_int_equal(decide(a, headers[0]), KUBEAUTH_FORBIDDEN);
    assert_int_equal(reviews_sent(m, "tokenreview"), 4);

    kubeauth_destroy(a);
    metrics_destroy(m);
    kube_client_destroy(c);
}

static void
test_kubeauth_unreachable_api_server_is_an_error(void **state)
{
    struct kubeconfig *dead = NULL;
    struct errmsg err = { "" };
    struct kubeauth_config ac = { .verb = "get", .path = "/metrics", .timeout_ms = 2000 };
    struct kubeauth *a = NULL;
    enum kubeauth_result r;
    char path[256];

    /* The test kubeconfig, pointed at a port nobody listens on. */
    snprintf(path, sizeof path, "%s/dead.kubeconfig", cp_dir);
    {
        char cmd[1024];

        snprintf(cmd, sizeof cmd, "sed 's#server: https://127.0.0.1:[0-9]*#server: "
                 "https://127.0.0.1:1#' %s/kubeconfig >%s", cp_dir, path);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(kubeconfig_load_file(path, NULL, &dead, &err), 0);
    assert_int_equal(kubeauth_create(dead, &ac, &a, &err), 0);
    assert_true(kubeauth_check(a, "Bearer some-token", &r, &err) < 0);
    /* Not cached: asked again, failing again. */
    assert_true(kubeauth_check(a, "Bearer some-token", &r, &err) < 0);
    kubeauth_destroy(a);
    kubeconfig_destroy(dead);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_create_get_update_conflict_delete),
        cmocka_unit_test(test_kube_modify_retries_after_conflict),
        cmocka_unit_test(test_kube_modify_creates_when_absent),
        cmocka_unit_test(test_kube_modify_unchanged_writes_nothing),
        cmocka_unit_test(test_kube_modify_from_stored_skips_the_get),
        cmocka_unit_test(test_kube_apply_creates_and_forces),
        cmocka_unit_test(test_kube_reply_over_the_cap_is_an_error),
        cmocka_unit_test(test_kube_incluster_token_is_reread_after_401),
        cmocka_unit_test(test_kube_verifies_the_server_certificate),
        cmocka_unit_test(test_kubewatch_sees_added_modified_deleted),
        cmocka_unit_test(test_lease_acquire_renew_release_takeover),
        cmocka_unit_test(test_kubeauth_decides_caches_and_expires),
        cmocka_unit_test(test_kubeauth_cache_is_bounded),
        cmocka_unit_test(test_kubeauth_unreachable_api_server_is_an_error),
        /* Last: it restarts the API server. */
        cmocka_unit_test(test_kubewatch_survives_apiserver_restart),
    };

    return cmocka_run_group_tests(tests, setup_control_plane, teardown_control_plane);
}
