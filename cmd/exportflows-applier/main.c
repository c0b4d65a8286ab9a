/* exportflows-applier — per-node program: reads the flow export config (for now
 * from --config-file) and keeps OVS's NetFlow/sFlow/IPFIX settings on the bridge
 * equal to it through OVSDB, repairing drift.  Serves /healthz, /readyz and
 * /metrics on --health-listen.  Exits 0 on SIGTERM or SIGINT. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exportflows/applier.h"
#include "exportflows/collector.h"
#include "exportflows/configsource.h"
#include "exportflows/httpserver.h"
#include "exportflows/log.h"
#include "exportflows/metrics.h"
#include "exportflows/options.h"
#include "exportflows/ovsdb.h"

#define PROGRAM "exportflows-applier"

struct args {
    const char *config_file;
    const char *kubeconfig;
    const char *ovsdb;
    const char *bridge;
    const char *node_name;
    const char *node_ip;
    const char *health_listen;
    const char *log_format;
    const char *log_level;
    uint64_t timeout_s;
};

struct program {
    struct args args;
    struct collector node_ip;
    struct metrics *metrics;
    struct httpserver *http;
    struct applier *applier;
    int signal_fd;
    atomic_bool ready;          /* read by /readyz in the server's threads */
};

static const char synopsis[] =
    PROGRAM " --config-file FILE [--ovsdb unix:PATH|tcp:IP:PORT] [--bridge br-int]\n"
    "       [--node-name N] [--node-ip IP] [--health-listen ADDR] [--timeout S]\n"
    "       [--log-format text|json] [--log-level LEVEL]";

static void
make_specs(struct args *a, struct option_spec specs[12])
{
    const struct option_spec table[] = {
        { "config-file", OPTION_STRING, &a->config_file, "FILE",
          "flow export config (the ConfigMap's config.json), watched for changes", 0, 0 },
        { "kubeconfig", OPTION_STRING, &a->kubeconfig, "FILE",
          "read the ConfigMap from Kubernetes (not supported yet)", 0, 0 },
        { "ovsdb", OPTION_STRING, &a->ovsdb, "REMOTE",
          "OVSDB remote (default " OVSDB_DEFAULT_ADDRESS ")", 0, 0 },
        { "bridge", OPTION_STRING, &a->bridge, "NAME", "bridge (default br-int)", 0, 0 },
        { "node-name", OPTION_STRING, &a->node_name, "NAME",
          "this node's name, for logs (default: host name)", 0, 0 },
        { "node-ip", OPTION_STRING, &a->node_ip, "IP",
          "this node's primary IP, for ':PORT' collectors", 0, 0 },
        { "health-listen", OPTION_STRING, &a->health_listen, "ADDR",
          "plain HTTP /healthz, /readyz, /metrics (default 0.0.0.0:8082; 'none' "
          "disables)", 0, 0 },
        { "timeout", OPTION_UINT, &a->timeout_s, "SECONDS",
          "OVSDB connect and reply timeout (default 10)", 1, 3600 },
        { "log-format", OPTION_STRING, &a->log_format, "FORMAT", "text or json", 0, 0 },
        { "log-level", OPTION_STRING, &a->log_level, "LEVEL",
          "debug, info, warn or error", 0, 0 },
        { NULL, 0, NULL, NULL, NULL, 0, 0 },
    };

    memcpy(specs, table, sizeof table);
}

/* Parses and checks the command line; returns an exit status or -1 to go on. */
static int
parse_args(struct program *p, int argc, char **argv)
{
    struct option_spec specs[12];
    struct errmsg err;
    enum log_format format;
    enum log_level level;
    const char *why;
    int first, rc;

    p->args = (struct args) {
        .ovsdb = OVSDB_DEFAULT_ADDRESS, .bridge = "br-int",
        .health_listen = "0.0.0.0:8082", .log_format = "text", .log_level = "info",
        .timeout_s = 10,
    };
    make_specs(&p->args, specs);
    rc = options_parse(specs, argc, argv, &first, &err);
    if (rc == OPTIONS_HELP) {
        options_usage(stdout, synopsis, specs);
        return 0;
    } else if (rc == OPTIONS_VERSION) {
        options_version(PROGRAM);
        return 0;
    } else if (rc < 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err.text);
        return 2;
    }
    if (first < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", PROGRAM, argv[first]);
        return 2;
    }
    if (log_parse_format(p->args.log_format, &format) < 0
        || log_parse_level(p->args.log_level, &level) < 0) {
        fprintf(stderr, "%s: invalid --log-format or --log-level\n", PROGRAM);
        return 2;
    }
    log_configure(format, level);
    if (!p->args.config_file) {
        fprintf(stderr, "%s: %s\n", PROGRAM, p->args.kubeconfig
                ? "--kubeconfig is not supported yet: use --config-file"
                : "--config-file is required");
        return 2;
    }
    if (p->args.node_ip && collector_parse_ip(p->args.node_ip, &p->node_ip, &why) < 0) {
        fprintf(stderr, "%s: --node-ip: invalid value '%s': %s\n", PROGRAM,
                p->args.node_ip, why);
        return 2;
    }
    return -1;
}

/* ---- reports -> log lines ---- */

