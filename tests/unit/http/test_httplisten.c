/* Unit tests for httplisten (private to httpserver): the listening socket from
 * an "IP:PORT" address, its flags, and the errors with their messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../../src/http/httplisten.h"

static void
test_httplisten_socket_binds_a_free_port(void **unused)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof sin;
    struct errmsg err = { "" };
    uint16_t port = 0;
    int fd = -1, client;

    (void) unused;
    if (httplisten_socket("127.0.0.1:0", &fd, &port, &err) < 0) {
        fail_msg("httplisten_socket: %s", err.text);
    }
    assert_true(port > 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    assert_int_equal(ntohs(sin.sin_port), port);
    assert_int_equal(sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    /* It listens: a client connects. */
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(client, (struct sockaddr *) &sin, sizeof sin), 0);
    close(client);
    close(fd);
}

static void
test_httplisten_socket_takes_ipv6(void **unused)
{
    struct errmsg err = { "" };
    uint16_t port = 0;
    int fd = -1, r;

    (void) unused;
    r = httplisten_socket("[::1]:0", &fd, &port, &err);
    if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL) {
        skip();                                 /* no IPv6 loopback here */
    }
    assert_int_equal(r, 0);
    assert_true(port > 0);
    close(fd);
}

static void
test_httplisten_socket_refuses_bad_addresses(void **unused)
{
    static const char *const bad[] = { "", "127.0.0.1", "localhost:80", "1.2.3.4:99999",
                                       "[::1:80", "127.0.0.1:-1" };
    struct errmsg err = { "" };
    uint16_t port = 7;
    int fd = 7;

    (void) unused;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (httplisten_socket(bad[i], &fd, &port, &err) != -EINVAL) {
            fail_msg("accepted '%s'", bad[i]);
        }
        assert_non_null(strstr(err.text, "invalid listen address"));
    }
    assert_int_equal(httplisten_socket(NULL, &fd, &port, &err), -EINVAL);
    assert_string_equal(err.text, "no listen address");
    assert_int_equal(fd, 7);
    assert_int_equal(port, 7);
}

static void
test_httplisten_socket_says_when_the_port_is_taken(void **unused)
{
    struct errmsg err = { "" };
    char addr[32];
    uint16_t port = 0, port2 = 0;
    int fd = -1, fd2 = -1;

    (void) unused;
    assert_int_equal(httplisten_socket("127.0.0.1:0", &fd, &port, &err), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    assert_int_equal(httplisten_socket(addr, &fd2, &port2, &err), -EADDRINUSE);
    assert_non_null(strstr(err.text, "cannot listen on"));
    assert_non_null(strstr(err.text, addr));
    assert_int_equal(fd2, -1);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httplisten_socket_binds_a_free_port),
        cmocka_unit_test(test_httplisten_socket_takes_ipv6),
        cmocka_unit_test(test_httplisten_socket_refuses_bad_addresses),
        cmocka_unit_test(test_httplisten_socket_says_when_the_port_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
