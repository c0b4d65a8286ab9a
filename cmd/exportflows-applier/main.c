/* exportflows-applier — per-node program: reads the flow export config (the
 * ConfigMap, watched through the Kubernetes API, or --config-file outside a
 * cluster) and keeps OVS's NetFlow/sFlow/IPFIX settings on the bridge equal to it
 * through OVSDB, repairing drift.  With Kubernetes it also publishes this node's
 * applied state as the Lease exportflows-node-<node> (--no-status turns that off).
 * Serves /healthz and /readyz on --health-listen (plain HTTP, loopback by
 * default, for the kubelet's probes), and /metrics on --metrics-listen over TLS
 * to callers the API server authenticates and authorizes (TokenReview, then
 * SubjectAccessReview for get on /metrics); without --metrics-listen, /metrics
 * is on the health listener.  On SIGTERM or SIGINT it clears the rows it owns
 * when exportflows is being uninstalled (its DaemonSet deleted; see
 * uninstall.h and --clear-on-exit), then exits 0 (1 when that clearing did not
 * finish in time). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "exportflows/ovs/applier.h"
#include "exportflows/http/certs.h"
#include "exportflows/base/clock.h"
#include "exportflows/admission/collector.h"
#include "exportflows/ovs/configsource_file.h"
#include "exportflows/kube/configsource_kube.h"
#include "exportflows/http/httpserver.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubeauth.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/log.h"
#include "exportflows/base/metrics.h"
#include "exportflows/ovs/nodestatus.h"
#include "exportflows/base/options.h"
#include "exportflows/ovs/ovsdb_session.h"
#include "exportflows/kube/uninstall.h"

#define PROGRAM "exportflows-applier"

#define METRICS_PREFIX "exportflows_applier"

/* The GET of the DaemonSet at start and when stopping takes at most this. */
#define DAEMONSET_TIMEOUT_MS 3000u

/* Files of the serving certificate made at start when none is given. */
static const char *const generated_files[] = { "tls.crt", "tls.key", "ca.crt" };

struct args {
    const char *config_file;
    const char *kubeconfig;
    const char *namespace;              /* the ConfigMap's */
    const char *node_namespace;         /* its own: status Leases, DaemonSet, Service */
    const char *configmap;
    bool status;
    uint64_t status_heartbeat_s;
    const char *pod_name;
    const char *pod_uid;
    const char *ovsdb;
    const char *bridge;
    const char *node_name;
    const char *node_ip;
    const char *health_listen;          /* NULL: off */
    const char *metrics_listen;         /* NULL: off */
    const char *metrics_cert_file;
    const char *metrics_key_file;
    int log_format;                     /* enum log_format */
    int log_level;                      /* enum log_level */
    uint64_t timeout_s;
    const char *daemonset;
    int clear_mode;                     /* enum uninstall_mode */
    uint64_t clear_timeout_s;
};

struct program {
    struct args args;
    bool use_kube;              /* the ConfigMap through the API, not a file */
    struct collector node_ip;
    enum uninstall_state daemonset_at_start;
    struct kubeconfig *kube;
    struct nodestatus *status;  /* NULL without Kubernetes or with --no-status */
    struct nodestatus_state status_state;   /* the loop's thread only */
    struct metrics *metrics;
    struct httpserver *http;            /* health */
    struct httpserver *metrics_http;    /* NULL without --metrics-listen */
    struct kubeauth *auth;              /* who may read /metrics */
    char cert_dir[4096];                /* the generated certificate's, or "" */
    struct applier *applier;
    int signal_fd;
    atomic_bool ready;          /* read by /readyz in the server's threads */
};

/* One program per process: static, so that the options table can point into it. */
static struct program prog = {
    .args = {
        .ovsdb = OVSDB_DEFAULT_ADDRESS, .bridge = "br-int",
        .health_listen = "127.0.0.1:8082", .log_format = LOG_FORMAT_TEXT,
        .log_level = LOG_INFO, .timeout_s = 10, .namespace = "exportflows",
        .node_namespace = "exportflows-nodes",
        .configmap = "exportflows-config", .status = true, .clear_mode = UNINSTALL_AUTO,
        .clear_timeout_s = 6,
    },
    .signal_fd = -1,
};

#define A (&prog.args)

