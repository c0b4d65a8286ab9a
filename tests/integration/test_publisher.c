/* Integration tests for the publisher against a real kube-apiserver (and etcd)
 * started once for the whole program by tests/k8s/control-plane.sh in a temporary
 * directory, on loopback, with the stand-in Network CRD (tests/k8s/crd-network.yaml)
 * and no admission webhook: invalid specs get stored, as when the webhook is down.
 * Each test uses its own Network, ConfigMap and Lease names, so tests do not see
 * each other's objects. */
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
#include <openssl/evp.h>

#include "exportflows/base/clock.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/metrics.h"
#include "exportflows/ovs/nodestatus.h"
#include "exportflows/kube/nodesummary.h"
#include "exportflows/kube/publisher.h"
#include "../lib/testutil.h"

#define NS "exportflows"
/* The appliers' namespace: their status Leases, which the node summary watches. */
#define NODE_NS "exportflows-nodes"
#define NETWORKS PUBLISHER_NETWORKS_PATH
#define WAIT_MS 20000

static char cp_dir[] = "/tmp/exportflows-publisher-XXXXXX";
static struct kubeconfig *cfg;
static struct kube_client *api;     /* the tests' own client, the "user" */

/* ---- control plane ---- */

static int
shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command with the control plane's env loaded; output to the log. */
static int
shell(const char *fmt, ...)
{
    char body[1024], cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "{ %s ; } >>%s/control-plane.log 2>&1", body, cp_dir);
    return system(cmd);
}

static int
control_plane(const char *verb)
{
    return shell("tests/k8s/control-plane.sh %s %s", verb, cp_dir);
}

/* The CRD, with kubectl from the fixtures; then wait until it is served. */
static int
install_crd(void)
{
    struct testutil_deadline d = testutil_deadline_ms(60000);
    struct errmsg err = { "" };

    if (shell("set -a; . %s/env; set +a; \"$K8S_BIN_DIR/kubectl\" apply -f "
              "tests/k8s/crd-network.yaml && \"$K8S_BIN_DIR/kubectl\" wait --for "
              "condition=established --timeout=60s crd/networks.operator.openshift.io",
              cp_dir)) {
        return -1;
    }
    while (kube_get(api, NETWORKS, 0, NULL, &err)) {
        if (testutil_deadline_passed(&d)) {
            fprintf(stderr, "networks never served: %s\n", err.text);
            return -1;
        }
        testutil_nap(100);
    }
    return 0;
}

