/* exportflows-webhook — the HTTPS admission webhook for spec.exportNetworkFlows.
 *
 * Serves POST /validate (AdmissionReview v1) on --listen over TLS, and /healthz,
 * /readyz and /metrics there and on --health-listen (plain HTTP).  With --publish
 * (the default) it also runs the publisher (src/publisher.c): it watches the
 * Network object and, while it holds the Lease, writes the validated config into
 * the ConfigMap.  Without a kubeconfig, a service account or --no-publish it
 * refuses to start rather than silently publish nothing.
 *
 * Signals are handled synchronously: every thread starts with SIGTERM, SIGINT
 * and SIGHUP blocked and the main thread takes them with sigwait(), so no code
 * runs in a signal handler.  SIGTERM/SIGINT: stop accepting, finish the reviews
 * in flight, close keep-alive connections, exit 0.  SIGHUP: re-read the
 * certificate now (it is also re-read when the files change). */
#include <errno.h>
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

#include "exportflows/errmsg.h"
#include "exportflows/flowconfig.h"
#include "exportflows/httpserver.h"
#include "exportflows/jsonbudget.h"
#include "exportflows/kubeconfig.h"
#include "exportflows/log.h"
#include "exportflows/metrics.h"
#include "exportflows/options.h"
#include "exportflows/ovsflowsconfig.h"
#include "exportflows/publisher.h"
#include "exportflows/tlspolicy.h"
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

#define EXIT_FAILED 1
#define EXIT_USAGE 2

struct webhook_options {
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *client_ca_file;
    const char *tls_min_version;
    const char *tls_cipher_suites;
    const char *listen;
    const char *health_listen;
    const char *kubeconfig;
    bool publish;
    const char *namespace_name;
    const char *configmap;
    const char *ovs_flows_config;
    const char *log_format;
    const char *log_level;
    uint64_t max_body_bytes;
    uint64_t max_buffered_body_bytes;
    uint64_t body_timeout;
    uint64_t max_connections;
    uint64_t threads;
    uint64_t drain_timeout;
    uint64_t idle_timeout;
    /* Tuning the publisher writes into the ConfigMap (struct flowtuning). */
    uint64_t netflow_active_timeout;
    const char *sflow_agent;
    uint64_t sflow_header;
    uint64_t sflow_sampling;
    uint64_t sflow_polling;
    uint64_t ipfix_sampling;
    uint64_t ipfix_cache_active_timeout;
    uint64_t ipfix_cache_max_flows;
    uint64_t ipfix_obs_domain_id;
    uint64_t ipfix_obs_point_id;
};

/* From --tls-min-version and --tls-cipher-suites, set by check_options(). */
static struct tlspolicy tls_policy;

/* A tuning flag that was not given: the key stays unset (OVS's default).  No
 * flag accepts this value, so it cannot come from the command line. */
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
    .configmap = "exportflows-config",
    .ovs_flows_config = OVSFLOWSCONFIG_NAMESPACE "/" OVSFLOWSCONFIG_NAME,
    .log_format = "text",
    .log_level = "info",
    .max_body_bytes = 3 << 20,
    .max_buffered_body_bytes = 32 << 20,
    .body_timeout = 10,
    .max_connections = 1024,
    .threads = 0,
    .drain_timeout = 20,
    .idle_timeout = 30,
    .netflow_active_timeout = 60,
    .sflow_agent = "ovn-k8s-mp0",
    .sflow_header = TUNING_UNSET,
    .sflow_sampling = TUNING_UNSET,
    .sflow_polling = TUNING_UNSET,
    .ipfix_sampling = TUNING_UNSET,
    .ipfix_cache_active_timeout = 60,
    .ipfix_cache_max_flows = TUNING_UNSET,
    .ipfix_obs_domain_id = TUNING_UNSET,
    .ipfix_obs_point_id = TUNING_UNSET,
};

#define STR(NAME, DEST, META, HELP) { NAME, OPTION_STRING, &opts.DEST, META, HELP, 0, 0 }
#define UINT(NAME, DEST, MIN, MAX, HELP) { NAME, OPTION_UINT, &opts.DEST, "N", HELP, MIN, MAX }