static const struct option_spec specs[] = {
    OPT_STRING("config-file", &A->config_file, "FILE",
               "flow export config (the ConfigMap's config.json), watched for changes"),
    OPT_STRING("kubeconfig", &A->kubeconfig, "FILE",
               "watch the ConfigMap through the Kubernetes API with this kubeconfig"),
    OPT_STRING("namespace", &A->namespace, "NS",
               "namespace of the ConfigMap (default exportflows)"),
    OPT_STRING("node-namespace", &A->node_namespace, "NS",
               "this applier's own namespace: its status Leases, its DaemonSet and its "
               "metrics Service (default exportflows-nodes)"),
    OPT_STRING("configmap", &A->configmap, "NAME",
               "ConfigMap holding config.json (default exportflows-config)"),
    OPT_BOOL("status", &A->status,
             "publish this node's state as Lease exportflows-node-<node> (default on "
             "with Kubernetes)"),
    OPT_UINT("status-heartbeat", &A->status_heartbeat_s, "SECONDS", 0, 86400,
             "rewrite the status Lease this often even when nothing changed (default 0: "
             "only on change)"),
    OPT_STRING("pod-name", &A->pod_name, "NAME",
               "this pod, made the owner of the status Lease (with --pod-uid)"),
    OPT_STRING("pod-uid", &A->pod_uid, "UID", "this pod's uid"),
    OPT_STRING("ovsdb", &A->ovsdb, "REMOTE", "OVSDB remote (default " OVSDB_DEFAULT_ADDRESS
               ")"),
    OPT_STRING("bridge", &A->bridge, "NAME", "bridge (default br-int)"),
    OPT_STRING("node-name", &A->node_name, "NAME",
               "this node's name, for logs and its status Lease (default: host name in "
               "lower case, as kubelet names nodes)"),
    OPT_STRING("node-ip", &A->node_ip, "IP", "this node's primary IP, for ':PORT' collectors"),
    OPT_LISTEN("health-listen", &A->health_listen, "ADDR",
               "plain HTTP /healthz, /readyz (and /metrics without --metrics-listen); "
               "\"off\" disables (default 127.0.0.1:8082)"),
    OPT_LISTEN("metrics-listen", &A->metrics_listen, "ADDR",
               "HTTPS /metrics for callers the API server authorizes (get on the "
               "non-resource URL /metrics); needs Kubernetes (default off)"),
    OPT_STRING("metrics-tls-cert-file", &A->metrics_cert_file, "FILE",
               "its serving certificate, re-read on change (default: one made at start "
               "under $TMPDIR)"),
    OPT_STRING("metrics-tls-private-key-file", &A->metrics_key_file, "FILE",
               "that certificate's private key"),
    OPT_UINT("timeout", &A->timeout_s, "SECONDS", 1, 3600,
             "OVSDB connect and reply timeout (default 10)"),
    OPT_STRING("daemonset", &A->daemonset, "NAME",
               "the DaemonSet running this applier (in --node-namespace), asked when "
               "stopping "
               "whether exportflows is being uninstalled (default: none)"),
    OPT_CHOICE("clear-on-exit", &A->clear_mode, uninstall_mode_names, "WHEN",
               "clear the rows this applier owns when it stops: auto (when --daemonset "
               "is gone or being deleted), always or never (default auto)"),
    OPT_UINT("clear-timeout", &A->clear_timeout_s, "SECONDS", 1, 3600,
             "how long stopping may take to ask and clear; keep it under the pod's "
             "terminationGracePeriodSeconds (default 6)"),
    OPT_CHOICE("log-format", &A->log_format, log_format_names, "FORMAT", "text or json"),
    OPT_CHOICE("log-level", &A->log_level, log_level_names, "LEVEL",
               "debug, info, warn or error"),
    OPT_END,
};
#undef A

static bool
env_set(const char *name)
{
    const char *v = getenv(name);

    return v && *v;
}

static const char synopsis[] =
    PROGRAM " [--kubeconfig FILE | --config-file FILE] [--namespace NS]\n"
    "       [--configmap NAME] [--node-namespace NS] [--[no-]status]\n"
    "       [--status-heartbeat S]\n"
    "       [--ovsdb unix:PATH|tcp:IP:PORT] [--bridge br-int] [--node-name N]\n"
    "       [--node-ip IP] [--health-listen ADDR] [--metrics-listen ADDR]\n"
    "       [--metrics-tls-cert-file F --metrics-tls-private-key-file F] [--timeout S]\n"
    "       [--daemonset NAME] [--clear-on-exit auto|always|never] [--clear-timeout S]\n"
    "       [--log-format text|json] [--log-level LEVEL]\n"
    "Without either source option, the ConfigMap is watched when $KUBECONFIG or\n"
    "$KUBERNETES_SERVICE_HOST (in a pod) is set.";

