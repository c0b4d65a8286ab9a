/* applier-latency — the measuring half of bench/applier.sh (which compiles it
 * against build/libexportflows.a; it is not part of the build).
 *
 * It joins ovsdb-server as one more client, monitors Bridge (name, netflow,
 * ipfix) and IPFIX (sampling), and times with CLOCK_MONOTONIC how long each of
 * three kinds of change takes to show up in that monitor, i.e. to be committed:
 *
 *   applier  a ConfigMap-style swap of DIR/..data to a prepared version whose
 *            IPFIX sampling is new, timed from the rename(2) to the update that
 *            shows br-int's IPFIX row with that sampling.  exportflows-applier
 *            must be running with --config-file DIR/config.json;
 *   vsctl    the baseline: the same change made with the native tool, one
 *            ovs-vsctl transaction that inserts the IPFIX row and points the
 *            bridge at it (what the applier sends), on bridge br-base, which the
 *            applier does not manage; timed from posix_spawn() to the update;
 *   drift    `ovs-vsctl clear bridge br-int netflow`, timed from posix_spawn()
 *            to the update that shows netflow set again, and from the update
 *            that showed it cleared to that one (the applier's own reaction).
 *
 * Applier and vsctl changes alternate so that both meet the same machine load,
 * with a quiet gap after each (the monitor is still read during it).  The version
 * directories are all written before the first change: the swap alone is the
 * change, as in kubelet's last step.  Output, one line per sample, in
 * microseconds: "applier US", "vsctl US", "drift US US" (the second "-" when
 * the clear was not seen on its own).  Exit 0, or 1 with a message on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exportflows/base/clock.h"
#include "exportflows/base/errmsg.h"
#include "exportflows/base/numparse.h"
#include "exportflows/ovs/ovsdb_data.h"
#include "exportflows/ovs/ovsdb_session.h"

extern char **environ;

#define MONITOR_ID "bench"
#define WAIT_US (10u * 1000 * 1000)    /* any one change: 10 s, then give up */
#define APPLIER_SAMPLING_BASE 1000      /* version i has IPFIX sampling 1000 + i */
#define VSCTL_SAMPLING_BASE 5000

struct bench {
    const char *remote;
    const char *dir;
    uint64_t changes, drifts, gap_ms;
    struct ovsdb_client *client;
    json_t *cache;              /* {table: {uuid: row}}; NULL until the monitor reply */
    uint64_t monitor_req;
    uint64_t cleared_us;        /* when br-int's netflow was last seen empty; 0: not */
};

/* What a wait is waiting for: bridge 'bridge' with IPFIX sampling 'sampling', or
 * (sampling 0) with a netflow row other than 'netflow_not' (NULL: any). */
struct expect {
    const char *bridge;
    int64_t sampling;
    const json_t *netflow_not;
};

/* ---- the monitor cache ---- */

/* Bridge row named 'name' in the cache (borrowed), or NULL. */
static const json_t *
find_bridge(const json_t *cache, const char *name)
{
    const json_t *rows = json_object_get(cache, "Bridge"), *row;
    const char *uuid;

    json_object_foreach((json_t *) rows, uuid, row) {
        const char *n = json_string_value(json_object_get(row, "name"));
        if (n && !strcmp(n, name)) {
            return row;
        }
    }
    return NULL;
}

/* The IPFIX sampling of bridge 'name', or -1 when it has no IPFIX row (yet). */
static int64_t
bridge_ipfix_sampling(const json_t *cache, const char *name)
{
    const json_t *bridge = find_bridge(cache, name), *ref, *ipfix, *sampling;

    if (!bridge || ovsdb_datum_size(json_object_get(bridge, "ipfix")) != 1) {
        return -1;
    }
    ref = ovsdb_datum_at(json_object_get(bridge, "ipfix"), 0);
    ipfix = json_object_get(json_object_get(cache, "IPFIX"),
                            json_string_value(json_array_get(ref, 1)) ?: "");
    sampling = json_object_get(ipfix, "sampling");
    if (!sampling || ovsdb_datum_size(sampling) != 1) {
        return -1;
    }
    return json_integer_value(ovsdb_datum_at(sampling, 0));
}

