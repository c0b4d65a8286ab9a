/* exportflows-webhook — the HTTPS admission webhook for spec.exportNetworkFlows.
 *
 * Serves POST /validate (AdmissionReview v1) on --listen over TLS, and /healthz,
 * /readyz and /metrics there and on --health-listen (plain HTTP).  With --publish
 * (the default) it also runs the publisher (src/kube/publisher.c): it watches the
 * Network object and, while it holds the Lease, writes the validated config into
 * the ConfigMap.  Without a kubeconfig, a service account or --no-publish it
 * refuses to start rather than silently publish nothing.
 *
 * Signals are handled synchronously: every thread starts with SIGTERM, SIGINT
 * and SIGHUP blocked and the main thread takes them with sigwait(), so no code
 * runs in a signal handler.  SIGTERM/SIGINT: stop accepting, finish the reviews
 * in flight, close keep-alive connections, exit 0.  SIGHUP: re-read the
 * certificate now (it is also re-read when the files change). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/http/httpserver.h"
#include "exportflows/admission/jsonbudget.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/log.h"
#include "exportflows/base/metrics.h"
#include "exportflows/base/options.h"
#include "exportflows/admission/ovsflowsconfig.h"
#include "exportflows/kube/publisher.h"
#include "exportflows/kube/summarizer.h"
#include "exportflows/http/tlspolicy.h"
#include "review.h"

#define PROGRAM "exportflows-webhook"
#define METRICS_PREFIX "exportflows_webhook"

/* jansson values of all reviews running at once (each is held to
 * ADMISSION_TREE_BYTES_MAX): with --max-buffered-body-bytes, the memory
 * requests can take, a quarter of the Deployment's 128 MiB limit each. */
#define REVIEW_TREES_TOTAL (32u << 20)
/* Blocks from this size on are mapped and unmapped on their own, never kept
 * in an arena once freed: glibc's default (128 KiB) but fixed, where glibc
 * would raise it to the largest block freed so far (a 3 MiB body), after
 * which such blocks come from, and stay in, the heap. */
#define MMAP_THRESHOLD (128 * 1024)

struct webhook_options {
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *client_ca_file;
    const char *tls_min_version;
    const char *tls_cipher_suites;
    const char *listen;
    const char *health_listen;      /* NULL: off */
    const char *kubeconfig;
    bool publish;
    const char *namespace_name;
    const char *node_namespace;
    const char *configmap;
    const char *status_configmap;
    const char *ovs_flows_config;
    int log_format;                 /* enum log_format */
    int log_level;                  /* enum log_level */
    uint64_t max_body_bytes;
    uint64_t max_buffered_body_bytes;
    uint64_t body_timeout;
    uint64_t max_connections;
    uint64_t threads;
    uint64_t drain_timeout;
    uint64_t idle_timeout;
    /* The tuning the publisher writes into the ConfigMap: flowtuning_init()'s,
     * then the flags given (NULL, TUNING_UNSET: not given). */
    const char *sflow_agent;
    uint64_t tuning[FLOWTUNING_N_KEYS];
};

/* From --tls-min-version and --tls-cipher-suites, set by check_options(). */
static struct tlspolicy tls_policy;

/* A tuning flag that was not given.  No flag accepts this value, so it cannot
 * come from the command line. */
#define TUNING_UNSET UINT64_MAX

/* What /readyz looks at, shared with the server threads. */
struct webhook_state {
    _Atomic(struct httpserver *) https;     /* NULL until started */
    atomic_bool draining;
};

static struct webhook_options opts = {
    .listen = "0.0.0.0:8443",
    .health_listen = "0.0.0.0:8081",
    .publish = true,
    .namespace_name = "exportflows",
    .node_namespace = "exportflows-nodes",
    .configmap = "exportflows-config",
    .status_configmap = SUMMARIZER_STATUS_CONFIGMAP,
    .ovs_flows_config = OVSFLOWSCONFIG_NAMESPACE "/" OVSFLOWSCONFIG_NAME,
    .log_format = LOG_FORMAT_TEXT,
    .log_level = LOG_INFO,
    .max_body_bytes = 3 << 20,
    .max_buffered_body_bytes = 32 << 20,
    .body_timeout = 10,
    .max_connections = 1024,
    .threads = 0,
    .drain_timeout = 20,
    .idle_timeout = 30,
};