/* Exactly one source: --kubeconfig (or, without --config-file, $KUBECONFIG or
 * the in-cluster service account) or --config-file.  Returns 0 or an exit
 * status. */
static int
choose_source(struct program *p)
{
    const struct args *a = &p->args;
    bool flag = a->kubeconfig && *a->kubeconfig;

    if (flag && a->config_file) {
        return options_usage_error(PROGRAM, "--config-file and --kubeconfig exclude each "
                                   "other");
    }
    p->use_kube = flag || (!a->config_file && (env_set("KUBECONFIG")
                                               || env_set("KUBERNETES_SERVICE_HOST")));
    if (!p->use_kube && !a->config_file) {
        return options_usage_error(PROGRAM, "--config-file or --kubeconfig is required "
                                   "outside a cluster");
    }
    return 0;
}

/* --daemonset names an object of the API; --metrics-listen asks the API server
 * about every caller, so both need Kubernetes; the metrics certificate comes as
 * a pair or not at all.  Returns 0 or an exit status. */
static int
check_kube_args(const struct program *p)
{
    const struct args *a = &p->args;
    bool daemonset = a->daemonset && *a->daemonset;
    bool cert = a->metrics_cert_file && *a->metrics_cert_file;
    bool key = a->metrics_key_file && *a->metrics_key_file;

    if (cert != key) {
        return options_usage_error(PROGRAM, "--metrics-tls-cert-file and "
                                   "--metrics-tls-private-key-file go together");
    }
    if (a->metrics_listen && !p->use_kube) {
        return options_usage_error(PROGRAM, "--metrics-listen needs Kubernetes (--kubeconfig "
                                   "or a pod) to check who may read the metrics");
    }
    if (daemonset && !p->use_kube) {
        return options_usage_error(PROGRAM, "--daemonset needs Kubernetes (--kubeconfig or a "
                                   "pod)");
    }
    if (daemonset && !kube_name_valid(a->daemonset, KUBE_NAME_MAX)) {
        return options_usage_error(PROGRAM, "--daemonset: invalid name '%s'", a->daemonset);
    }
    return 0;
}

/* Parses and checks the command line; returns an exit status or
 * OPTIONS_GO_ON. */
static int
parse_args(struct program *p, int argc, char **argv)
{
    const struct options_program program = {
        .name = PROGRAM, .synopsis = synopsis, .specs = specs,
    };
    const char *why;
    int first, status;

    status = options_run(&program, argc, argv, &first);
    if (status != OPTIONS_GO_ON) {
        return status;
    }
    log_configure(p->args.log_format, p->args.log_level);
    if ((status = choose_source(p)) != 0 || (status = check_kube_args(p)) != 0) {
        return status;
    }
    if (p->args.node_ip && collector_parse_ip(p->args.node_ip, &p->node_ip, &why) < 0) {
        return options_usage_error(PROGRAM, "--node-ip: invalid value '%s': %s",
                                   p->args.node_ip, why);
    }
    return OPTIONS_GO_ON;
}

/* ---- reports -> log lines ---- */

/* The config's generation in decimal, "" without one. */
static const char *
generation_text(const struct flowconfig *c, char buf[24])
{
    buf[0] = '\0';
    if (c && c->has_generation) {
        snprintf(buf, 24, "%" PRId64, c->generation);
    }
    return buf;
}

static void
protocols_text(unsigned mask, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < FLOWPROTO_N; i++) {
        if (mask & (1u << i)) {
            int n = snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                             flowproto_name((enum flowproto) i));
            if (n < 0 || (size_t) n >= size - len) {
                break;
            }
            len += (size_t) n;
        }
    }
}

static void
log_apply(const struct program *p, const struct applier_report *r)
{
    char generation[24], duration[24], changed[64], hash[FLOWCONFIG_HASH_SIZE];
    const struct flowconfig *c = r->config;

    generation_text(c, generation);
    snprintf(duration, sizeof duration, "%" PRIu64, r->duration_us);
    protocols_text(r->changed, changed, sizeof changed);
    if (r->type == APPLIER_APPLIED) {
        log_event(LOG_INFO, "applied flow export", "bridge", p->args.bridge,
                  "generation", generation, "hash", flowconfig_hash_of(c, hash),
                  "result", "ok", "changed", changed,
                  "drift", r->drift ? "true" : "false", "duration_us", duration, NULL);
    } else {
        log_event(LOG_WARN, "cannot apply flow export", "bridge", p->args.bridge,
                  "generation", generation, "hash", flowconfig_hash_of(c, hash),
                  "result", "error", "error", r->message, "duration_us", duration,
                  NULL);
    }
}