/* The config's hash, computed when the file did not carry one. */
static const char *
config_hash(const struct flowconfig *c, char buf[FLOWCONFIG_HASH_SIZE])
{
    if (!c) {
        return "";
    } else if (c->hash[0]) {
        return c->hash;
    }
    flowconfig_hash(c, buf);
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
    char generation[24] = "", duration[24], changed[64], hash[FLOWCONFIG_HASH_SIZE];
    const struct flowconfig *c = r->config;

    if (c && c->has_generation) {
        snprintf(generation, sizeof generation, "%" PRId64, c->generation);
    }
    snprintf(duration, sizeof duration, "%" PRIu64, r->duration_us);
    protocols_text(r->changed, changed, sizeof changed);
    if (r->type == APPLIER_APPLIED) {
        log_event(LOG_INFO, "applied flow export", "bridge", p->args.bridge,
                  "generation", generation, "hash", config_hash(c, hash),
                  "result", "ok", "changed", changed,
                  "drift", r->drift ? "true" : "false", "duration_us", duration, NULL);
    } else {
        log_event(LOG_WARN, "cannot apply flow export", "bridge", p->args.bridge,
                  "generation", generation, "hash", config_hash(c, hash),
                  "result", "error", "error", r->message, "duration_us", duration,
                  NULL);
    }
}

static void
log_config(const struct applier_report *r, const char *msg)
{
    char generation[24] = "", hash[FLOWCONFIG_HASH_SIZE];
    const struct flowconfig *c = r->config;

    if (c && c->has_generation) {
        snprintf(generation, sizeof generation, "%" PRId64, c->generation);
    }
    log_event(LOG_INFO, msg, "generation", generation, "hash", config_hash(c, hash), NULL);
}

static void
on_report(void *aux, const struct applier_report *r)
{
    struct program *p = aux;
    static bool connect_failed_logged;

    switch (r->type) {
    case APPLIER_CONFIG_LOADED:
        log_config(r, "config loaded");
        break;
    case APPLIER_CONFIG_REFUSED:
        log_event(LOG_ERROR, "config refused, keeping the last good one",
                  "error", r->message, NULL);
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
    }
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

static int
start_http(struct program *p, struct errmsg *err)
{
    struct httpserver_config config = {
        .listen = p->args.health_listen,
        .health = true,
        .ready = is_ready,
        .ready_aux = p,
        .metrics = p->metrics,
        .metrics_prefix = "exportflows_applier",
        .max_connections = 64,
        .max_connections_per_ip = 16,
        .threads = 1,
    };

    char port[8];
    int rc;

    if (!strcmp(p->args.health_listen, "none") || !p->args.health_listen[0]) {
        return 0;
    }
    rc = httpserver_create(&config, &p->http, err);
    if (rc == 0) {
        snprintf(port, sizeof port, "%u", (unsigned) httpserver_port(p->http));
        log_event(LOG_INFO, "serving health and metrics", "listen",
                  p->args.health_listen, "port", port, NULL);
    }
    return rc;
}

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
        return 1;
    }
    rc = configsource_file_create(p->args.config_file, 0, &source, &err);
    if (rc == 0) {
        rc = applier_create(&config, source, &p->applier, &err);
        if (rc < 0) {
            configsource_destroy(source);
        }
    }
    if (rc == 0) {
        rc = start_http(p, &err);
    }
    if (rc < 0) {
        log_event(LOG_ERROR, "cannot start", "error", err.text, NULL);
        return rc == -EINVAL ? 2 : 1;
    }
    return -1;
}

static void
stop(struct program *p)
{
    if (p->http) {
        httpserver_shutdown(p->http, 2);
    }
    httpserver_destroy(p->http);
    applier_destroy(p->applier);
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

static void
loop(struct program *p)
{
    for (;;) {
        struct pollfd pfds[1 + APPLIER_N_POLLFDS];
        struct applier_stats stats;
        uint64_t now = ovsdb_now_ms();
        int timeout = -1;

        applier_run(p->applier, now);
        applier_get_stats(p->applier, &stats);
        atomic_store(&p->ready, stats.connected && stats.in_sync);

        pfds[0] = (struct pollfd) { .fd = p->signal_fd, .events = POLLIN };
        applier_wait(p->applier, now, &pfds[1], &timeout);
        if (poll(pfds, 1 + APPLIER_N_POLLFDS, timeout) < 0 && errno != EINTR) {
            log_event(LOG_ERROR, "poll failed", "error", strerror(errno), NULL);
            return;
        }
        if ((pfds[0].revents & POLLIN) && got_signal(p->signal_fd)) {
            log_event(LOG_INFO, "stopping on signal", NULL);
            return;
        }
    }
}

int
main(int argc, char **argv)
{
    struct program p = { .signal_fd = -1 };
    char host[256];
    int status = parse_args(&p, argc, argv);

    if (status >= 0) {
        return status;
    }
    if (!p.args.node_name && gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        p.args.node_name = host;
    }
    status = start(&p);
    if (status < 0) {
        log_event(LOG_INFO, "starting", "node", p.args.node_name ? p.args.node_name : "",
                  "bridge", p.args.bridge, "ovsdb", p.args.ovsdb,
                  "config", p.args.config_file, NULL);
        loop(&p);
        status = 0;
    }
    stop(&p);
    return status;
}
