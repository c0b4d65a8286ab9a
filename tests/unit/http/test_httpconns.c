/* Unit tests for httpconns (private to httpserver): the registry of open
 * connections, cutting the slow ones by their deadlines and seeing unread
 * input — on socket pairs, with the idle times set back by hand. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../../src/http/httpconns.h"

struct rig {
    struct httpconns conns;
    struct httpconn *c[3];
    int peer[3];                /* the client ends */
};

static int
setup(void **state)
{
    static struct rig r;

    httpconns_init(&r.conns);
    for (int i = 0; i < 3; i++) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        r.c[i] = httpconn_new(&r.conns, NULL, sv[0]);
        assert_non_null(r.c[i]);
        r.peer[i] = sv[1];
        httpconns_add(&r.conns, r.c[i]);
    }
    *state = &r;
    return 0;
}

static int
teardown(void **state)
{
    struct rig *r = *state;

    for (int i = 0; i < 3; i++) {
        if (r->c[i]) {
            int fd = r->c[i]->fd;

            httpconns_remove(&r->conns, r->c[i]);
            if (fd >= 0) {
                close(fd);
            }
        }
        close(r->peer[i]);
    }
    assert_null(r->conns.head);
    httpconns_release(&r->conns);
    return 0;
}

/* Pretends 'c' has been idle (or in its current phase) for 's' seconds. */
static void
age(struct httpconn *c, time_t s)
{
    c->idle_since.tv_sec -= s;
}

/* Whether the server side of connection i was shut down: the client reads EOF. */
static bool
was_cut(struct rig *r, int i)
{
    char b;

    return recv(r->peer[i], &b, 1, MSG_DONTWAIT) == 0;
}

static void
test_httpconns_list_keeps_every_connection(void **state)
{
    struct rig *r = *state;
    int fd = r->c[1]->fd;

    assert_ptr_equal(r->conns.head, r->c[2]);   /* newest first */
    assert_ptr_equal(r->c[2]->next, r->c[1]);
    assert_ptr_equal(r->c[1]->next, r->c[0]);
    assert_ptr_equal(r->c[0]->registry, &r->conns);
    httpconns_remove(&r->conns, r->c[1]);      /* from the middle */
    close(fd);
    r->c[1] = NULL;
    assert_ptr_equal(r->c[2]->next, r->c[0]);
    assert_ptr_equal(r->c[0]->prev, r->c[2]);
    httpconn_set_in_request(NULL, true);        /* accepted, does nothing */
    httpconn_set_body_received(NULL);
}

static void
test_httpconns_reap_cuts_slow_headers(void **state)
{
    struct rig *r = *state;

    age(r->c[0], 10);
    age(r->c[1], 3);
    httpconns_reap_slow(&r->conns, 5, 5);
    assert_int_equal(r->c[0]->fd, -1);
    assert_true(was_cut(r, 0));
    assert_true(r->c[1]->fd >= 0);
    assert_false(was_cut(r, 1));
    assert_false(was_cut(r, 2));
    /* A deadline of 0 cuts nothing. */
    age(r->c[1], 100);
    httpconns_reap_slow(&r->conns, 0, 0);
    assert_true(r->c[1]->fd >= 0);
}

static void
test_httpconns_reap_cuts_slow_bodies_only(void **state)
{
    struct rig *r = *state;

    httpconn_set_in_request(r->c[0], true);     /* its body still coming */
    httpconn_set_in_request(r->c[1], true);
    httpconn_set_body_received(r->c[1]);        /* a handler at work: never cut */
    for (int i = 0; i < 3; i++) {
        age(r->c[i], 20);
    }
    httpconns_reap_slow(&r->conns, 60, 30);
    assert_true(r->c[0]->fd >= 0);
    httpconns_reap_slow(&r->conns, 60, 10);
    assert_int_equal(r->c[0]->fd, -1);
    assert_true(was_cut(r, 0));
    assert_true(r->c[1]->fd >= 0);
    assert_true(r->c[2]->fd >= 0);
    /* Back to idle: the header deadline counts again, from now. */
    httpconn_set_in_request(r->c[1], false);
    httpconns_reap_slow(&r->conns, 5, 5);
    assert_true(r->c[1]->fd >= 0);
    assert_false(was_cut(r, 1));
}

static void
test_httpconns_have_input_sees_unread_bytes(void **state)
{
    struct rig *r = *state;
    char b;

    assert_false(httpconns_have_input(&r->conns));
    assert_int_equal(write(r->peer[1], "G", 1), 1);
    assert_true(httpconns_have_input(&r->conns));
    assert_int_equal(read(r->c[1]->fd, &b, 1), 1);
    assert_false(httpconns_have_input(&r->conns));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_httpconns_list_keeps_every_connection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_httpconns_reap_cuts_slow_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_httpconns_reap_cuts_slow_bodies_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_httpconns_have_input_sees_unread_bytes,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