#define STR(NAME, DEST, META, HELP) OPT_STRING(NAME, &opts.DEST, META, HELP)
#define UINT(NAME, DEST, MIN, MAX, HELP) OPT_UINT(NAME, &opts.DEST, "N", MIN, MAX, HELP)

/* The options before the tuning flags, which make_specs() appends. */
static const struct option_spec server_specs[] = {
    STR("tls-cert-file", tls_cert_file, "FILE", "serving certificate (PEM), required"),
    STR("tls-private-key-file", tls_key_file, "FILE", "its private key (PEM), required"),
    STR("client-ca-file", client_ca_file, "FILE",
        "require client certificates signed by this CA"),
    STR("tls-min-version", tls_min_version, "VERSION",
        "VersionTLS12 or VersionTLS13 (default VersionTLS12)"),
    STR("tls-cipher-suites", tls_cipher_suites, "LIST",
        "comma-separated IANA names of the suites to offer, among the ECDHE "
        "AES-GCM and ChaCha20-Poly1305 ones (default: all of those)"),
    STR("listen", listen, "IP:PORT", "HTTPS address for /validate (default 0.0.0.0:8443)"),
    OPT_LISTEN("health-listen", &opts.health_listen, "IP:PORT",
               "plain HTTP address for /healthz /readyz /metrics; \"\" or off: none "
               "(default 0.0.0.0:8081)"),
    STR("kubeconfig", kubeconfig, "FILE", "for the publisher outside a cluster"),
    OPT_BOOL("publish", &opts.publish,
             "publish the Network's config into the ConfigMap (default on)"),
    STR("namespace", namespace_name, "NAME",
        "of the ConfigMap, the status ConfigMap and the election Lease (default "
        "exportflows)"),
    STR("node-namespace", node_namespace, "NAME",
        "of the appliers' status Leases (default exportflows-nodes)"),
    STR("configmap", configmap, "NAME", "ConfigMap to publish (default exportflows-config)"),
    STR("status-configmap", status_configmap, "NAME",
        "ConfigMap for the node summary, not watched by the appliers "
        "(default " SUMMARIZER_STATUS_CONFIGMAP ")"),
    STR("ovs-flows-config", ovs_flows_config, "NS/NAME",
        "the network operator's ConfigMap to merge into IPFIX, \"\": none "
        "(default " OVSFLOWSCONFIG_NAMESPACE "/" OVSFLOWSCONFIG_NAME ")"),
    OPT_CHOICE("log-format", &opts.log_format, log_format_names, "text|json",
               "(default text)"),
    OPT_CHOICE("log-level", &opts.log_level, log_level_names, "LEVEL",
               "debug, info, warn or error (default info)"),
    UINT("max-body-bytes", max_body_bytes, 4096, 64 << 20,
         "larger request bodies get 413 (default 3145728)"),
    UINT("max-buffered-body-bytes", max_buffered_body_bytes, 4096, 1ULL << 30,
         "request bodies held at once, all connections together; past it 503 "
         "(default 33554432, a quarter of the Deployment's memory limit)"),
    UINT("body-timeout", body_timeout, 1, 3600,
         "seconds for a request body to arrive after its headers (default 10)"),
    UINT("max-connections", max_connections, 1, 65536, "(default 1024)"),
    UINT("threads", threads, 0, 256, "worker threads, 0: one per core (default 0)"),
    UINT("drain-timeout", drain_timeout, 0, 3600,
         "seconds to finish in-flight reviews on SIGTERM (default 20)"),
    UINT("idle-timeout", idle_timeout, 1, 3600,
         "seconds a connection may sit idle; a request's headers must arrive within "
         "twice that (default 30)"),
};