static int
setup_control_plane(void **state)
{
    struct errmsg err = { "" };
    char path[256];
    json_t *ns;

    if (!mkdtemp(cp_dir) || control_plane("start")) {
        fprintf(stderr, "control plane did not start; log in %s/control-plane.log\n", cp_dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/kubeconfig", cp_dir);
    if (kubeconfig_load_file(path, NULL, &cfg, &err) || kube_client_create(cfg, &api, &err)) {
        fprintf(stderr, "%s\n", err.text);
        return -1;
    }
    if (install_crd()) {
        fprintf(stderr, "cannot install the CRD; log in %s/control-plane.log\n", cp_dir);
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                       "metadata", "name", i == 0 ? NS : NODE_NS);
        if (kube_create(api, "/api/v1/namespaces", ns, 0, NULL, &err)) {
            fprintf(stderr, "%s\n", err.text);
            return -1;
        }
        json_decref(ns);
    }
    return 0;
}

static int
teardown_control_plane(void **state)
{
    kube_client_destroy(api);
    kubeconfig_destroy(cfg);
    control_plane("stop");
    if (!getenv("EXPORTFLOWS_KEEP_TEST_DIRS")) {
        testutil_rmtree(cp_dir);
    }
    curl_global_cleanup();
    return 0;
}

/* ---- what the publisher reports ---- */

#define N_KINDS (PUBLISHER_REPORT_ERROR + 1)

struct recorder {
    pthread_mutex_t lock;
    unsigned counts[N_KINDS];
    char last[N_KINDS][1024];
};

static void
on_report(void *aux, const struct publisher_report *r)
{
    struct recorder *rec = aux;

    pthread_mutex_lock(&rec->lock);
    rec->counts[r->kind]++;
    snprintf(rec->last[r->kind], sizeof rec->last[r->kind], "%s", r->message);
    pthread_mutex_unlock(&rec->lock);
    if (getenv("EXPORTFLOWS_TEST_VERBOSE")) {
        fprintf(stderr, "report %d: %s\n", (int) r->kind, r->message);
    }
}

static unsigned
recorded(struct recorder *rec, enum publisher_report_kind kind, char *last, size_t size)
{
    unsigned n;

    pthread_mutex_lock(&rec->lock);
    n = rec->counts[kind];
    if (last) {
        snprintf(last, size, "%s", rec->last[kind]);
    }
    pthread_mutex_unlock(&rec->lock);
    return n;
}

/* ---- one test's names and publishers ---- */

struct names {
    char network[64];
    char configmap[64];
    char lease[64];
    char status[64];            /* the node summary's ConfigMap */
    char cm_path[256];
    char status_path[256];
};

static void
make_names(struct names *n, const char *tag)
{
    snprintf(n->network, sizeof n->network, "%s-%ld", tag, (long) getpid());
    snprintf(n->configmap, sizeof n->configmap, "%s-config", tag);
    snprintf(n->lease, sizeof n->lease, "%s-lease", tag);
    snprintf(n->status, sizeof n->status, "%s-status", tag);
    snprintf(n->cm_path, sizeof n->cm_path, "/api/v1/namespaces/" NS "/configmaps/%s",
             n->configmap);
    snprintf(n->status_path, sizeof n->status_path, "/api/v1/namespaces/" NS
             "/configmaps/%s", n->status);
}

struct pub {
    struct publisher *p;
    struct recorder rec;
    struct metrics *metrics;
};

/* Starts a publisher for 'n' as 'identity'; 'resync_ms' 0 for the default. */
static void
pub_start(struct pub *pub, const struct names *n, const char *identity, unsigned resync_ms)
{
    struct publisher_config pc = {
        .kubeconfig = cfg, .namespace = NS, .node_namespace = NODE_NS,
        .configmap = n->configmap, .status_configmap = n->status, .network = n->network, .lease = n->lease, .identity = identity,
        .report = on_report, .report_aux = &pub->rec,
        .retry_min_ms = 200, .retry_max_ms = 2000, .resync_ms = resync_ms,
        .lease_retry_period_ms = 200,
        /* Short watches: kube-apiserver's shutdown waits for open ones. */
        .watch_timeout_min_s = 2, .watch_timeout_max_s = 4,
        .watch_backoff_min_ms = 100, .watch_backoff_max_ms = 1000,
    };
    struct errmsg err = { "" };

    memset(&pub->rec, 0, sizeof pub->rec);
    pthread_mutex_init(&pub->rec.lock, NULL);
    pub->metrics = metrics_create();
    assert_non_null(pub->metrics);
    pc.metrics = pub->metrics;
    flowtuning_init(&pc.tuning);
    assert_int_equal(publisher_create(&pc, &pub->p, &err), 0);
    assert_int_equal(publisher_start(pub->p, &err), 0);
}

static void
pub_destroy(struct pub *pub)
{
    publisher_destroy(pub->p);
    metrics_destroy(pub->metrics);
    pthread_mutex_destroy(&pub->rec.lock);
}

static struct publisher_stats
stats(struct pub *pub)
{
    struct publisher_stats s;

    publisher_stats(pub->p, &s);
    return s;
}

/* Waits until the publisher has completed a pass over Network generation 'gen'
 * (-1: the Network is absent). */
static void
wait_observed(struct pub *pub, int64_t gen)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

    while (stats(pub).observed_generation != gen) {
        if (testutil_deadline_passed(&d)) {
            fail_msg("publisher never acted on generation %lld (at %lld)", (long long) gen,
                     (long long) stats(pub).observed_generation);
        }
        testutil_nap(20);
    }
}

/* Waits until 'pub' has counted 'n' writes, then checks it is exactly 'n': the
 * publisher counts a write after the API server has it, so a watcher in the test
 * can see the object a moment before the counter moves. */
static void
assert_writes(struct pub *pub, unsigned long n)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

    while (stats(pub).writes < n && !testutil_deadline_passed(&d)) {
        testutil_nap(5);
    }
    assert_int_equal(stats(pub).writes, n);
}

static void
wait_leader(struct pub *pub)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

    while (!stats(pub).leader) {
        if (testutil_deadline_passed(&d)) {
            fail_msg("never became leader");
        }
        testutil_nap(20);
    }
}

/* ---- objects ---- */

/* Applies the Network 'name' with 'spec' (JSON text) and returns its generation. */
static int64_t
put_network(const char *name, const char *spec)
{
    char path[256];
    struct errmsg err = { "" };
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", "operator.openshift.io/v1",
                            "kind", "Network", "metadata", "name", name,
                            "spec", json_loads(spec, 0, NULL));
    json_t *stored = NULL;
    int64_t gen;

    assert_non_null(obj);
    snprintf(path, sizeof path, NETWORKS "/%s", name);
    if (kube_apply(api, path, obj, "exportflows-test", true, 0, &stored, &err)) {
        fail_msg("apply network: %s", err.text);
    }
    gen = json_integer_value(json_object_get(json_object_get(stored, "metadata"),
                                             "generation"));
    json_decref(stored);
    json_decref(obj);
    return gen;
}

static void
delete_object(const char *path)
{
    struct errmsg err = { "" };

    if (kube_delete(api, path, 0, &err)) {
        fail_msg("delete %s: %s", path, err.text);
    }
}

