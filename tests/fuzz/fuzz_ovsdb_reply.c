/* fuzz_ovsdb_reply — what an OVSDB server sends the applier (src/ovs/ovsdb_session.c
 * reads it, src/ovs/ovsdb_data.c and src/ovs/ovsplan.c use it).
 *
 * The harness plays the server on a Unix socket of its own: an ovsdb_client
 * connects, sends a "monitor" (id 1) and a "transact" (id 2), and the input is
 * written back to it as the server's byte stream, cut into pieces of varying
 * sizes (fuzz_piece()) so that message boundaries fall everywhere.  Then the
 * server hangs up.  Everything the client hands back is used as the applier
 * uses it: replies and "update" notifications go through ovsdb_cache_update()
 * and ovsplan_build() (with export on and export off), transact replies through
 * ovsdb_transact_check().  Checks, besides the sanitizers: the client never
 * reports a reply to an id it did not send, and the stream always ends in a
 * disconnection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "exportflows/admission/collector.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/ovs/ovsdb_data.h"
#include "exportflows/ovs/ovsdb_session.h"
#include "exportflows/ovs/ovsplan.h"
#include "fuzz.h"
#include "testutil.h"

#define NOW_MS 1000                     /* the clock stands still: no timeouts */
#define MAX_MSG 4096

static const char config_on[] =
    "{\"netFlow\": {\"collectors\": [\"10.0.0.1:2056\"], \"activeTimeout\": 60},"
    " \"sFlow\": {\"collectors\": [\":6343\"], \"agent\": \"ovn-k8s-mp0\", \"header\": 128,"
    " \"sampling\": 64, \"polling\": 10},"
    " \"ipfix\": {\"collectors\": [\"[fd00::5]:4739\"], \"sampling\": 400,"
    " \"cacheActiveTimeout\": 60, \"cacheMaxFlows\": 0, \"obsDomainID\": 123,"
    " \"obsPointID\": 456}}";

static char *dir, *address;
static int listener = -1;
static struct flowconfig configs[2];    /* export on, export off */
static struct collector node_ip;

static void
cleanup(void)
{
    close(listener);
    testutil_rmtree(dir);
    free(dir);
    free(address);
}

static void
setup(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    dir = testutil_tempdir("fuzz-ovsdb");
    FUZZ_CHECK(dir != NULL, "no temporary directory");
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/db.sock", dir);
    FUZZ_CHECK(asprintf(&address, "unix:%s", sa.sun_path) > 0, "out of memory");
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(listener >= 0 && !bind(listener, (struct sockaddr *) &sa, sizeof sa)
               && !listen(listener, 4), "cannot listen on %s", sa.sun_path);
    FUZZ_CHECK(!flowconfig_parse(config_on, strlen(config_on), &configs[0], NULL)
               && !flowconfig_parse("{}", 2, &configs[1], NULL)
               && !collector_parse_ip("10.0.0.5", &node_ip, NULL), "setup");
    atexit(cleanup);
}

/* The applier's planning on what the cache now holds, each config planned with
 * the other as the one last applied (export off then clears rows equal to it). */
static void
plan(const json_t *cache)
{
    for (size_t i = 0; i < 2; i++) {
        json_t *ops = NULL;
        struct errmsg err;
        int r = ovsplan_build(&configs[i], &configs[1 - i], "br-int", &node_ip, cache,
                              &ops, NULL, &err);

        FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EPROTO, "plan: %d %s", r, err.text);
        json_decref(ops);
    }
}

static void
handle(const struct ovsdb_event *ev, json_t *cache)
{
    const json_t *updates = NULL;

    if (ev->type == OVSDB_EVENT_REPLY) {
        FUZZ_CHECK(ev->id == 1 || ev->id == 2, "reply to id %llu", (unsigned long long) ev->id);
        if (ev->id == 1) {
            updates = ev->result;
        } else if (ev->result) {
            ovsdb_transact_check(ev->result, NULL);
        }
    } else if (ev->type == OVSDB_EVENT_NOTIFY && !strcmp(ev->method, "update")) {
        updates = json_array_get(ev->params, 1);
    }
    if (updates && !ovsdb_cache_update(cache, updates, NULL)) {
        plan(cache);
    }
}

/* Takes events until there is nothing left to read; true once disconnected. */
static bool
pump(struct ovsdb_client *client, int server, json_t *cache)
{
    char sink[4096];
    bool disconnected = false;

    for (;;) {
        struct ovsdb_event ev;
        struct pollfd pfd;
        int timeout = -1;

        while (read(server, sink, sizeof sink) > 0) {
            /* echo replies and the like: nobody reads them */
        }
        if (ovsdb_client_recv(client, NOW_MS, &ev) == 0) {
            disconnected |= ev.type == OVSDB_EVENT_DISCONNECTED;
            handle(&ev, cache);
            ovsdb_event_release(&ev);
            continue;
        }
        ovsdb_client_wait(client, NOW_MS, &pfd, &timeout);
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0) {
            return disconnected;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ovsdb_client_config config = { .timeout_ms = 1000000, .probe_ms = 1000000,
                                          .max_msg = MAX_MSG };
    struct ovsdb_client *client = NULL;
    json_t *cache = json_object();
    struct ovsdb_event ev;
    uint64_t id;
    int server;

    if (!dir) {
        setup();
    }
    config.address = address;
    FUZZ_CHECK(cache && !ovsdb_client_create(&config, &client, NULL), "client");
    FUZZ_CHECK(!ovsdb_client_recv(client, NOW_MS, &ev) && ev.type == OVSDB_EVENT_CONNECTED,
               "no connection");
    ovsdb_event_release(&ev);
    server = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    FUZZ_CHECK(server >= 0, "accept: %s", strerror(errno));
    FUZZ_CHECK(!ovsdb_client_monitor(client, "fuzz", ovsplan_monitor_requests(), NOW_MS, &id,
                                     NULL) && id == 1, "monitor");
    FUZZ_CHECK(!ovsdb_client_transact(client, json_array(), NOW_MS, &id, NULL) && id == 2,
               "transact");
    for (size_t at = 0, i = 0; at < size; i++) {
        size_t n = fuzz_piece(i) < size - at ? fuzz_piece(i) : size - at;
        ssize_t sent = send(server, data + at, n, MSG_NOSIGNAL);

        if (sent <= 0) {
            break;                      /* the client hung up */
        }
        at += (size_t) sent;
        pump(client, server, cache);
    }
    shutdown(server, SHUT_WR);
    FUZZ_CHECK(pump(client, server, cache) || !ovsdb_client_connected(client),
               "still connected after the server hung up");
    close(server);
    ovsdb_client_destroy(client);
    json_decref(cache);
    return 0;
}