#define N_SERVER_SPECS (sizeof server_specs / sizeof server_specs[0])

/* The server options, a flag per tuning key, sFlow's agent and the end. */
static struct option_spec specs[N_SERVER_SPECS + FLOWTUNING_N_KEYS + 2];

/* "--ipfix-obs-domain-id" for ipfix.obsDomainID: the protocol and the key in
 * lower case, a '-' before each word. */
static void
tuning_flag_name(const struct flowtuning_key_info *info, char *buf, size_t size)
{
    const char *key = info->name;
    size_t n = (size_t) snprintf(buf, size, "%s-", flowproto_name(info->proto));

    for (size_t i = 0; i < n; i++) {
        buf[i] = (char) tolower((unsigned char) buf[i]);
    }
    for (size_t i = 0; key[i] && n + 2 < size; i++) {
        if (i > 0 && isupper((unsigned char) key[i]) && islower((unsigned char) key[i - 1])) {
            buf[n++] = '-';
        }
        buf[n++] = (char) tolower((unsigned char) key[i]);
    }
    buf[n] = '\0';
}

/* "sFlow.header: bytes, 1..256 (unset by default: OVS default, 128 bytes)". */
static void
tuning_flag_help(const struct flowtuning_key_info *info, const struct flowtuning *defaults,
                 enum flowtuning_key key, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.%s: %s%s%" PRIu32 "..%" PRIu32, flowproto_name(info->proto),
                     info->name, info->unit ? info->unit : "", info->unit ? ", " : "",
                     info->min, info->max);

    if (n < 0 || (size_t) n >= size) {
        return;
    }
    if (flowtuning_is_set(defaults, key)) {
        snprintf(buf + n, size - (size_t) n, " (default %" PRIu32 ", as ovnkube-node)",
                 flowtuning_get(defaults, key));
    } else {
        snprintf(buf + n, size - (size_t) n, " (unset by default: %s)", info->when_unset);
    }
}

/* Fills specs[]: the server options, then one flag per tuning key, generated
 * from the config module's table (name, range, default), sFlow's agent before
 * the first sFlow key. */
static void
make_specs(void)
{
    static char names[FLOWTUNING_N_KEYS][48], helps[FLOWTUNING_N_KEYS][160];
    static char agent_help[48 + FLOWCONFIG_AGENT_MAX];
    struct flowtuning defaults;
    size_t n = N_SERVER_SPECS;
    bool agent = false;

    flowtuning_init(&defaults);
    memcpy(specs, server_specs, sizeof server_specs);
    snprintf(agent_help, sizeof agent_help, "sFlow.agent (default %s, as ovnkube-node)",
             defaults.sflow_agent);
    for (int k = 0; k < FLOWTUNING_N_KEYS; k++) {
        const struct flowtuning_key_info *info = flowtuning_key_info(k);

        if (info->proto == FLOWPROTO_SFLOW && !agent) {
            agent = true;
            specs[n++] = (struct option_spec) OPT_STRING("sflow-agent", &opts.sflow_agent,
                                                         "IFACE|IP", agent_help);
        }
        tuning_flag_name(info, names[k], sizeof names[k]);
        tuning_flag_help(info, &defaults, k, helps[k], sizeof helps[k]);
        opts.tuning[k] = TUNING_UNSET;
        specs[n++] = (struct option_spec) OPT_UINT(names[k], &opts.tuning[k], "N", info->min,
                                                   info->max, helps[k]);
    }
    specs[n] = (struct option_spec) OPT_END;
}

static const struct options_program program = {
    .name = PROGRAM,
    .synopsis = PROGRAM " --tls-cert-file FILE --tls-private-key-file FILE [OPTION]...",
    .specs = specs,
};

/* The tuning the publisher writes next to the collectors: flowtuning_init()'s,
 * then the flags given.  The flags' ranges are the keys' ranges, so
 * flowtuning_set() cannot refuse them. */