static void
delete_network(const char *name)
{
    char path[256];

    snprintf(path, sizeof path, NETWORKS "/%s", name);
    delete_object(path);
}

/* The ConfigMap at 'path', or NULL when absent. */
static json_t *
get_object(const char *path)
{
    struct errmsg err = { "" };
    json_t *cm = NULL;
    int r = kube_get(api, path, 0, &cm, &err);

    if (r == -ENOENT) {
        return NULL;
    }
    if (r) {
        fail_msg("get configmap: %s", err.text);
    }
    return cm;
}

/* The published ConfigMap, or NULL when absent. */
static json_t *
get_cm(const struct names *n)
{
    return get_object(n->cm_path);
}

static const char *
cm_text(const json_t *cm)
{
    return json_string_value(json_object_get(json_object_get(cm, "data"), "config.json"));
}

static const char *
meta(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *
cm_annotation(const json_t *cm, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(cm, "metadata"),
                                                             "annotations"), key));
}

/* Polls until the ConfigMap's config.json is 'want'; returns the ConfigMap.
 * Nothing more is written to it then: the node summary has its own. */
static json_t *
wait_cm_text(const struct names *n, const char *want)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

    for (;;) {
        json_t *cm = get_cm(n);

        if (cm && cm_text(cm) && !strcmp(cm_text(cm), want)) {
            return cm;
        }
        if (testutil_deadline_passed(&d)) {
            fail_msg("configmap %s never had\n  %s\nlast:\n  %s", n->configmap, want,
                     cm ? cm_text(cm) : "(absent)");
        }
        json_decref(cm);
        testutil_nap(20);
    }
}

/* "sha256:<hex>" of 'text', computed here independently of flowconfig. */
static void
sha256_of(const char *text, char ret[FLOWCONFIG_HASH_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    assert_true(EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL));
    for (unsigned i = 0; i < len; i++) {
        snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
    }
    memcpy(ret, "sha256:", 7);
}

/* The published text for 'body' (the canonical protocols, without braces, "" for
 * export off) at generation 'gen' (-1: none); no "version": 1 is implied. */
static void
expected(char *buf, size_t size, int64_t gen, const char *body)
{
    char canonical[2048], hash[FLOWCONFIG_HASH_SIZE], generation[40] = "";

    snprintf(canonical, sizeof canonical, "{%s}", body);
    sha256_of(canonical, hash);
    if (gen >= 0) {
        snprintf(generation, sizeof generation, "\"generation\":%lld,", (long long) gen);
    }
    snprintf(buf, size, "{%s\"hash\":\"%s\"%s%s}", generation, hash,
             *body ? "," : "", body);
}

#define NETFLOW_1 "\"netFlow\":{\"collectors\":[\"10.0.0.1:2056\"],\"activeTimeout\":60}"
#define NETFLOW_2 "\"netFlow\":{\"collectors\":[\"10.0.0.1:2056\",\"10.0.0.2:2056\"]," \
                  "\"activeTimeout\":60}"
#define IPFIX_1 "\"ipfix\":{\"collectors\":[\"[fd00::5]:4739\",\":4739\"]," \
                "\"cacheActiveTimeout\":60}"
#define SPEC_1 "{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:2056\"], " \
               "\"ipfix\": {\"collectors\": [\":4739\", \"[fd00::0005]:4739\"]}}}"
#define SPEC_2 "{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.2:2056\", \"10.0.0.1:2056\"]}}"
/* SPEC_2 in the released shape, reordered, with an unrelated field. */
#define SPEC_2_AGAIN "{\"serviceNetwork\": [\"172.30.0.0/16\"], \"exportNetworkFlows\": " \
                     "{\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\", \"10.0.0.2:2056\"]}}}"
#define SPEC_BAD "{\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:70000\", " \
                 "\"[fd00::1]:2056\"]}}"
#define SPEC_BAD_AGAIN "{\"clusterNetwork\": [{\"cidr\": \"10.128.0.0/14\"}], " \
                       "\"exportNetworkFlows\": {\"netFlow\": [\"10.0.0.1:70000\", " \
                       "\"[fd00::1]:2056\"]}}"

/* ---- tests ---- */