static void
log_config(const struct applier_report *r, const char *msg)
{
    char generation[24], hash[FLOWCONFIG_HASH_SIZE];

    log_event(LOG_INFO, msg, "generation", generation_text(r->config, generation),
              "hash", flowconfig_hash_of(r->config, hash), NULL);
}

static void
log_cleared(const struct program *p, const struct applier_report *r)
{
    char cleared[64], kept[64];

    protocols_text(r->changed, cleared, sizeof cleared);
    protocols_text(r->foreign_kept, kept, sizeof kept);
    log_event(LOG_INFO, "cleared flow export", "bridge", p->args.bridge,
              "cleared", cleared, "foreign_kept", kept, NULL);
}

static void
on_report(void *aux, const struct applier_report *r)
{
    struct program *p = aux;
    static bool connect_failed_logged;

    switch (r->type) {
    case APPLIER_CONFIG_LOADED:
        log_config(r, "config loaded");
        if (r->config && r->config->n_ignored) {
            char count[16];

            snprintf(count, sizeof count, "%u", r->config->n_ignored);
            log_event(LOG_WARN, "config has keys this version does not know, ignored",
                      "count", count, "first", r->config->first_ignored, NULL);
        }
        break;
    case APPLIER_CONFIG_REFUSED:
        log_event(LOG_ERROR, r->config ? "config refused, keeping the last good one"
                  : "no usable config yet", "error", r->message, NULL);
        break;
    case APPLIER_OVSDB_CONNECTED:
        connect_failed_logged = false;
        log_event(LOG_INFO, "connected to ovsdb", "address", p->args.ovsdb, NULL);
        break;
    case APPLIER_OVSDB_CONNECT_FAILED:
        /* Retried with backoff: say it once, then only at debug level. */
        log_event(connect_failed_logged ? LOG_DEBUG : LOG_WARN,
                  "cannot connect to ovsdb", "error", r->message, NULL);
        connect_failed_logged = true;
        break;
    case APPLIER_OVSDB_DISCONNECTED:
        log_event(LOG_WARN, "lost ovsdb connection", "error", r->message, NULL);
        break;
    case APPLIER_OVSDB_ERROR:
        log_event(LOG_ERROR, "ovsdb error", "error", r->message, NULL);
        break;
    case APPLIER_WAITING_BRIDGE:
        log_event(LOG_WARN, "waiting for bridge", "bridge", p->args.bridge,
                  "error", r->message, NULL);
        break;
    case APPLIER_PLAN_FAILED:
        log_event(LOG_ERROR, "cannot plan flow export", "error", r->message, NULL);
        break;
    case APPLIER_APPLIED:
    case APPLIER_APPLY_FAILED:
        log_apply(p, r);
        break;
    case APPLIER_IN_SYNC:
        log_config(r, "flow export already in place");
        break;
    case APPLIER_CLEARED:
        log_cleared(p, r);
        break;
    }
    /* Handing the state over never waits for the API server: the status
     * writer's thread does the request. */
    if (p->status && applier_report_fold(&p->status_state, r, (int64_t) time(NULL))) {
        nodestatus_set(p->status, &p->status_state);
    }
}

/* ---- Kubernetes threads -> log lines ---- */

/* report.h's levels are log.h's, in the same order. */
static enum log_level
log_level_of(const struct report *r)
{
    return r->level <= REPORT_ERROR ? (enum log_level) r->level : LOG_ERROR;
}

/* The watch retries by itself with backoff: the source says the first failure
 * as a warning, the next ones at debug level until it works again. */
static void
on_watch_report(void *aux, const struct report *r)
{
    struct program *p = aux;

    if (r->code < 0) {
        log_event(log_level_of(r), "cannot watch the configmap",
                  "namespace", p->args.namespace, "configmap", p->args.configmap,
                  "error", r->message, NULL);
    } else {
        log_event(log_level_of(r), "watching the configmap again", "namespace",
                  p->args.namespace, "configmap", p->args.configmap, NULL);
    }
}