/* Bridge 'name''s netflow column (borrowed), or NULL when it has no row. */
static const json_t *
bridge_netflow(const json_t *cache, const char *name)
{
    const json_t *netflow = json_object_get(find_bridge(cache, name), "netflow");

    return netflow && ovsdb_datum_size(netflow) == 1 ? netflow : NULL;
}

static bool
expect_met(const json_t *cache, const struct expect *e)
{
    const json_t *netflow;

    if (e->sampling) {
        return bridge_ipfix_sampling(cache, e->bridge) == e->sampling;
    }
    netflow = bridge_netflow(cache, e->bridge);
    return netflow && (!e->netflow_not || !ovsdb_datum_equal(netflow, e->netflow_not));
}

/* ---- the client ---- */

/* Asks for the monitor, initial contents included; its reply resets the cache. */
static int
send_monitor(struct bench *b, uint64_t now_ms, struct errmsg *err)
{
    json_t *requests = json_pack("{s:{s:[sss]}, s:{s:[s]}}",
                                 "Bridge", "columns", "name", "netflow", "ipfix",
                                 "IPFIX", "columns", "sampling");

    if (!requests) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    return ovsdb_client_monitor(b->client, MONITOR_ID, requests, now_ms,
                                &b->monitor_req, err);
}

/* Folds one event into the cache.  Sets '*updated' when the cache changed. */
static int
handle_event(struct bench *b, const struct ovsdb_event *ev, uint64_t now_ms,
             bool *updated, struct errmsg *err)
{
    const json_t *updates = NULL;

    *updated = false;
    switch (ev->type) {
    case OVSDB_EVENT_CONNECTED:
        return send_monitor(b, now_ms, err);
    case OVSDB_EVENT_CONNECT_FAILED:
    case OVSDB_EVENT_DISCONNECTED:
        return errmsg_set(err, -ENOTCONN, "%s: %s", b->remote, ev->error.text);
    case OVSDB_EVENT_REPLY:
        if (ev->id != b->monitor_req) {
            return 0;
        }
        if (!ev->result) {
            return errmsg_set(err, -EPROTO, "monitor refused");
        }
        json_decref(b->cache);
        b->cache = json_object();
        updates = ev->result;
        break;
    case OVSDB_EVENT_NOTIFY:
        if (strcmp(ev->method, "update") || !b->cache) {
            return 0;
        }
        updates = json_array_get(ev->params, 1);
        break;
    }
    if (!b->cache) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    *updated = true;
    return ovsdb_cache_update(b->cache, updates, err);
}

/* The -ETIMEDOUT error for 'e', with what the monitor shows instead. */
static int
timed_out(const struct bench *b, const struct expect *e, struct errmsg *err)
{
    char *row = json_dumps(find_bridge(b->cache, e->bridge), JSON_COMPACT);
    int rc;

    if (e->sampling) {
        rc = errmsg_set(err, -ETIMEDOUT, "timed out waiting for %s's IPFIX sampling %"
                        PRId64 " (last seen %" PRId64 ")", e->bridge, e->sampling,
                        bridge_ipfix_sampling(b->cache, e->bridge));
    } else {
        rc = errmsg_set(err, -ETIMEDOUT, "timed out waiting for %s's netflow: %s",
                        e->bridge, row ? row : "");
    }
    free(row);
    return rc;
}

/* Reads the monitor until 'e' holds after an update (then writes the time that
 * update was received to '*ret_us' and returns 0) or until 'deadline_us'
 * (-ETIMEDOUT).  'e' NULL: just keeps reading until the deadline, returns 0. */