static const struct option_spec specs[] = {
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
    STR("health-listen", health_listen, "IP:PORT",
        "plain HTTP address for /healthz /readyz /metrics; \"\" or off: none "
        "(default 0.0.0.0:8081)"),
    STR("kubeconfig", kubeconfig, "FILE", "for the publisher outside a cluster"),
    { "publish", OPTION_BOOL, &opts.publish, NULL,
      "publish the Network's config into the ConfigMap (default on)", 0, 0 },
    STR("namespace", namespace_name, "NAME", "of the ConfigMap (default exportflows)"),
    STR("configmap", configmap, "NAME", "ConfigMap to publish (default exportflows-config)"),
    STR("ovs-flows-config", ovs_flows_config, "NS/NAME",
        "the network operator's ConfigMap to merge into IPFIX, \"\": none "
        "(default " OVSFLOWSCONFIG_NAMESPACE "/" OVSFLOWSCONFIG_NAME ")"),
    STR("log-format", log_format, "text|json", "(default text)"),
    STR("log-level", log_level, "LEVEL", "debug, info, warn or error (default info)"),
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
    UINT("netflow-active-timeout", netflow_active_timeout, 0, 86400,
         "seconds (default 60, as ovnkube-node)"),
    STR("sflow-agent", sflow_agent, "IFACE|IP", "(default ovn-k8s-mp0, as ovnkube-node)"),
    UINT("sflow-header", sflow_header, 1, 256, "bytes (default unset: OVS's 128)"),
    UINT("sflow-sampling", sflow_sampling, 1, UINT32_MAX,
         "1 in N packets (default unset: OVS's 400)"),
    UINT("sflow-polling", sflow_polling, 0, 86400,
         "seconds (default unset: OVS's 30)"),
    UINT("ipfix-sampling", ipfix_sampling, 1, UINT32_MAX,
         "1 in N packets (default unset: OVS's 400)"),
    UINT("ipfix-cache-active-timeout", ipfix_cache_active_timeout, 0, 4200,
         "seconds (default 60, as ovnkube-node)"),
    UINT("ipfix-cache-max-flows", ipfix_cache_max_flows, 0, UINT32_MAX,
         "0: no limit (default unset: no limit)"),
    UINT("ipfix-obs-domain-id", ipfix_obs_domain_id, 0, UINT32_MAX,
         "(default unset: OVS's 0)"),
    UINT("ipfix-obs-point-id", ipfix_obs_point_id, 0, UINT32_MAX,
         "(default unset: OVS's 0)"),
    { NULL, OPTION_STRING, NULL, NULL, NULL, 0, 0 },
};

static const char synopsis[] =
    PROGRAM " --tls-cert-file FILE --tls-private-key-file FILE [OPTION]...";

/* Same characters as flowconfig accepts for sFlow.agent. */
static bool
agent_ok(const char *agent)
{
    size_t len = strlen(agent);

    if (len == 0 || len >= FLOWCONFIG_AGENT_MAX) {
        return false;
    }
    return strspn(agent, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._:-") == len;
}

/* The tuning the publisher writes next to the collectors, from the flags: a
 * flag that was not given leaves its key as flowtuning_init() has it.  The
 * flags' ranges are the keys' ranges, so flowtuning_set() cannot refuse. */
static void
build_tuning(struct flowtuning *t)
{
    static const struct {
        enum flowtuning_key key;
        const uint64_t *flag;
    } flags[] = {
        { FLOWTUNING_NETFLOW_ACTIVE_TIMEOUT, &opts.netflow_active_timeout },
        { FLOWTUNING_SFLOW_HEADER, &opts.sflow_header },
        { FLOWTUNING_SFLOW_SAMPLING, &opts.sflow_sampling },
        { FLOWTUNING_SFLOW_POLLING, &opts.sflow_polling },
        { FLOWTUNING_IPFIX_SAMPLING, &opts.ipfix_sampling },
        { FLOWTUNING_IPFIX_CACHE_ACTIVE_TIMEOUT, &opts.ipfix_cache_active_timeout },
        { FLOWTUNING_IPFIX_CACHE_MAX_FLOWS, &opts.ipfix_cache_max_flows },
        { FLOWTUNING_IPFIX_OBS_DOMAIN_ID, &opts.ipfix_obs_domain_id },
        { FLOWTUNING_IPFIX_OBS_POINT_ID, &opts.ipfix_obs_point_id },
    };

    flowtuning_init(t);
    snprintf(t->sflow_agent, sizeof t->sflow_agent, "%s", opts.sflow_agent);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (*flags[i].flag != TUNING_UNSET) {
            flowtuning_set(t, flags[i].key, (uint32_t) *flags[i].flag);
        }
    }
}