/* Failed status writes are retried with backoff (at most one a minute once it
 * has grown), so each one is worth a line. */
static void
on_status_report(void *aux, const struct report *r)
{
    struct program *p = aux;

    log_event(log_level_of(r), "cannot write node status", "node", p->args.node_name,
              "error", r->message, NULL);
}

/* ---- set-up ---- */

static int
open_signal_fd(void)
{
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
        return -errno;
    }
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

static bool
is_ready(void *aux)
{
    struct program *p = aux;

    return atomic_load(&p->ready);
}

/* What both listeners share: one thread, few connections, the metrics. */
static struct httpserver_config
server_config(const struct program *p, const char *listen)
{
    return (struct httpserver_config) {
        .listen = listen, .metrics = p->metrics, .metrics_prefix = METRICS_PREFIX,
        .max_connections = 64, .max_connections_per_ip = 16, .threads = 1,
    };
}

/* Creates the server 'name' and logs the address it is listening on. */
static int
start_server(const struct httpserver_config *config, const char *name,
             struct httpserver **ret, struct errmsg *err)
{
    char address[128];
    int rc = httpserver_create(config, ret, err);

    if (rc == 0) {
        httpserver_format_address(*ret, config->listen, address, sizeof address);
        log_event(LOG_INFO, "listening", "address", address, "server", name, NULL);
    }
    return rc;
}

static int
start_http(struct program *p, struct errmsg *err)
{
    struct httpserver_config config = server_config(p, p->args.health_listen);

    config.health = true;
    config.health_without_metrics = p->args.metrics_listen != NULL;
    config.ready = is_ready;
    config.ready_aux = p;
    return p->args.health_listen ? start_server(&config, "health", &p->http, err) : 0;
}

/* ---- /metrics behind TLS, TokenReview and SubjectAccessReview ---- */

/* GET /metrics on the metrics listener: 401 without credentials the API server
 * knows, 403 without get on /metrics, 503 when it cannot be asked. */
static void
serve_metrics(void *aux, const struct http_request *req, struct http_response *resp)
{
    struct program *p = aux;
    enum kubeauth_result result;
    struct errmsg err;

    if (kubeauth_check(p->auth, http_request_header(req, "Authorization"), &result,
                       &err) < 0) {
        log_event(LOG_WARN, "cannot check a metrics request", "error", err.text, NULL);
        http_response_text(resp, 503, "cannot check the credentials now");
        return;
    }
    if (result == KUBEAUTH_UNAUTHENTICATED) {
        http_response_text(resp, 401, "Unauthorized");
    } else if (result == KUBEAUTH_FORBIDDEN) {
        http_response_text(resp, 403, "Forbidden: get on /metrics is needed");
    } else {
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4";
        resp->body = metrics_render(p->metrics);
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        if (!resp->body) {
            http_response_text(resp, 500, "out of memory");
        }
    }
}

/* A serving certificate for the metrics listener, made now in a private
 * directory under $TMPDIR (the DaemonSet mounts an emptyDir there), with the
 * node's name and IP; scrapers that do not pin it skip verification, as they do
 * for the kubelet's own self-signed certificate. */
static int
make_metrics_cert(struct program *p, struct errmsg *err)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *sans[4];
    size_t n = 0;
    struct certs_request req = {
        .service = "exportflows-applier-metrics", .namespace_name = p->args.node_namespace,
        .extra_sans = sans, .days = 3650,
    };
    int rc;

    rc = snprintf(p->cert_dir, sizeof p->cert_dir, "%s/exportflows-applier.XXXXXX", tmp);
    if (rc < 0 || (size_t) rc >= sizeof p->cert_dir) {
        p->cert_dir[0] = '\0';
        return errmsg_set(err, -ENAMETOOLONG, "$TMPDIR is too long");
    }
    if (!mkdtemp(p->cert_dir)) {
        rc = errmsg_set(err, -errno, "cannot make a directory for the metrics certificate "
                        "under '%s': %s", tmp, strerror(errno));
        p->cert_dir[0] = '\0';
        return rc;
    }
    sans[n++] = "localhost";
    sans[n++] = "127.0.0.1";
    if (p->args.node_name && kube_name_valid(p->args.node_name, 253)) {
        sans[n++] = p->args.node_name;
    }
    if (p->args.node_ip) {
        sans[n++] = p->args.node_ip;
    }
    req.n_extra_sans = n;
    return certs_generate(p->cert_dir, &req, err);
}