static int
build_tuning(struct flowtuning *t)
{
    flowtuning_init(t);
    for (int k = 0; k < FLOWTUNING_N_KEYS; k++) {
        if (opts.tuning[k] != TUNING_UNSET) {
            flowtuning_set(t, k, (uint32_t) opts.tuning[k]);
        }
    }
    if (opts.sflow_agent && flowtuning_set_agent(t, opts.sflow_agent)) {
        return options_usage_error(PROGRAM,
                                   "--sflow-agent: '%s' must be an interface name or an IP",
                                   opts.sflow_agent);
    }
    return 0;
}

/* Checks what options_run() cannot: required and related options, readable
 * files.  Returns 0 or an exit status. */
static int
check_options(struct flowtuning *tuning)
{
    const char *files[] = { opts.tls_cert_file, opts.tls_key_file, opts.client_ca_file };
    struct errmsg err = { "" };
    int status;

    log_configure(opts.log_format, opts.log_level);
    if (!opts.tls_cert_file || !opts.tls_key_file) {
        return options_usage_error(PROGRAM, "%s", "--tls-cert-file and "
                                   "--tls-private-key-file are required");
    }
    if (tlspolicy_parse(opts.tls_min_version, opts.tls_cipher_suites, &tls_policy, &err)) {
        return options_usage_error(PROGRAM, "%s", err.text);
    }
    status = build_tuning(tuning);
    if (status) {
        return status;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i] && access(files[i], R_OK)) {
            log_event(LOG_ERROR, "cannot read file", "file", files[i],
                      "error", strerror(errno), NULL);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Ready: a valid certificate is loaded and we are not shutting down. */
static bool
is_ready(void *aux)
{
    struct webhook_state *state = aux;
    struct httpserver *https = atomic_load(&state->https);

    return https && !atomic_load(&state->draining)
           && httpserver_cert_not_after(https) > time(NULL);
}

/* Creates the server 'name' and logs "listening" with the address actually
 * bound (port 0 picks one), or 'failed' with the error. */
static int
start_server(const struct httpserver_config *config, const char *name, const char *failed,
             struct httpserver **ret)
{
    struct errmsg err = { "" };
    char address[128];
    int error = httpserver_create(config, ret, &err);

    if (error) {
        log_event(LOG_ERROR, failed, "address", config->listen, "error", err.text, NULL);
        return error;
    }
    httpserver_format_address(*ret, config->listen, address, sizeof address);
    log_event(LOG_INFO, "listening", "address", address, "server", name, NULL);
    return 0;
}

/* Logs the outcome of a certificate reload, whatever started it (called from
 * the server's watcher thread, or from the main thread on SIGHUP). */
static void
log_tls_reload(void *aux, const struct httpserver_tls_report *r)
{
    const char *trigger = r->cause == HTTPSERVER_TLS_REQUESTED ? "SIGHUP" : "file change";

    if (r->error) {
        log_event(LOG_ERROR, "cannot reload certificate, keeping the old one",
                  "file", opts.tls_cert_file, "trigger", trigger, "error", r->message, NULL);
    } else if (r->changed) {
        log_event(LOG_INFO, "certificate reloaded", "file", opts.tls_cert_file,
                  "trigger", trigger, NULL);
    } else if (r->cause == HTTPSERVER_TLS_REQUESTED) {
        log_event(LOG_INFO, "certificate unchanged", "file", opts.tls_cert_file,
                  "trigger", trigger, NULL);
    }
}

/* Starts the HTTPS server with /validate and the health routes; '*ret' is the
 * caller's to destroy. */
static int
start_https(const struct httpserver_route *route, struct metrics *metrics,
            struct webhook_state *state, struct httpserver **ret)
{
    struct httpserver_config config = {
        .listen = opts.listen,
        .tls_cert_file = opts.tls_cert_file,
        .tls_key_file = opts.tls_key_file,
        .client_ca_file = opts.client_ca_file,
        .tls_policy = &tls_policy,
        .tls_report = log_tls_reload,
        .routes = route,
        .n_routes = 1,
        .health = true,
        .ready = is_ready,
        .ready_aux = state,
        .metrics = metrics,
        .metrics_prefix = METRICS_PREFIX,
        .max_body = opts.max_body_bytes,
        .max_buffered_body = opts.max_buffered_body_bytes,
        .body_timeout_s = (unsigned) opts.body_timeout,
        .max_connections = (unsigned) opts.max_connections,
        .idle_timeout_s = (unsigned) opts.idle_timeout,
        .threads = (unsigned) opts.threads,
    };
    int error = start_server(&config, "https", "cannot start https server", ret);

    if (!error) {
        atomic_store(&state->https, *ret);
    }
    return error;
}

/* Starts the plain HTTP health server, or writes NULL when it is off. */
static int
start_health(struct metrics *metrics, struct webhook_state *state, struct httpserver **ret)
{
    struct httpserver_config config = {
        .listen = opts.health_listen,
        .health = true,
        .ready = is_ready,
        .ready_aux = state,
        .metrics = metrics,
        .metrics_prefix = METRICS_PREFIX,
        .max_connections = 64,
        .threads = 1,
    };

    *ret = NULL;
    return opts.health_listen ? start_server(&config, "health", "cannot start health server",
                                             ret) : 0;
}

/* exportflows_webhook_build_info{version="..."} 1 */
static void
register_build_info(struct metrics *metrics)
{
    struct metrics_family *info = metrics_family(metrics, METRICS_GAUGE,
                                                 METRICS_PREFIX "_build_info",
                                                 "Always 1; the version as a label.",
                                                 NULL, 0);
    char labels[128];

    snprintf(labels, sizeof labels, "version=\"%s\"", EXPORTFLOWS_VERSION);
    metrics_set(metrics_series(info, labels), 1);
}

/* Blocks the signals handled by wait_for_signals(), in this thread and so in
 * every thread created after. */
static void
block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a peer gone mid-write is an error return, not death */
}