static int
wait_for(struct bench *b, const struct expect *e, uint64_t deadline_us,
         uint64_t *ret_us, struct errmsg *err)
{
    for (;;) {
        struct ovsdb_event ev;
        struct pollfd pfd;
        int timeout = -1, rc;
        uint64_t now_ms = clock_monotonic_ms(), t, left;
        bool updated = false;

        while (ovsdb_client_recv(b->client, now_ms, &ev) == 0) {
            t = clock_monotonic_us();
            rc = handle_event(b, &ev, now_ms, &updated, err);
            ovsdb_event_release(&ev);
            if (rc < 0) {
                return rc;
            }
            if (updated && !b->cleared_us && find_bridge(b->cache, "br-int")
                && !bridge_netflow(b->cache, "br-int")) {
                b->cleared_us = t;
            }
            if (updated && e && expect_met(b->cache, e)) {
                *ret_us = t;
                return 0;
            }
        }
        t = clock_monotonic_us();
        if (t >= deadline_us) {
            return e ? timed_out(b, e, err) : 0;
        }
        left = (deadline_us - t + 999) / 1000;
        ovsdb_client_wait(b->client, now_ms, &pfd, &timeout);
        if (timeout < 0 || (uint64_t) timeout > left) {
            timeout = (int) left;
        }
        if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, timeout) < 0 && errno != EINTR) {
            return errmsg_set(err, -errno, "poll: %s", strerror(errno));
        }
    }
}

/* Keeps reading the monitor for 'ms' milliseconds: the quiet gap between samples. */
static int
idle(struct bench *b, uint64_t ms, struct errmsg *err)
{
    return wait_for(b, NULL, clock_monotonic_us() + ms * 1000, NULL, err);
}

/* ---- the changes ---- */

/* Creates or truncates 'path' and writes 'text' to it. */
static int
write_file(const char *path, const char *text, struct errmsg *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    int rc = 0;

    if (fd < 0) {
        return errmsg_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
    }
    if (write(fd, text, len) != (ssize_t) len) {
        rc = errmsg_set(err, -EIO, "cannot write '%s'", path);
    }
    close(fd);
    return rc;
}

/* Writes DIR/..bench<i>/config.json: all three protocols, IPFIX sampling
 * APPLIER_SAMPLING_BASE + i. */
static int
prepare_version(const struct bench *b, uint64_t i, struct errmsg *err)
{
    char path[4096], text[1024];

    snprintf(path, sizeof path, "%s/..bench%" PRIu64, b->dir, i);
    if (mkdir(path, 0755) < 0) {
        return errmsg_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
    }
    snprintf(text, sizeof text,
             "{\"generation\": %" PRIu64 ",\n"
             " \"netFlow\": {\"collectors\": [\"192.0.2.10:2056\"], \"activeTimeout\": 60},\n"
             " \"sFlow\": {\"collectors\": [\"192.0.2.10:6343\"], \"agent\": \"ovn-k8s-mp0\","
             " \"header\": 128, \"sampling\": 64, \"polling\": 10},\n"
             " \"ipfix\": {\"collectors\": [\"192.0.2.10:4739\"], \"sampling\": %" PRIu64 ","
             " \"cacheActiveTimeout\": 60, \"cacheMaxFlows\": 0, \"obsDomainID\": 123,"
             " \"obsPointID\": 456}}\n",
             100 + i, APPLIER_SAMPLING_BASE + i);
    snprintf(path, sizeof path, "%s/..bench%" PRIu64 "/config.json", b->dir, i);
    return write_file(path, text, err);
}

/* Points DIR/..data at version i as kubelet does (a new symlink renamed over the
 * old one) and returns the time just before the rename. */
static int
swap_version(const struct bench *b, uint64_t i, uint64_t *ret_us, struct errmsg *err)
{
    char target[64], tmp[4096], data[4096];

    snprintf(target, sizeof target, "..bench%" PRIu64, i);
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", b->dir);
    snprintf(data, sizeof data, "%s/..data", b->dir);
    if (symlink(target, tmp) < 0) {
        return errmsg_set(err, -errno, "cannot create '%s': %s", tmp, strerror(errno));
    }
    *ret_us = clock_monotonic_us();
    if (rename(tmp, data) < 0) {
        return errmsg_set(err, -errno, "cannot rename '%s': %s", tmp, strerror(errno));
    }
    return 0;
}