static void
remove_metrics_cert(struct program *p)
{
    char path[sizeof p->cert_dir + 16];

    if (!p->cert_dir[0]) {
        return;
    }
    for (size_t i = 0; i < sizeof generated_files / sizeof *generated_files; i++) {
        snprintf(path, sizeof path, "%s/%s", p->cert_dir, generated_files[i]);
        unlink(path);
    }
    rmdir(p->cert_dir);
}

static int
start_metrics(struct program *p, struct errmsg *err)
{
    const struct httpserver_route route = {
        .method = "GET", .path = "/metrics", .handler = serve_metrics, .aux = p,
    };
    struct kubeauth_config ac = {
        .verb = "get", .path = "/metrics", .metrics = p->metrics,
        .metrics_prefix = METRICS_PREFIX,
    };
    struct httpserver_config config = server_config(p, p->args.metrics_listen);
    char cert[sizeof p->cert_dir + 16], key[sizeof p->cert_dir + 16];
    int rc;

    if (!p->args.metrics_listen) {
        return 0;
    }
    config.tls_cert_file = p->args.metrics_cert_file;
    config.tls_key_file = p->args.metrics_key_file;
    config.routes = &route;
    config.n_routes = 1;
    if (!config.tls_cert_file || !*config.tls_cert_file) {
        rc = make_metrics_cert(p, err);
        if (rc < 0) {
            return errmsg_prefix(err, rc, "--metrics-listen");
        }
        snprintf(cert, sizeof cert, "%s/tls.crt", p->cert_dir);
        snprintf(key, sizeof key, "%s/tls.key", p->cert_dir);
        config.tls_cert_file = cert;
        config.tls_key_file = key;
        log_event(LOG_INFO, "made a serving certificate for the metrics", "directory",
                  p->cert_dir, NULL);
    }
    rc = kubeauth_create(p->kube, &ac, &p->auth, err);
    if (rc == 0) {
        rc = start_server(&config, "metrics", &p->metrics_http, err);
    }
    return rc < 0 ? errmsg_prefix(err, rc, "--metrics-listen") : 0;
}

static int
make_source(struct program *p, struct configsource **ret, struct errmsg *err)
{
    struct configsource_kube_config kc = {
        .namespace = p->args.namespace,
        .name = p->args.configmap,
        .report = on_watch_report,
        .aux = p,
    };

    if (!p->use_kube) {
        return configsource_file_create(p->args.config_file, 0, ret, err);
    }
    return configsource_kube_create(p->kube, &kc, ret, err);
}

static int
start_status(struct program *p, struct errmsg *err)
{
    struct nodestatus_config nc = {
        .namespace = p->args.node_namespace,
        .node = p->args.node_name,
        .pod_name = p->args.pod_name && *p->args.pod_name ? p->args.pod_name : NULL,
        .pod_uid = p->args.pod_uid && *p->args.pod_uid ? p->args.pod_uid : NULL,
        .heartbeat_ms = (unsigned) p->args.status_heartbeat_s * 1000,
        .metrics = p->metrics,
        .report = on_status_report,
        .ctx = p,
    };
    int rc;

    if (!p->use_kube || !p->args.status) {
        return 0;
    }
    nodestatus_state_init(&p->status_state);
    rc = nodestatus_create(p->kube, &nc, &p->status, err);
    if (rc == -EINVAL) {
        /* E.g. a node name too long for a Lease name: flow export matters more
         * than its report, so run without status. */
        log_event(LOG_ERROR, "node status disabled", "error", err->text, NULL);
        return 0;
    }
    if (rc == 0) {
        rc = nodestatus_start(p->status, err);
    }
    return rc < 0 ? errmsg_prefix(err, rc, "--status") : 0;
}

/* Exit status for a failure to start: usage and unreadable or unusable
 * configuration files are 2, the rest 1. */
static int
start_failed(int rc, const struct errmsg *err)
{
    log_event(LOG_ERROR, "cannot start", "error", err->text, NULL);
    return rc == -EINVAL || rc == -ENOENT || rc == -EACCES || rc == -ENOTSUP ? EXIT_USAGE
                                                                              : EXIT_INVALID;
}

static bool
asks_daemonset(const struct program *p)
{
    return p->args.clear_mode == UNINSTALL_AUTO && p->use_kube && p->args.daemonset
           && *p->args.daemonset;
}

