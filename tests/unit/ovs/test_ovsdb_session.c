/* Unit tests for ovsdb_session: stream framing over a socketpair (partial reads,
 * several messages in one read, oversize, garbage, end of stream), and the
 * client against a scripted server on a unix socket (echo, replies by id,
 * timeouts, reconnect).  The server side is an ovsdb_rpc too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/clock.h"
#include "exportflows/ovs/ovsdb_session.h"
#include "../../lib/testutil.h"

/* ---- framing ---- */

struct pair {
    struct ovsdb_rpc *rpc;
    int peer;
};

static void
pair_open(struct pair *p, size_t max_msg)
{
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    assert_int_equal(ovsdb_rpc_create(fds[0], max_msg, &p->rpc), 0);
    p->peer = fds[1];
}

static void
pair_close(struct pair *p)
{
    ovsdb_rpc_destroy(p->rpc);
    if (p->peer >= 0) {
        close(p->peer);
    }
}

static void
peer_write(struct pair *p, const char *text)
{
    size_t len = strlen(text);

    assert_int_equal(write(p->peer, text, len), (ssize_t) len);
}

static json_t *
recv_one(struct pair *p)
{
    json_t *msg = NULL;
    struct errmsg err;

    assert_int_equal(ovsdb_rpc_recv(p->rpc, &msg, &err), 0);
    return msg;
}

/* ovsdb_rpc_recv() reads at most once per call: calls it until it says more than
 * "not yet" (bounded, the peer has written everything already). */
static int
recv_settled(struct pair *p, json_t **msg, struct errmsg *err)
{
    int rc = -EAGAIN;

    for (int i = 0; i < 16 && rc == -EAGAIN; i++) {
        rc = ovsdb_rpc_recv(p->rpc, msg, err);
    }
    return rc;
}

static void
test_ovsdb_session_rpc_partial_reads(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;

    pair_open(&p, 0);
    peer_write(&p, "{\"id\": 1, \"result\": {\"a\": \"x}");
    assert_int_equal(ovsdb_rpc_recv(p.rpc, &msg, &err), -EAGAIN);
    peer_write(&p, "\\\"{[\"}, \"er");
    assert_int_equal(ovsdb_rpc_recv(p.rpc, &msg, &err), -EAGAIN);
    peer_write(&p, "ror\": null}");
    msg = recv_one(&p);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(msg, "result"), "a")), "x}\"{[");
    assert_int_equal(ovsdb_rpc_recv(p.rpc, &msg, &err), -EAGAIN);
    json_decref(msg);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_two_messages_in_one_read(void **state)
{
    struct pair p;
    json_t *a, *b;

    pair_open(&p, 0);
    peer_write(&p, "{\"id\":1,\"result\":\"}\"}\n {\"method\":\"update\",\"params\":[[]],"
               "\"id\":null}{\"id\":3");
    a = recv_one(&p);
    b = recv_one(&p);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(b, "method")), "update");
    peer_write(&p, ",\"result\":[]}");
    json_decref(a);
    a = recv_one(&p);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), 3);
    json_decref(a);
    json_decref(b);
    pair_close(&p);
}

/* Any split of a stream of messages yields the same messages: feed one in chunks
 * of 1 to 7 bytes, reading after each chunk. */