/* Returns the terminating signal once one arrives. */
static int
wait_for_signals(const sigset_t *set, struct httpserver *https)
{
    for (;;) {
        int sig;

        if (sigwait(set, &sig)) {
            continue;
        }
        if (sig == SIGHUP) {
            /* Re-read now rather than at the next file event; the outcome is
             * logged by log_tls_reload(). */
            httpserver_reload_tls(https, NULL);
            continue;
        }
        return sig;
    }
}

/* Turns the publisher's reports into log lines (called from its threads). */
static void
log_publisher_report(void *aux, const struct publisher_report *r)
{
    static const struct { enum log_level level; const char *msg; } kinds[] = {
        [PUBLISHER_REPORT_PUBLISHED] = { LOG_INFO, "published config" },
        [PUBLISHER_REPORT_INVALID] = { LOG_WARN, "stored spec.exportNetworkFlows is invalid, "
                                                 "keeping the last good config" },
        [PUBLISHER_REPORT_INVALID_FLOWS_CONFIG] = { LOG_WARN, "ovs-flows-config values are "
                                                              "not merged" },
        [PUBLISHER_REPORT_LEADER] = { LOG_INFO, "publisher is leader" },
        [PUBLISHER_REPORT_FOLLOWER] = { LOG_INFO, "publisher is standing by" },
        [PUBLISHER_REPORT_ERROR] = { LOG_ERROR, "publisher failed, retrying" },
    };
    char generation[24] = "none";

    if (r->generation >= 0) {
        snprintf(generation, sizeof generation, "%lld", (long long) r->generation);
    }
    log_event(kinds[r->kind].level, kinds[r->kind].msg, "detail", r->message,
              "generation", generation, "hash", r->hash ? r->hash : "none", NULL);
}

/* Starts the publisher; '*kubeconfig' must outlive it.  Both results are for
 * the caller to destroy, also on failure. */