static void
test_publisher_publishes_and_follows_edits(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048], rv[64];
    json_t *cm, *labels;
    int64_t gen;
    struct errmsg err = { "" };
    unsigned long long t0;

    make_names(&n, "edits");
    gen = put_network(n.network, SPEC_1);
    assert_int_equal(gen, 1);
    pub_start(&pub, &n, "edits-a", 0);

    /* The canonical config, byte for byte, with our labels. */
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    cm = wait_cm_text(&n, want);
    labels = json_object_get(json_object_get(cm, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/name")),
                        "exportflows");
    assert_string_equal(json_string_value(json_object_get(labels,
                                                          "app.kubernetes.io/component")),
                        "config");
    json_decref(cm);
    assert_writes(&pub, 1);
    assert_true(stats(&pub).leader);

    /* An edit is published. */
    t0 = clock_monotonic_us();
    gen = put_network(n.network, SPEC_2);
    assert_int_equal(gen, 2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    fprintf(stderr, "edit to configmap: %llu ms (polled every 20 ms)\n",
            (clock_monotonic_us() - t0) / 1000);
    cm = wait_cm_text(&n, want);
    snprintf(rv, sizeof rv, "%s", meta(cm, "resourceVersion"));
    json_decref(cm);
    wait_observed(&pub, 2);
    assert_writes(&pub, 2);
    assert_int_equal(stats(&pub).published_generation, 2);

    /* The same content in another shape, plus an unrelated field: no write. */
    gen = put_network(n.network, SPEC_2_AGAIN);
    assert_int_equal(gen, 3);
    wait_observed(&pub, 3);
    cm = get_cm(&n);
    assert_string_equal(meta(cm, "resourceVersion"), rv);
    assert_string_equal(cm_text(cm), want);
    json_decref(cm);
    assert_writes(&pub, 2);

    /* The Network gone: export off, without a generation. */
    delete_network(n.network);
    expected(want, sizeof want, -1, "");
    json_decref(wait_cm_text(&n, want));
    assert_writes(&pub, 3);
    assert_int_equal(recorded(&pub.rec, PUBLISHER_REPORT_PUBLISHED, NULL, 0), 3);
    assert_int_equal(recorded(&pub.rec, PUBLISHER_REPORT_INVALID, NULL, 0), 0);

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_object(n.cm_path);
}

/* put_network() with an annotation holding "\u0000", which the API server
 * keeps (checked). */
static int64_t
put_network_with_nul(const char *name, const char *spec)
{
    char path[256];
    struct errmsg err = { "" };
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:{s:s%}}, s:o}", "apiVersion",
                            "operator.openshift.io/v1", "kind", "Network", "metadata",
                            "name", name, "annotations", "example.com/note", "a\0b",
                            (size_t) 3, "spec", json_loads(spec, 0, NULL));
    json_t *stored = NULL;
    const json_t *meta_stored;
    int64_t gen;

    assert_non_null(obj);
    snprintf(path, sizeof path, NETWORKS "/%s", name);
    if (kube_apply(api, path, obj, "exportflows-test", true, 0, &stored, &err)) {
        fail_msg("apply network: %s", err.text);
    }
    meta_stored = json_object_get(stored, "metadata");
    assert_int_equal(json_string_length(json_object_get(json_object_get(meta_stored,
                                                                        "annotations"),
                                                        "example.com/note")), 3);
    gen = json_integer_value(json_object_get(meta_stored, "generation"));
    json_decref(stored);
    json_decref(obj);
    return gen;
}

/* A Network whose annotation holds "\u0000" (Kubernetes stores any text
 * there, and the webhook admits it) is listed and watched like any other:
 * its config is published, and so is an edit. */