static void
test_ovsdb_session_rpc_any_split_yields_the_same_messages(void **state)
{
    static const char stream[] =
        "{\"id\":1,\"result\":[\"a\\\\\",{\"b\":\"]}\"}]}"
        "\r\n{\"method\":\"update\",\"params\":[\"m\",{\"T\":{\"u\":{\"new\":{}}}}]}"
        "{\"id\":\"x\",\"method\":\"echo\",\"params\":[\"\\u00e9{\"]}";
    struct pair p;
    struct errmsg err;
    size_t off = 0;
    int got = 0;

    pair_open(&p, 0);
    srand(7);
    while (off < sizeof stream - 1 || got < 3) {
        size_t n = 1 + (size_t) (rand() % 7);
        json_t *msg;

        if (n > sizeof stream - 1 - off) {
            n = sizeof stream - 1 - off;
        }
        if (n) {
            assert_int_equal(write(p.peer, stream + off, n), (ssize_t) n);
            off += n;
        }
        while (ovsdb_rpc_recv(p.rpc, &msg, &err) == 0) {
            got++;
            if (got == 1) {
                assert_string_equal(json_string_value(json_object_get(
                    json_array_get(json_object_get(msg, "result"), 1), "b")), "]}");
            }
            json_decref(msg);
        }
        assert_true(got <= 3);
        if (off == sizeof stream - 1 && got < 3) {
            assert_int_equal(recv_settled(&p, &msg, &err), 0);
            got++;
            json_decref(msg);
        }
    }
    assert_int_equal(got, 3);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_oversize_is_an_error(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;
    char big[200];
    int rc;

    pair_open(&p, 64);
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"x\":\"", 6);
    big[sizeof big - 1] = '\0';
    peer_write(&p, big);
    rc = recv_settled(&p, &msg, &err);
    assert_int_equal(rc, -EMSGSIZE);
    assert_non_null(strstr(err.text, "over 64 bytes"));
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_complete_oversize_message_is_an_error(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;

    pair_open(&p, 16);
    peer_write(&p, "{\"x\":\"0123456789abcdef\"}");
    assert_int_equal(recv_settled(&p, &msg, &err), -EMSGSIZE);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_rejects_non_objects(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;

    pair_open(&p, 0);
    peer_write(&p, "[1, 2]");
    assert_int_equal(ovsdb_rpc_recv(p.rpc, &msg, &err), -EPROTO);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_rejects_duplicate_keys(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;

    pair_open(&p, 0);
    peer_write(&p, "{\"id\": 1, \"id\": 2}");
    assert_int_equal(ovsdb_rpc_recv(p.rpc, &msg, &err), -EPROTO);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_end_of_stream(void **state)
{
    struct pair p;
    struct errmsg err;
    json_t *msg = NULL;

    pair_open(&p, 0);
    peer_write(&p, "{\"id\":");
    close(p.peer);
    p.peer = -1;
    assert_int_equal(recv_settled(&p, &msg, &err), -EPIPE);
    pair_close(&p);
}

static void
test_ovsdb_session_rpc_send_writes_compact_json(void **state)
{
    struct pair p;
    struct errmsg err;
    char buf[128];
    json_t *msg = json_pack("{s:s, s:[], s:i}", "method", "echo", "params", "id", 5);
    ssize_t n;

    pair_open(&p, 0);
    assert_int_equal(ovsdb_rpc_send(p.rpc, msg, &err), 0);
    assert_false(ovsdb_rpc_backlogged(p.rpc));
    n = read(p.peer, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"method\":\"echo\",\"params\":[],\"id\":5}");
    json_decref(msg);
    pair_close(&p);
}

/* ---- client against a scripted server ---- */

struct server {
    char *dir;
    char *path;
    int listen_fd;
    int conn;
    struct pair io;             /* the server's side, as an ovsdb_rpc */
};

static void
server_start(struct server *s)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    s->dir = testutil_tempdir("ovsdb");
    assert_non_null(s->dir);
    s->path = testutil_path(s->dir, "db.sock");
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->listen_fd >= 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *) &sun, sizeof sun), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    s->io.rpc = NULL;
    s->io.peer = -1;
}

static void
server_stop(struct server *s)
{
    ovsdb_rpc_destroy(s->io.rpc);
    close(s->listen_fd);
    testutil_rmtree(s->dir);
    free(s->dir);
    free(s->path);
}

static struct ovsdb_client *
client_new(const struct server *s, unsigned timeout_ms)
{
    char address[200];
    struct ovsdb_client_config config = {
        .address = address, .timeout_ms = timeout_ms, .probe_ms = 60000,
        .backoff_min_ms = 10, .backoff_max_ms = 40,
    };
    struct ovsdb_client *c = NULL;
    struct errmsg err;

    snprintf(address, sizeof address, "unix:%s", s->path);
    assert_int_equal(ovsdb_client_create(&config, &c, &err), 0);
    return c;
}

/* Drives the client until it yields an event of 'type' (others are dropped). */
static void
client_expect(struct ovsdb_client *c, enum ovsdb_event_type type,
              struct ovsdb_event *ret)
{
    struct testutil_deadline d = testutil_deadline_ms(5000);

    while (!testutil_deadline_passed(&d)) {
        struct ovsdb_event ev;
        struct pollfd pfd;
        int timeout = 10;

        while (ovsdb_client_recv(c, clock_monotonic_ms(), &ev) == 0) {
            if (ev.type == type) {
                *ret = ev;
                return;
            }
            ovsdb_event_release(&ev);
        }
        ovsdb_client_wait(c, clock_monotonic_ms(), &pfd, &timeout);
        poll(&pfd, 1, timeout > 10 ? 10 : timeout);
    }
    fail_msg("no event of type %d within 5 s", (int) type);
}

/* Accepts the client's connection as the server. */
static void
server_accept(struct server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    assert_true(fd >= 0);
    ovsdb_rpc_destroy(s->io.rpc);
    assert_int_equal(ovsdb_rpc_create(fd, 0, &s->io.rpc), 0);
}

/* Reads one message on the server side, driving the client meanwhile. */
static json_t *
server_recv(struct server *s, struct ovsdb_client *c)
{
    struct testutil_deadline d = testutil_deadline_ms(5000);
    struct errmsg err;
    json_t *msg;

    while (!testutil_deadline_passed(&d)) {
        struct ovsdb_event ev;
        int rc = ovsdb_rpc_recv(s->io.rpc, &msg, &err);

        if (rc == 0) {
            return msg;
        }
        assert_int_equal(rc, -EAGAIN);
        while (ovsdb_client_recv(c, clock_monotonic_ms(), &ev) == 0) {
            ovsdb_event_release(&ev);
        }
        testutil_nap(2);
    }
    fail_msg("server received nothing within 5 s");
    return NULL;
}

static void
server_send(struct server *s, const char *text)
{
    json_t *msg = json_loads(text, 0, NULL);
    struct errmsg err;

    assert_non_null(msg);
    assert_int_equal(ovsdb_rpc_send(s->io.rpc, msg, &err), 0);
    json_decref(msg);
}

static void
test_ovsdb_session_client_answers_echo_and_matches_replies(void **state)
{
    struct server s;
    struct ovsdb_client *c;
    struct ovsdb_event ev;
    struct errmsg err;
    uint64_t id1, id2;
    json_t *msg;
    char reply[128];

    server_start(&s);
    c = client_new(&s, 5000);
    client_expect(c, OVSDB_EVENT_CONNECTED, &ev);
    server_accept(&s);

    server_send(&s, "{\"method\":\"echo\",\"params\":[\"hi\"],\"id\":\"e1\"}");
    msg = server_recv(&s, c);
    assert_string_equal(json_string_value(json_object_get(msg, "id")), "e1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(msg, "result"), 0)),
                        "hi");
    json_decref(msg);

    assert_int_equal(ovsdb_client_transact(c, json_array(), clock_monotonic_ms(), &id1, &err), 0);
    assert_int_equal(ovsdb_client_monitor(c, "m", json_object(), clock_monotonic_ms(), &id2,
                                          &err), 0);
    json_decref(server_recv(&s, c));
    json_decref(server_recv(&s, c));
    /* Replies out of order, then a notification. */
    snprintf(reply, sizeof reply, "{\"id\":%llu,\"result\":[\"Open_vSwitch\"],\"error\":null}",
             (unsigned long long) id2);
    server_send(&s, reply);
    snprintf(reply, sizeof reply, "{\"id\":%llu,\"result\":null,\"error\":\"bad\"}",
             (unsigned long long) id1);
    server_send(&s, reply);
    server_send(&s, "{\"method\":\"update\",\"params\":[\"m\",{}],\"id\":null}");

    client_expect(c, OVSDB_EVENT_REPLY, &ev);
    assert_int_equal(ev.id, id2);
    assert_non_null(ev.result);
    ovsdb_event_release(&ev);
    client_expect(c, OVSDB_EVENT_REPLY, &ev);
    assert_int_equal(ev.id, id1);
    assert_null(ev.result);
    assert_string_equal(json_string_value(ev.error_json), "bad");
    ovsdb_event_release(&ev);
    client_expect(c, OVSDB_EVENT_NOTIFY, &ev);
    assert_string_equal(ev.method, "update");
    ovsdb_event_release(&ev);

    ovsdb_client_destroy(c);
    server_stop(&s);
}

static void
test_ovsdb_session_client_times_out_and_reconnects(void **state)
{
    struct server s;
    struct ovsdb_client *c;
    struct ovsdb_event ev;
    struct errmsg err;
    uint64_t id;
    unsigned long long start;

    server_start(&s);
    c = client_new(&s, 200);
    client_expect(c, OVSDB_EVENT_CONNECTED, &ev);
    server_accept(&s);
    assert_int_equal(ovsdb_client_transact(c, json_array(), clock_monotonic_ms(), &id, &err), 0);
    start = clock_monotonic_us();
    client_expect(c, OVSDB_EVENT_DISCONNECTED, &ev);
    assert_true(clock_monotonic_us() - start >= 150000);
    assert_non_null(strstr(ev.error.text, "no reply"));
    assert_false(ovsdb_client_connected(c));
    assert_int_equal(ovsdb_client_transact(c, json_array(), clock_monotonic_ms(), &id, &err),
                     -ENOTCONN);
    client_expect(c, OVSDB_EVENT_CONNECTED, &ev);
    assert_true(ovsdb_client_connected(c));
    ovsdb_client_destroy(c);
    server_stop(&s);
}

static void
test_ovsdb_session_client_reports_connect_failure(void **state)
{
    struct ovsdb_client_config config = { .address = "unix:/nonexistent/db.sock",
                                          .backoff_min_ms = 10 };
    struct ovsdb_client *c = NULL;
    struct ovsdb_event ev;
    struct errmsg err;

    assert_int_equal(ovsdb_client_create(&config, &c, &err), 0);
    client_expect(c, OVSDB_EVENT_CONNECT_FAILED, &ev);
    assert_non_null(strstr(ev.error.text, "cannot connect to 'unix:/nonexistent/db.sock'"));
    ovsdb_client_destroy(c);
}

static void
test_ovsdb_session_client_rejects_bad_addresses(void **state)
{
    static const char *const bad[] = {
        "db.sock", "unix:", "tcp:1.2.3.4", "tcp:1.2.3.4:0", "tcp:host:6640",
        "tcp:[::1:6640", "tcp:1.2.3.4:65536", "ssl:1.2.3.4:6640",
    };
    struct ovsdb_client_config config = { 0 };
    struct ovsdb_client *c = NULL;
    struct errmsg err;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config.address = bad[i];
        assert_int_equal(ovsdb_client_create(&config, &c, &err), -EINVAL);
    }
    config.address = "tcp:[::1]:6640";
    assert_int_equal(ovsdb_client_create(&config, &c, &err), 0);
    ovsdb_client_destroy(c);
    config.address = "tcp:127.0.0.1:6640";
    assert_int_equal(ovsdb_client_create(&config, &c, &err), 0);
    ovsdb_client_destroy(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovsdb_session_rpc_partial_reads),
        cmocka_unit_test(test_ovsdb_session_rpc_two_messages_in_one_read),
        cmocka_unit_test(test_ovsdb_session_rpc_any_split_yields_the_same_messages),
        cmocka_unit_test(test_ovsdb_session_rpc_oversize_is_an_error),
        cmocka_unit_test(test_ovsdb_session_rpc_complete_oversize_message_is_an_error),
        cmocka_unit_test(test_ovsdb_session_rpc_rejects_non_objects),
        cmocka_unit_test(test_ovsdb_session_rpc_rejects_duplicate_keys),
        cmocka_unit_test(test_ovsdb_session_rpc_end_of_stream),
        cmocka_unit_test(test_ovsdb_session_rpc_send_writes_compact_json),
        cmocka_unit_test(test_ovsdb_session_client_answers_echo_and_matches_replies),
        cmocka_unit_test(test_ovsdb_session_client_times_out_and_reconnects),
        cmocka_unit_test(test_ovsdb_session_client_reports_connect_failure),
        cmocka_unit_test(test_ovsdb_session_client_rejects_bad_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