static int
start_publisher(const struct flowtuning *tuning, struct metrics *metrics,
                struct kubeconfig **kubeconfig, struct publisher **ret)
{
    struct publisher_config config = {
        .namespace = opts.namespace_name, .node_namespace = opts.node_namespace,
        .configmap = opts.configmap,
        .status_configmap = opts.status_configmap, .flows_configmap = opts.ovs_flows_config,
        .tuning = *tuning, .metrics = metrics, .report = log_publisher_report,
    };
    struct errmsg err = { "" };
    int error = kubeconfig_load_default(opts.kubeconfig, kubeconfig, &err);

    if (!error) {
        config.kubeconfig = *kubeconfig;
        error = publisher_create(&config, ret, &err);
    }
    if (!error) {
        error = publisher_start(*ret, &err);
    }
    if (error) {
        log_event(LOG_ERROR, "cannot start the publisher (--no-publish to only validate)",
                  "error", err.text, NULL);
        return error;
    }
    log_event(LOG_INFO, "publisher started", "namespace", opts.namespace_name,
              "node_namespace", opts.node_namespace,
              "configmap", opts.configmap, "status_configmap", opts.status_configmap, NULL);
    return 0;
}

/* Stops publishing and gives the Lease up, so a standby takes over at once. */
static void
stop_publisher(struct publisher *publisher)
{
    struct errmsg err = { "" };

    if (publisher && publisher_stop(publisher, &err)) {
        log_event(LOG_WARN, "cannot release the publisher lease", "error", err.text, NULL);
    }
}

/* Not ready any more, stop accepting, let reviews in flight finish, close
 * idle keep-alive connections. */
static void
shut_down(struct webhook_state *state, struct httpserver *https, struct httpserver *health,
          int sig)
{
    log_event(LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
              NULL);
    atomic_store(&state->draining, true);
    httpserver_shutdown(https, (unsigned) opts.drain_timeout);
    if (health) {
        httpserver_shutdown(health, 1);
    }
}

int
main(int argc, char **argv)
{
    struct httpserver_route route;
    struct review_handler handler;
    struct webhook_state state;
    struct httpserver *https = NULL, *health = NULL;
    struct metrics *metrics = NULL;
    struct kubeconfig *kubeconfig = NULL;
    struct publisher *publisher = NULL;
    struct flowtuning tuning;
    sigset_t signals;
    int sig, first, status;

    make_specs();
    status = options_run(&program, argc, argv, &first);
    if (status != OPTIONS_GO_ON) {
        return status;
    }
    status = check_options(&tuning);
    if (status) {
        return status;
    }
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    jsonbudget_install(REVIEW_TREES_TOTAL);
    block_signals(&signals);
    atomic_init(&state.https, NULL);
    atomic_init(&state.draining, false);
    metrics = metrics_create();
    if (!metrics) {
        log_event(LOG_ERROR, "cannot start", "error", "out of memory", NULL);
        return EXIT_INVALID;
    }
    register_build_info(metrics);
    review_handler_init(&handler, metrics);
    route = (struct httpserver_route) { "POST", "/validate", "application/json",
                                        review_handle, &handler };
    status = EXIT_INVALID;
    if (start_https(&route, metrics, &state, &https) || start_health(metrics, &state, &health)) {
        goto out;
    }
    /* After block_signals(): the publisher's threads inherit the blocked set. */
    if (opts.publish && start_publisher(&tuning, metrics, &kubeconfig, &publisher)) {
        goto out;
    }
    sig = wait_for_signals(&signals, https);
    stop_publisher(publisher);
    shut_down(&state, https, health, sig);
    status = 0;

out:
    publisher_destroy(publisher);
    kubeconfig_destroy(kubeconfig);
    httpserver_destroy(health);
    httpserver_destroy(https);
    metrics_destroy(metrics);
    if (!status) {
        log_event(LOG_INFO, "stopped", NULL);
    }
    return status;
}