static void
test_publisher_reads_a_network_holding_nul(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048];
    struct errmsg err = { "" };

    make_names(&n, "nul");
    assert_int_equal(put_network_with_nul(n.network, SPEC_1), 1);
    pub_start(&pub, &n, "nul-a", 0);
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    json_decref(wait_cm_text(&n, want));
    assert_int_equal(put_network_with_nul(n.network, SPEC_2), 2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    assert_int_equal(recorded(&pub.rec, PUBLISHER_REPORT_INVALID, NULL, 0), 0);
    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

/* The Events about Network 'name' with our reason, as a JSON array (new ref). */
static json_t *
invalid_events(const char *name)
{
    char path[512];
    struct errmsg err = { "" };
    json_t *list = NULL, *items;

    snprintf(path, sizeof path, "/api/v1/namespaces/default/events?fieldSelector="
             "involvedObject.name%%3D%s%%2Creason%%3D" PUBLISHER_EVENT_REASON, name);
    if (kube_get(api, path, 0, &list, &err)) {
        fail_msg("list events: %s", err.text);
    }
    items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

static void
test_publisher_keeps_last_good_when_stored_spec_is_invalid(void **state)
{
    struct names n;
    struct pub pub;
    char good[2048], want[2048], rv[64], message[1024], uid[64];
    json_t *cm, *events, *ev;
    struct testutil_deadline d;
    struct errmsg err = { "" };

    make_names(&n, "invalid");
    put_network(n.network, SPEC_1);
    pub_start(&pub, &n, "invalid-a", 0);
    expected(good, sizeof good, 1, NETFLOW_1 "," IPFIX_1);
    cm = wait_cm_text(&n, good);
    snprintf(rv, sizeof rv, "%s", meta(cm, "resourceVersion"));
    json_decref(cm);

    /* Stored while no webhook was there to refuse it. */
    assert_int_equal(put_network(n.network, SPEC_BAD), 2);
    wait_observed(&pub, 2);
    d = testutil_deadline_ms(WAIT_MS);
    while (stats(&pub).events < 1 && !testutil_deadline_passed(&d)) {
        testutil_nap(20);
    }
    assert_int_equal(stats(&pub).events, 1);
    assert_int_equal(stats(&pub).invalid_specs, 1);
    assert_writes(&pub, 1);
    assert_int_equal(recorded(&pub.rec, PUBLISHER_REPORT_INVALID, message, sizeof message), 1);
    assert_non_null(strstr(message, "spec.exportNetworkFlows.netFlow[0]: Invalid value: "
                                    "\"10.0.0.1:70000\": port must be between 1 and 65535"));
    assert_non_null(strstr(message, "netFlow[1]"));
    cm = get_cm(&n);
    assert_string_equal(meta(cm, "resourceVersion"), rv);
    assert_string_equal(cm_text(cm), good);
    json_decref(cm);
    {
        char *metrics = metrics_render(pub.metrics);

        assert_non_null(strstr(metrics, "exportflows_publisher_invalid_specs_total 1"));
        assert_non_null(strstr(metrics, "exportflows_publisher_leader 1"));
        assert_non_null(strstr(metrics, "exportflows_publisher_published_generation 1"));
        free(metrics);
    }

    /* The Event, about the Network, saying why. */
    events = invalid_events(n.network);
    assert_int_equal(json_array_size(events), 1);
    ev = json_array_get(events, 0);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "Warning");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev,
                        "involvedObject"), "kind")), "Network");
    assert_non_null(strstr(json_string_value(json_object_get(ev, "message")),
                           "port must be between 1 and 65535"));
    assert_non_null(strstr(json_string_value(json_object_get(ev, "message")),
                           "the last good config stays in configmap " NS "/"));
    snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(json_object_get(ev,
             "involvedObject"), "uid")));
    assert_true(strlen(uid) > 10);
    json_decref(events);

    /* An unrelated edit that keeps the same errors reports nothing new. */
    assert_int_equal(put_network(n.network, SPEC_BAD_AGAIN), 3);
    wait_observed(&pub, 3);
    assert_int_equal(stats(&pub).invalid_specs, 1);
    assert_int_equal(stats(&pub).events, 1);
    assert_int_equal(recorded(&pub.rec, PUBLISHER_REPORT_INVALID, NULL, 0), 1);

    /* Deleted meanwhile: the last good config comes back, not the invalid one. */
    delete_object(n.cm_path);
    json_decref(wait_cm_text(&n, good));
    assert_writes(&pub, 2);

    /* Fixed: published. */
    assert_int_equal(put_network(n.network, SPEC_2), 4);
    expected(want, sizeof want, 4, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    assert_int_equal(stats(&pub).invalid_specs, 1);

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

static void
test_publisher_starts_on_an_invalid_spec_without_publishing(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048];
    struct errmsg err = { "" };
    json_t *events;
    json_t *cm;

    make_names(&n, "badstart");
    put_network(n.network, SPEC_BAD);
    pub_start(&pub, &n, "badstart-a", 0);
    wait_observed(&pub, 1);
    /* No good config was ever known: nothing is published, the problem is told. */
    cm = get_cm(&n);
    assert_null(cm);
    assert_int_equal(stats(&pub).writes, 0);
    assert_int_equal(stats(&pub).invalid_specs, 1);
    {
        struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

        while (stats(&pub).events < 1 && !testutil_deadline_passed(&d)) {
            testutil_nap(20);
        }
    }
    events = invalid_events(n.network);
    assert_int_equal(json_array_size(events), 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(events, 0),
                                                             "message")),
                           "nothing is published to configmap"));
    json_decref(events);

    put_network(n.network, SPEC_2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

static void
test_publisher_repairs_a_deleted_or_edited_configmap(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048], rv[64];
    json_t *cm;
    struct errmsg err = { "" };

    /* No Network at all: the ConfigMap says export off. */
    make_names(&n, "repair");
    pub_start(&pub, &n, "repair-a", 0);
    expected(want, sizeof want, -1, "");
    json_decref(wait_cm_text(&n, want));

    /* Edited by hand: put back. */
    cm = get_cm(&n);
    json_object_set_new(json_object_get(cm, "data"), "config.json",
                        json_string("{\"netFlow\":{\"collectors\":[\"10.9.9.9:2056\"]}}"));
    assert_int_equal(kube_update(api, n.cm_path, cm, 0, NULL, &err), 0);
    json_decref(cm);
    json_decref(wait_cm_text(&n, want));

    /* Deleted: recreated. */
    delete_object(n.cm_path);
    cm = wait_cm_text(&n, want);
    snprintf(rv, sizeof rv, "%s", meta(cm, "resourceVersion"));
    json_decref(cm);
    assert_writes(&pub, 3);

    /* A Network without exportNetworkFlows means the same: no write. */
    assert_int_equal(put_network(n.network, "{\"serviceNetwork\": [\"172.30.0.0/16\"]}"), 1);
    wait_observed(&pub, 1);
    cm = get_cm(&n);
    assert_string_equal(meta(cm, "resourceVersion"), rv);
    json_decref(cm);
    assert_writes(&pub, 3);

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

static void
test_publisher_resync_rereads_and_writes_nothing_when_current(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048], rv[64];
    struct errmsg err = { "" };
    struct testutil_deadline d;
    unsigned long passes;
    json_t *cm;

    make_names(&n, "resync");
    put_network(n.network, SPEC_1);
    pub_start(&pub, &n, "resync-a", 300);
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    cm = wait_cm_text(&n, want);
    snprintf(rv, sizeof rv, "%s", meta(cm, "resourceVersion"));
    json_decref(cm);

    /* Nothing changes, yet passes keep coming: the periodic resync. */
    passes = stats(&pub).reconciles;
    d = testutil_deadline_ms(WAIT_MS);
    while (stats(&pub).reconciles < passes + 3 && !testutil_deadline_passed(&d)) {
        testutil_nap(20);
    }
    assert_true(stats(&pub).reconciles >= passes + 3);
    assert_writes(&pub, 1);
    cm = get_cm(&n);
    assert_string_equal(meta(cm, "resourceVersion"), rv);
    json_decref(cm);

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

static void
test_publisher_only_the_leader_writes(void **state)
{
    struct names n;
    struct pub a, b;
    char want[2048];
    struct errmsg err = { "" };
    unsigned long long t0, takeover_us;
    json_t *cm;

    make_names(&n, "leader");
    put_network(n.network, SPEC_1);
    pub_start(&a, &n, "leader-a", 0);
    wait_leader(&a);
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    json_decref(wait_cm_text(&n, want));
    pub_start(&b, &n, "leader-b", 0);

    /* B follows: it sees and validates everything, and writes nothing. */
    assert_int_equal(put_network(n.network, SPEC_2), 2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    wait_observed(&b, 2);
    delete_object(n.cm_path);
    json_decref(wait_cm_text(&n, want));
    assert_true(stats(&a).leader);
    assert_false(stats(&b).leader);
    assert_writes(&a, 3);
    assert_int_equal(stats(&b).writes, 0);
    assert_int_equal(stats(&b).published_generation, 2);

    /* A stops and gives the Lease up: B takes over long before the 15 s expiry. */
    t0 = clock_monotonic_us();
    assert_int_equal(publisher_stop(a.p, &err), 0);
    wait_leader(&b);
    takeover_us = clock_monotonic_us() - t0;
    fprintf(stderr, "leader takeover after stop: %llu ms\n", takeover_us / 1000);
    assert_true(takeover_us < 5000000);

    assert_int_equal(put_network(n.network, SPEC_1), 3);
    expected(want, sizeof want, 3, NETFLOW_1 "," IPFIX_1);
    cm = wait_cm_text(&n, want);
    json_decref(cm);
    assert_writes(&b, 1);
    assert_writes(&a, 3);
    assert_int_equal(recorded(&b.rec, PUBLISHER_REPORT_LEADER, NULL, 0), 1);
    assert_int_equal(recorded(&a.rec, PUBLISHER_REPORT_FOLLOWER, NULL, 0), 1);

    pub_destroy(&a);
    pub_destroy(&b);
    delete_network(n.network);
    delete_object(n.cm_path);
}


/* ---- the node summary ---- */

/* Writes node 'node''s status Lease in namespace 'ns' as its applier would:
 * applied 'hash', and failing with 'error' when not NULL. */
static void
put_node_in(const char *ns, const char *node, const char *hash, const char *error)
{
    struct nodestatus_identity id = { .namespace = ns, .node = node };
    struct nodestatus_state st;
    struct errmsg err = { "" };
    struct timespec now;
    char path[256];
    json_t *lease;

    nodestatus_state_init(&st);
    st.has_applied = true;
    snprintf(st.hash, sizeof st.hash, "%s", hash);
    st.last_apply_time = (int64_t) time(NULL);
    st.in_sync = !error;
    snprintf(st.last_error, sizeof st.last_error, "%s", error ? error : "");
    clock_gettime(CLOCK_REALTIME, &now);
    lease = nodestatus_lease_json(&id, &st, &now);
    assert_non_null(lease);
    snprintf(path, sizeof path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/"
             NODESTATUS_LEASE_PREFIX "%s", ns, node);
    if (kube_apply(api, path, lease, "exportflows-test", true, 0, NULL, &err)) {
        fail_msg("apply lease: %s", err.text);
    }
    json_decref(lease);
}

/* The same in the appliers' namespace, where the summary looks. */
static void
put_node(const char *node, const char *hash, const char *error)
{
    put_node_in(NODE_NS, node, hash, error);
}

static void
delete_node(const char *node)
{
    char path[256];

    snprintf(path, sizeof path, "/apis/coordination.k8s.io/v1/namespaces/" NODE_NS "/leases/"
             NODESTATUS_LEASE_PREFIX "%s", node);
    delete_object(path);
}

/* Polls until the status ConfigMap's annotation 'key' is 'want'. */
static void
wait_annotation(const struct names *n, const char *key, const char *want)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);
    char last[1024] = "(absent)";

    for (;;) {
        json_t *cm = get_object(n->status_path);
        const char *v = cm_annotation(cm, key);
        bool done = v && !strcmp(v, want);

        if (v) {
            snprintf(last, sizeof last, "%s", v);
        }
        json_decref(cm);
        if (done) {
            return;
        }
        if (testutil_deadline_passed(&d)) {
            fail_msg("annotation %s never was '%s'; last '%s'", key, want, last);
        }
        testutil_nap(20);
    }
}