/* Checks what options_parse() cannot: required and related options, readable
 * files.  Returns 0 or an exit status. */
static int
check_options(void)
{
    enum log_format format;
    enum log_level level;
    const char *files[] = { opts.tls_cert_file, opts.tls_key_file, opts.client_ca_file };
    struct errmsg err = { "" };

    if (log_parse_format(opts.log_format, &format)) {
        return options_usage_error(PROGRAM, "--log-format: '%s' is not text or json",
                                   opts.log_format);
    }
    if (log_parse_level(opts.log_level, &level)) {
        return options_usage_error(PROGRAM,
                                   "--log-level: '%s' is not debug, info, warn or error",
                                   opts.log_level);
    }
    log_configure(format, level);
    if (!opts.tls_cert_file || !opts.tls_key_file) {
        return options_usage_error(PROGRAM, "%s", "--tls-cert-file and "
                                   "--tls-private-key-file are required");
    }
    if (tlspolicy_parse(opts.tls_min_version, opts.tls_cipher_suites, &tls_policy, &err)) {
        return options_usage_error(PROGRAM, "%s", err.text);
    }
    if (!agent_ok(opts.sflow_agent)) {
        return options_usage_error(PROGRAM,
                                   "--sflow-agent: '%s' must be an interface name or an IP",
                                   opts.sflow_agent);
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

/* "", "off" and "none" turn the plain HTTP listener off, as in the applier. */
static bool
health_enabled(void)
{
    return opts.health_listen && *opts.health_listen && strcmp(opts.health_listen, "off")
           && strcmp(opts.health_listen, "none");
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

/* Logs "listening" with the address actually bound (port 0 picks one). */
static void
log_listening(const char *listen, const struct httpserver *server, const char *name)
{
    char address[128];

    httpserver_format_address(server, listen, address, sizeof address);
    log_event(LOG_INFO, "listening", "address", address, "server", name, NULL);
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
    struct errmsg err = { "" };
    int error = httpserver_create(&config, ret, &err);

    if (error) {
        log_event(LOG_ERROR, "cannot start https server", "address", opts.listen,
                  "error", err.text, NULL);
        return error;
    }
    atomic_store(&state->https, *ret);
    log_listening(opts.listen, *ret, "https");
    return 0;
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
    struct errmsg err = { "" };
    int error;

    if (!health_enabled()) {
        *ret = NULL;
        return 0;
    }
    error = httpserver_create(&config, ret, &err);
    if (error) {
        log_event(LOG_ERROR, "cannot start health server", "address", opts.health_listen,
                  "error", err.text, NULL);
        return error;
    }
    log_listening(opts.health_listen, *ret, "health");
    return 0;
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
        .namespace = opts.namespace_name, .configmap = opts.configmap,
        .flows_configmap = opts.ovs_flows_config,
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
              "configmap", opts.configmap, NULL);
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

/* Returns 0, or the exit status to leave with (--help and --version exit 0
 * here). */
static int
parse_command_line(int argc, char **argv)
{
    struct errmsg err = { "" };
    int first_arg = argc;
    int result = options_parse(specs, argc, argv, &first_arg, &err);

    if (result < 0) {
        return options_usage_error(PROGRAM, "%s", err.text);
    }
    if (result == OPTIONS_HELP) {
        options_usage(stdout, synopsis, specs);
        exit(0);
    }
    if (result == OPTIONS_VERSION) {
        options_version(PROGRAM);
        exit(0);
    }
    if (first_arg < argc) {
        return options_usage_error(PROGRAM, "unexpected argument '%s'", argv[first_arg]);
    }
    return check_options();
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
    int sig;
    int status = parse_command_line(argc, argv);

    if (status) {
        return status;
    }
    build_tuning(&tuning);
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    jsonbudget_install(REVIEW_TREES_TOTAL);
    block_signals(&signals);
    atomic_init(&state.https, NULL);
    atomic_init(&state.draining, false);
    metrics = metrics_create();
    if (!metrics) {
        log_event(LOG_ERROR, "cannot start", "error", "out of memory", NULL);
        return EXIT_FAILED;
    }
    register_build_info(metrics);
    review_handler_init(&handler, metrics);
    route = (struct httpserver_route) { "POST", "/validate", "application/json",
                                        review_handle, &handler };
    status = EXIT_FAILED;
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