/* GETs the DaemonSet (at most 'timeout_ms') and says what it found when that
 * is worth a line: 'when' is "start" or "stop". */
static enum uninstall_state
ask_daemonset(struct program *p, unsigned timeout_ms, const char *when)
{
    enum uninstall_state state = UNINSTALL_UNKNOWN;
    struct kube_client *client = NULL;
    struct errmsg err;
    int rc = kube_client_create(p->kube, &client, &err);

    if (rc == 0) {
        rc = uninstall_get_state(client, p->args.node_namespace, p->args.daemonset,
                                 timeout_ms, &state, &err);
    }
    kube_client_destroy(client);
    if (rc < 0) {
        log_event(LOG_WARN, "cannot read the DaemonSet", "when", when, "namespace",
                  p->args.node_namespace, "daemonset", p->args.daemonset, "error", err.text,
                  NULL);
    } else {
        log_event(state == UNINSTALL_PRESENT ? LOG_DEBUG : LOG_INFO, "DaemonSet state",
                  "when", when, "namespace", p->args.node_namespace, "daemonset",
                  p->args.daemonset, "state", uninstall_state_name(state), NULL);
    }
    return state;
}

/* A --daemonset that does not exist at start is most likely a wrong name: it
 * would read as "gone" at every stop, so it turns clearing off. */
static void
check_daemonset_at_start(struct program *p)
{
    if (!asks_daemonset(p)) {
        return;
    }
    p->daemonset_at_start = ask_daemonset(p, DAEMONSET_TIMEOUT_MS, "start");
    if (p->daemonset_at_start == UNINSTALL_GONE) {
        log_event(LOG_ERROR, "the DaemonSet does not exist: this applier will not "
                  "clear the flow export when it stops", "namespace", p->args.node_namespace,
                  "daemonset", p->args.daemonset, NULL);
    }
}

/* Starts everything; returns OPTIONS_GO_ON, or the exit status after a failure
 * (logged). */
static int
start(struct program *p)
{
    struct applier_config config = {
        .ovsdb = p->args.ovsdb,
        .bridge = p->args.bridge,
        .node_ip = p->args.node_ip ? &p->node_ip : NULL,
        .timeout_ms = (unsigned) p->args.timeout_s * 1000,
        .report = on_report,
        .report_aux = p,
    };
    struct configsource *source = NULL;
    struct errmsg err;
    int rc;

    p->metrics = metrics_create();
    config.metrics = p->metrics;
    p->signal_fd = open_signal_fd();
    if (!p->metrics || p->signal_fd < 0) {
        log_event(LOG_ERROR, "cannot start", "error", "out of resources", NULL);
        return EXIT_INVALID;
    }
    rc = p->use_kube ? kubeconfig_load_default(p->args.kubeconfig, &p->kube, &err) : 0;
    if (rc == 0) {
        rc = start_status(p, &err);
    }
    if (rc == 0) {
        check_daemonset_at_start(p);
        rc = make_source(p, &source, &err);
    }
    if (rc == 0) {
        rc = applier_create(&config, source, &p->applier, &err);
        if (rc < 0) {
            configsource_destroy(source);
        }
    }
    if (rc == 0) {
        rc = start_http(p, &err);
    }
    if (rc == 0) {
        rc = start_metrics(p, &err);
    }
    if (rc < 0) {
        return start_failed(rc, &err);
    }
    return OPTIONS_GO_ON;
}

static void
stop(struct program *p)
{
    if (p->http) {
        httpserver_shutdown(p->http, 2);
    }
    httpserver_destroy(p->http);
    if (p->metrics_http) {
        httpserver_shutdown(p->metrics_http, 2);
    }
    httpserver_destroy(p->metrics_http);
    kubeauth_destroy(p->auth);
    remove_metrics_cert(p);
    applier_destroy(p->applier);        /* also stops the ConfigMap watch */
    nodestatus_destroy(p->status);      /* writes a pending state once more */
    kubeconfig_destroy(p->kube);
    metrics_destroy(p->metrics);
    if (p->signal_fd >= 0) {
        close(p->signal_fd);
    }
}

/* True when SIGTERM or SIGINT arrived. */
static bool
got_signal(int fd)
{
    struct signalfd_siginfo info;

    return read(fd, &info, sizeof info) == (ssize_t) sizeof info;
}

/* One turn of the loop: runs the applier, then waits for work, a signal or
 * 'deadline' (CLOCK_MONOTONIC ms; 0: none).  1 to go on, 0 on SIGTERM or
 * SIGINT, -1 when poll failed (logged). */