/* Starts ovs-vsctl with 'args' (NULL-terminated, after the common options),
 * stdout to /dev/null; writes its pid and the time just before the spawn. */
static int
spawn_vsctl(const struct bench *b, const char *const *args, pid_t *ret_pid,
            uint64_t *ret_us, struct errmsg *err)
{
    char db[4200];
    const char *argv[32] = { "ovs-vsctl", db, "--no-wait", "--timeout=10" };
    posix_spawn_file_actions_t fa;
    size_t n = 4;
    int rc;

    snprintf(db, sizeof db, "--db=%s", b->remote);
    for (; *args && n < sizeof argv / sizeof argv[0] - 1; args++) {
        argv[n++] = *args;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    *ret_us = clock_monotonic_us();
    rc = posix_spawnp(ret_pid, "ovs-vsctl", &fa, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? errmsg_set(err, -rc, "cannot run ovs-vsctl: %s", strerror(rc)) : 0;
}

/* Waits for ovs-vsctl 'pid'; -EIO with a message unless it exited 0. */
static int
reap(pid_t pid, struct errmsg *err)
{
    int status;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return errmsg_set(err, -errno, "waitpid: %s", strerror(errno));
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        return errmsg_set(err, -EIO, "ovs-vsctl failed (status 0x%x)", (unsigned) status);
    }
    return 0;
}

/* One "applier" sample: swap to version 'i', wait for its IPFIX sampling. */
static int
measure_applier(struct bench *b, uint64_t i, struct errmsg *err)
{
    struct expect e = { .bridge = "br-int", .sampling = APPLIER_SAMPLING_BASE + i };
    uint64_t start, seen;
    int rc = swap_version(b, i, &start, err);

    if (rc == 0) {
        rc = wait_for(b, &e, start + WAIT_US, &seen, err);
    }
    if (rc == 0) {
        printf("applier %" PRIu64 "\n", seen - start);
    }
    return rc;
}

/* One "vsctl" sample: the same kind of change on br-base, by ovs-vsctl. */
static int
measure_vsctl(struct bench *b, uint64_t i, struct errmsg *err)
{
    char sampling[32];
    const char *args[] = {
        "--", "--id=@ipfix", "create", "ipfix", "targets=\"192.0.2.10:4739\"", sampling,
        "cache_active_timeout=60", "obs_domain_id=123", "obs_point_id=456",
        "external_ids:exportflows-owner=exportflows",
        "--", "set", "bridge", "br-base", "ipfix=@ipfix", NULL,
    };
    struct expect e = { .bridge = "br-base", .sampling = VSCTL_SAMPLING_BASE + i };
    uint64_t start, seen;
    pid_t pid;
    int rc;

    snprintf(sampling, sizeof sampling, "sampling=%" PRIu64, VSCTL_SAMPLING_BASE + i);
    rc = spawn_vsctl(b, args, &pid, &start, err);
    if (rc < 0) {
        return rc;
    }
    rc = wait_for(b, &e, start + WAIT_US, &seen, err);
    if (reap(pid, rc < 0 ? NULL : err) < 0 && rc == 0) {
        rc = -EIO;
    }
    if (rc == 0) {
        printf("vsctl %" PRIu64 "\n", seen - start);
    }
    return rc;
}

/* The repair is the first update showing a netflow row other than the one
 * cleared.  ovsdb-server may fold the clear and the repair into one update when
 * they commit close together; the applier's own reaction time is then unknown
 * and printed as "-". */
static int
measure_drift(struct bench *b, struct errmsg *err)
{
    const char *args[] = { "clear", "bridge", "br-int", "netflow", NULL };
    json_t *before = json_deep_copy(bridge_netflow(b->cache, "br-int"));
    struct expect repaired = { .bridge = "br-int", .netflow_not = before };
    uint64_t start, back;
    pid_t pid;
    int rc = before ? spawn_vsctl(b, args, &pid, &start, err)
                    : errmsg_set(err, -EPROTO, "br-int has no netflow row to clear");

    if (rc < 0) {
        goto out;
    }
    b->cleared_us = 0;
    rc = wait_for(b, &repaired, start + WAIT_US, &back, err);
    if (reap(pid, rc < 0 ? NULL : err) < 0 && rc == 0) {
        rc = -EIO;
    }
    if (rc == 0 && b->cleared_us) {
        printf("drift %" PRIu64 " %" PRIu64 "\n", back - start, back - b->cleared_us);
    } else if (rc == 0) {
        printf("drift %" PRIu64 " -\n", back - start);
    }
out:
    json_decref(before);
    return rc;
}

/* ---- main ---- */

/* Prepares the versions, waits for the applier's first apply, then samples. */
static int
run(struct bench *b, struct errmsg *err)
{
    struct expect ready = { .bridge = "br-int" };
    uint64_t t;
    int rc = 0;

    for (uint64_t i = 1; rc == 0 && i <= b->changes; i++) {
        rc = prepare_version(b, i, err);
    }
    if (rc == 0) {
        rc = wait_for(b, &ready, clock_monotonic_us() + WAIT_US, &t, err);
    }
    if (rc == 0) {
        rc = idle(b, 200, err);     /* the applier's reload of the prepared dirs */
    }
    for (uint64_t i = 1; rc == 0 && i <= b->changes; i++) {
        rc = measure_applier(b, i, err);
        if (rc == 0) {
            rc = idle(b, b->gap_ms, err);
        }
        if (rc == 0) {
            rc = measure_vsctl(b, i, err);
        }
        if (rc == 0) {
            rc = idle(b, b->gap_ms, err);
        }
    }
    for (uint64_t i = 1; rc == 0 && i <= b->drifts; i++) {
        rc = measure_drift(b, err);
        if (rc == 0) {
            rc = idle(b, b->gap_ms, err);
        }
    }
    fflush(stdout);
    return rc;
}

/* Fills 'b' from "--name value" pairs. */
static int
parse_args(int argc, char **argv, struct bench *b, struct errmsg *err)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *v = argv[i + 1];
        int rc = 0;

        if (!strcmp(argv[i], "--ovsdb")) {
            b->remote = v;
        } else if (!strcmp(argv[i], "--config-dir")) {
            b->dir = v;
        } else if (!strcmp(argv[i], "--changes")) {
            rc = numparse_u64(v, 1, 3000, &b->changes);
        } else if (!strcmp(argv[i], "--drifts")) {
            rc = numparse_u64(v, 0, 3000, &b->drifts);
        } else if (!strcmp(argv[i], "--gap-ms")) {
            rc = numparse_u64(v, 0, 10000, &b->gap_ms);
        } else {
            return errmsg_set(err, -EINVAL, "unknown option '%s'", argv[i]);
        }
        if (rc < 0) {
            return errmsg_set(err, rc, "bad value '%s' for %s", v, argv[i]);
        }
    }
    if (argc % 2 == 0 || !b->remote || !b->dir) {
        return errmsg_set(err, -EINVAL, "usage: applier-latency --ovsdb REMOTE "
                          "--config-dir DIR [--changes N] [--drifts N] [--gap-ms MS]");
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct bench b = { .changes = 100, .drifts = 20, .gap_ms = 30 };
    struct ovsdb_client_config cc = { 0 };
    struct errmsg err = { "" };
    int rc = parse_args(argc, argv, &b, &err);

    if (rc == 0) {
        cc.address = b.remote;
        rc = ovsdb_client_create(&cc, &b.client, &err);
    }
    if (rc == 0) {
        rc = run(&b, &err);
    }
    if (rc < 0) {
        fprintf(stderr, "applier-latency: %s\n", err.text);
    }
    ovsdb_client_destroy(b.client);
    json_decref(b.cache);
    return rc < 0 ? 1 : 0;
}
