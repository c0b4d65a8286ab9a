/* Unit tests for ipport: IPv4 and bracketed IPv6 with a port into a socket
 * address, the port range, and what is refused with which message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "exportflows/base/ipport.h"

static void
test_ipport_parses_ipv4(void **state)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    socklen_t len = 0;

    assert_int_equal(ipport_parse("127.0.0.1:6640", 1, &ss, &len, NULL), 0);
    assert_int_equal(len, sizeof *sin);
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 6640);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
}

static void
test_ipport_parses_bracketed_ipv6(void **state)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    struct in6_addr want;
    socklen_t len = 0;

    assert_int_equal(ipport_parse("[fd00::5]:8443", 1, &ss, &len, NULL), 0);
    assert_int_equal(len, sizeof *sin6);
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 8443);
    assert_int_equal(inet_pton(AF_INET6, "fd00::5", &want), 1);
    assert_memory_equal(&sin6->sin6_addr, &want, sizeof want);
}

static void
test_ipport_port_zero_only_when_allowed(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct errmsg err;

    assert_int_equal(ipport_parse("0.0.0.0:0", 0, &ss, &len, &err), 0);
    assert_int_equal(ipport_parse("0.0.0.0:0", 1, &ss, &len, &err), -EINVAL);
    assert_string_equal(err.text, "want IP:PORT");
    assert_int_equal(ipport_parse("0.0.0.0:65536", 0, &ss, &len, &err), -EINVAL);
    assert_int_equal(ipport_parse("0.0.0.0:065", 0, &ss, &len, &err), -EINVAL);
}

static void
test_ipport_refuses_with_a_reason(void **state)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        { "127.0.0.1", "want IP:PORT" },
        { ":80", "want IP:PORT" },
        { "localhost:80", "'localhost' is not an IP address" },
        { "010.0.0.1:80", "'010.0.0.1' is not an IP address" },
        { "::1:80", "'::1' is not an IP address" },
        { "[::1:80", "want [IPv6]:PORT" },
        { "[]:80", "want [IPv6]:PORT" },
        { "[10.0.0.1]:80", "'10.0.0.1' is not an IP address" },
        { "1.2.3.4:80:90", "'1.2.3.4:80' is not an IP address" },
        { "[fd00::1]:", "want IP:PORT" },
    };
    struct sockaddr_storage ss;
    socklen_t len;
    struct errmsg err;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ipport_parse(bad[i].text, 0, &ss, &len, &err), -EINVAL);
        assert_string_equal(err.text, bad[i].why);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipport_parses_ipv4),
        cmocka_unit_test(test_ipport_parses_bracketed_ipv6),
        cmocka_unit_test(test_ipport_port_zero_only_when_allowed),
        cmocka_unit_test(test_ipport_refuses_with_a_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