/* The Events in NS about ConfigMap 'name' with 'reason' (new ref). */
static json_t *
summary_events(const char *name, const char *reason)
{
    char path[512];
    struct errmsg err = { "" };
    json_t *list = NULL, *items;

    snprintf(path, sizeof path, "/api/v1/namespaces/" NS "/events?fieldSelector="
             "involvedObject.name%%3D%s%%2Creason%%3D%s", name, reason);
    if (kube_get(api, path, 0, &list, &err)) {
        fail_msg("list events: %s", err.text);
    }
    items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

/* Polls until there is an Event about ConfigMap 'name' with 'reason' whose
 * message holds 'part'. */
static void
wait_summary_event(const char *name, const char *reason, const char *part)
{
    struct testutil_deadline d = testutil_deadline_ms(WAIT_MS);

    for (;;) {
        json_t *events = summary_events(name, reason), *ev;
        bool found = false;
        size_t i;

        json_array_foreach(events, i, ev) {
            const char *m = json_string_value(json_object_get(ev, "message"));
            const char *kind = json_string_value(json_object_get(json_object_get(
                ev, "involvedObject"), "kind"));

            found = found || (m && strstr(m, part) && kind && !strcmp(kind, "ConfigMap"));
        }
        json_decref(events);
        if (found) {
            return;
        }
        if (testutil_deadline_passed(&d)) {
            fail_msg("no %s event about configmap %s saying '%s'", reason, name, part);
        }
        testutil_nap(50);
    }
}

/* The value of the series 'series' (name and labels) in 'm''s exposition. */
static double
metric(struct metrics *m, const char *series)
{
    char *text = metrics_render(m), *at, key[256];
    double v = -1;

    assert_non_null(text);
    snprintf(key, sizeof key, "\n%s ", series);
    at = strstr(text, key);
    if (at) {
        v = strtod(at + strlen(key), NULL);
    }
    free(text);
    return v;
}

static void
test_publisher_summarizes_node_status_leases(void **state)
{
    static const char err2[] = "cannot connect to 'unix:/run/openvswitch/db.sock': "
                               "no such file";
    struct names n;
    struct pub pub;
    char want[2048], hash[FLOWCONFIG_HASH_SIZE], failing[256];
    struct errmsg err = { "" };
    double writes;
    json_t *cm, *config, *status;
    char published_version[64];

    make_names(&n, "summary");
    put_network(n.network, SPEC_1);
    pub_start(&pub, &n, "summary-a", 0);
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    cm = wait_cm_text(&n, want);
    snprintf(published_version, sizeof published_version, "%s", meta(cm, "resourceVersion"));
    json_decref(cm);
    /* The status ConfigMap is created, with our labels, holding the summary. */
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "0/0");
    status = get_object(n.status_path);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
        status, "metadata"), "labels"), "app.kubernetes.io/component")), "status");
    json_decref(status);
    config = json_loads(want, 0, NULL);
    snprintf(hash, sizeof hash, "%s", json_string_value(json_object_get(config, "hash")));
    json_decref(config);

    /* Three nodes, one failing: 2/3, the failing node named with its error, an
     * Event, and the gauges.  A status Lease in the publisher's own namespace
     * (where the appliers may not write) is not a node: only NODE_NS counts. */
    put_node_in(NS, "decoy", hash, NULL);
    put_node("n1", hash, NULL);
    put_node("n2", hash, err2);
    put_node("n3", hash, NULL);
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "2/3");
    snprintf(failing, sizeof failing, "n2: %s", err2);
    wait_annotation(&n, NODESUMMARY_ANNOTATION_FAILING_NODES, failing);
    wait_annotation(&n, NODESUMMARY_ANNOTATION_FAILED, "1");
    wait_summary_event(n.status, NODESUMMARY_REASON_FAILING, failing);
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes{state=\"failed\"}") == 1);
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes{state=\"in_sync\"}") == 2);
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes_out_of_sync_seconds") >= 0);

    /* A burst of 30 Lease writes becomes one or two ConfigMap writes. */
    writes = metric(pub.metrics, "exportflows_publisher_nodes_annotation_writes_total");
    for (int i = 0; i < 30; i++) {
        char e[64];

        snprintf(e, sizeof e, "error %d", i);
        put_node("n3", hash, e);
    }
    wait_annotation(&n, NODESUMMARY_ANNOTATION_FAILING_NODES, "n2: cannot connect to "
                    "'unix:/run/openvswitch/db.sock': no such file; n3: error 29");
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes_annotation_writes_total")
                <= writes + 2);
    fprintf(stderr, "summary writes for a burst of 30 lease writes: %.0f\n",
            metric(pub.metrics, "exportflows_publisher_nodes_annotation_writes_total") - writes);

    /* Recovered: 3/3, and an Event says so. */
    put_node("n2", hash, NULL);
    put_node("n3", hash, NULL);
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "3/3");
    wait_annotation(&n, NODESUMMARY_ANNOTATION_FAILING_NODES, "");
    wait_summary_event(n.status, NODESUMMARY_REASON_APPLIED, "3 of 3 nodes applied");
    /* None of it touched the published ConfigMap, which the appliers watch. */
    cm = get_cm(&n);
    assert_string_equal(meta(cm, "resourceVersion"), published_version);
    assert_null(cm_annotation(cm, NODESUMMARY_ANNOTATION_APPLIED));
    json_decref(cm);
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes{state=\"failed\"}") == 0);
    assert_true(metric(pub.metrics, "exportflows_publisher_nodes_out_of_sync_seconds") == 0);

    /* Deleted by hand: the summary's next change creates it again. */
    delete_object(n.status_path);
    put_node("n1", hash, "gone");
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "2/3");
    put_node("n1", hash, NULL);
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "3/3");

    /* A new config: every node is behind until it applies it. */
    put_network(n.network, SPEC_2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    wait_annotation(&n, NODESUMMARY_ANNOTATION_APPLIED, "0/3");
    wait_annotation(&n, NODESUMMARY_ANNOTATION_PENDING_NODES, "n1, n2, n3");

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_node("n1");
    delete_node("n2");
    delete_node("n3");
    delete_object("/apis/coordination.k8s.io/v1/namespaces/" NS "/leases/"
                  NODESTATUS_LEASE_PREFIX "decoy");
    delete_network(n.network);
    delete_object(n.cm_path);
    delete_object(n.status_path);
}