static int
turn(struct program *p, uint64_t deadline)
{
    struct pollfd pfds[1 + APPLIER_N_POLLFDS];
    struct applier_stats stats;
    uint64_t now = clock_monotonic_ms();
    int timeout = -1;

    applier_run(p->applier, now);
    applier_get_stats(p->applier, &stats);
    atomic_store(&p->ready, stats.connected && stats.in_sync && !stats.clearing);
    if (stats.cleared) {
        return 1;               /* done: the caller stops without waiting */
    }

    pfds[0] = (struct pollfd) { .fd = p->signal_fd, .events = POLLIN };
    applier_wait(p->applier, now, &pfds[1], &timeout);
    if (deadline) {
        int left = deadline > now ? (int) (deadline - now) : 0;
        timeout = timeout < 0 || timeout > left ? left : timeout;
    }
    if (poll(pfds, 1 + APPLIER_N_POLLFDS, timeout) < 0 && errno != EINTR) {
        log_event(LOG_ERROR, "poll failed", "error", strerror(errno), NULL);
        return -1;
    }
    return (pfds[0].revents & POLLIN) && got_signal(p->signal_fd) ? 0 : 1;
}

static void
loop(struct program *p)
{
    int rc;

    while ((rc = turn(p, 0)) > 0) {
    }
    if (rc == 0) {
        log_event(LOG_INFO, "stopping on signal", NULL);
    }
}

/* After SIGTERM: asks whether exportflows is being uninstalled and, if so,
 * clears the rows this applier owns in one transaction, all within
 * --clear-timeout.  Returns the exit status. */
static int
clear_on_exit(struct program *p)
{
    uint64_t deadline = clock_monotonic_ms() + p->args.clear_timeout_s * 1000;
    enum uninstall_state at_exit = UNINSTALL_UNKNOWN;
    struct applier_stats stats = { 0 };
    char timeout[24];
    const char *why;

    if (asks_daemonset(p)) {
        /* At most half the time for the question, the rest for OVS. */
        unsigned budget = (unsigned) p->args.clear_timeout_s * 500;
        at_exit = ask_daemonset(p, budget < DAEMONSET_TIMEOUT_MS ? budget
                                : DAEMONSET_TIMEOUT_MS, "stop");
    }
    if (!uninstall_should_clear((enum uninstall_mode) p->args.clear_mode, p->args.daemonset,
                                p->daemonset_at_start, at_exit, &why)) {
        log_event(LOG_INFO, "leaving the flow export in place", "bridge",
                  p->args.bridge, "reason", why, NULL);
        return 0;
    }
    log_event(LOG_INFO, "clearing the flow export", "bridge", p->args.bridge,
              "reason", why, NULL);
    applier_clear(p->applier);
    while (clock_monotonic_ms() < deadline) {
        int rc = turn(p, deadline);

        if (rc <= 0) {
            if (rc == 0) {
                log_event(LOG_WARN, "stopping at once on a second signal", NULL);
            }
            break;
        }
        applier_get_stats(p->applier, &stats);
        if (stats.cleared) {
            return 0;
        }
    }
    snprintf(timeout, sizeof timeout, "%" PRIu64, p->args.clear_timeout_s);
    log_event(LOG_ERROR, "could not clear the flow export before stopping", "bridge",
              p->args.bridge, "clear_timeout", timeout, "ovsdb_connected",
              stats.connected ? "true" : "false", NULL);
    return EXIT_INVALID;
}

int
main(int argc, char **argv)
{
    struct program *p = &prog;
    char host[256];
    int status = parse_args(p, argc, argv);

    if (status != OPTIONS_GO_ON) {
        return status;
    }
    if (!p->args.node_name && gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        for (char *c = host; *c; c++) {
            *c = (char) tolower((unsigned char) *c);
        }
        p->args.node_name = host;
    }
    status = start(p);
    if (status == OPTIONS_GO_ON) {
        log_event(LOG_INFO, "starting", "node", p->args.node_name ? p->args.node_name : "",
                  "bridge", p->args.bridge, "ovsdb", p->args.ovsdb,
                  "config", p->use_kube ? "kubernetes" : p->args.config_file,
                  "status", p->status ? "lease" : "off", NULL);
        loop(p);
        status = clear_on_exit(p);
    }
    stop(p);
    return status;
}