/* The summary on the published ConfigMap would wake every applier per write. */
static void
test_publisher_refuses_the_published_configmap_for_the_summary(void **state)
{
    struct publisher_config pc = {
        .kubeconfig = cfg, .namespace = NS, .configmap = "same-config",
        .status_configmap = "same-config",
    };
    struct publisher *p = NULL;
    struct errmsg err = { "" };

    flowtuning_init(&pc.tuning);
    assert_int_equal(publisher_create(&pc, &p, &err), -EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.text, "status configmap"));
}

static void
test_publisher_survives_apiserver_restart(void **state)
{
    struct names n;
    struct pub pub;
    char want[2048];
    struct errmsg err = { "" };

    make_names(&n, "restart");
    put_network(n.network, SPEC_1);
    pub_start(&pub, &n, "restart-a", 0);
    expected(want, sizeof want, 1, NETFLOW_1 "," IPFIX_1);
    json_decref(wait_cm_text(&n, want));

    assert_int_equal(control_plane("restart-apiserver"), 0);
    /* A change right after the restart, before the watches have reconnected. */
    assert_int_equal(put_network(n.network, SPEC_2), 2);
    expected(want, sizeof want, 2, NETFLOW_2);
    json_decref(wait_cm_text(&n, want));
    assert_true(stats(&pub).errors >= 1);       /* the watches did break */

    /* And the ConfigMap watch still works. */
    delete_object(n.cm_path);
    json_decref(wait_cm_text(&n, want));

    assert_int_equal(publisher_stop(pub.p, &err), 0);
    pub_destroy(&pub);
    delete_network(n.network);
    delete_object(n.cm_path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_publishes_and_follows_edits),
        cmocka_unit_test(test_publisher_reads_a_network_holding_nul),
        cmocka_unit_test(test_publisher_keeps_last_good_when_stored_spec_is_invalid),
        cmocka_unit_test(test_publisher_starts_on_an_invalid_spec_without_publishing),
        cmocka_unit_test(test_publisher_repairs_a_deleted_or_edited_configmap),
        cmocka_unit_test(test_publisher_resync_rereads_and_writes_nothing_when_current),
        cmocka_unit_test(test_publisher_only_the_leader_writes),
        /* Last: it restarts the API server. */
        cmocka_unit_test(test_publisher_summarizes_node_status_leases),
        cmocka_unit_test(test_publisher_refuses_the_published_configmap_for_the_summary),
        cmocka_unit_test(test_publisher_survives_apiserver_restart),
    };

    return cmocka_run_group_tests(tests, setup_control_plane, teardown_control_plane);
}
