/* test_collector — parsing, canonical formatting (RFC 5952), scope and
 * resolution of one collector address.  Every refusal phrase is pinned here,
 * since the README's message catalogue quotes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exportflows/admission/collector.h"

static void
assert_canonical(const char *text, const char *want)
{
    struct collector c, again;
    char buf[COLLECTOR_TEXT_SIZE];
    const char *why = NULL;

    if (collector_parse(text, &c, &why)) {
        fail_msg("'%s' refused: %s", text, why);
    }
    if (strcmp(collector_format(&c, buf), want)) {
        fail_msg("'%s' formats as '%s', want '%s'", text, buf, want);
    }
    /* The canonical text parses back to the same value. */
    assert_int_equal(collector_parse(buf, &again, &why), 0);
    assert_true(collector_equal(&c, &again));
}

static void
assert_refused(const char *text, const char *want_why)
{
    struct collector c;
    const char *why = NULL;

    memset(&c, 0x5a, sizeof c);
    if (collector_parse(text, &c, &why) != -EINVAL) {
        fail_msg("'%s' accepted", text);
    }
    if (!why || strcmp(why, want_why)) {
        fail_msg("'%s': got '%s', want '%s'", text, why ? why : "(null)", want_why);
    }
    assert_int_equal(c.port, 0x5a5a);   /* untouched on failure */
}

static void
test_collector_parse_forms(void **state)
{
    struct collector c;

    assert_int_equal(collector_parse("172.30.158.150:2056", &c, NULL), 0);
    assert_int_equal(c.kind, COLLECTOR_IPV4);
    assert_int_equal(c.port, 2056);
    assert_int_equal(c.addr[0], 172);
    assert_int_equal(c.addr[3], 150);
    assert_int_equal(c.addr[4], 0);
    assert_int_equal(collector_parse("[fd00::5]:4739", &c, NULL), 0);
    assert_int_equal(c.kind, COLLECTOR_IPV6);
    assert_int_equal(c.addr[0], 0xfd);
    assert_int_equal(c.addr[15], 5);
    assert_int_equal(collector_parse(":4739", &c, NULL), 0);
    assert_int_equal(c.kind, COLLECTOR_NODE_IP);
    assert_int_equal(c.port, 4739);
    assert_int_equal(collector_parse("0.0.0.0:1", &c, NULL), 0);
    assert_int_equal(collector_parse("255.255.255.255:65535", &c, NULL), 0);
    assert_int_equal(c.port, 65535);
}

static void
test_collector_canonical_text(void **state)
{
    assert_canonical("172.30.158.150:2056", "172.30.158.150:2056");
    assert_canonical(":1", ":1");
    assert_canonical("[fd00::0002]:2055", "[fd00::2]:2055");
    assert_canonical("[FD00:0:0:0:0:0:0:2]:2055", "[fd00::2]:2055");
    /* RFC 5952 4.2.2: a single zero group is not compressed. */
    assert_canonical("[2001:db8:0:1:1:1:1:1]:1", "[2001:db8:0:1:1:1:1:1]:1");
    /* 4.2.3: the longest run, the first on a tie. */
    assert_canonical("[2001:db8:0:0:1:0:0:1]:1", "[2001:db8::1:0:0:1]:1");
    assert_canonical("[1:0:0:2:0:0:0:3]:1", "[1:0:0:2::3]:1");
    assert_canonical("[2001:0db8:0000:0000:0000:0000:0002:0001]:1", "[2001:db8::2:1]:1");
    assert_canonical("[::]:1", "[::]:1");
    assert_canonical("[::1]:1", "[::1]:1");
    assert_canonical("[1::]:1", "[1::]:1");
    assert_canonical("[1:2:3:4:5:6:7::]:1", "[1:2:3:4:5:6:7:0]:1");
    /* IPv4-mapped: dotted tail (RFC 5952 section 5); IPv4-compatible: not
     * (glibc's inet_ntop would print ::0.2.0.3). */
    assert_canonical("[::ffff:0a00:0001]:1", "[::ffff:10.0.0.1]:1");
    assert_canonical("[::FFFF:1.2.3.4]:1", "[::ffff:1.2.3.4]:1");
    assert_canonical("[::ffff:0.0.0.0]:1", "[::ffff:0.0.0.0]:1");
    assert_canonical("[::2:3]:1", "[::2:3]:1");
    assert_canonical("[::1.2.3.4]:1", "[::102:304]:1");
    assert_canonical("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void
test_collector_refusals(void **state)
{
    /* Whole-text checks. */
    assert_refused("", "must not be empty");
    assert_refused("1111111111111111111111111111111111111111111111111111111111111111:1",
                   "must be at most 64 characters");
    assert_refused("1.2.3.4: 80", "must not contain white space");
    assert_refused("1.2.3.4:80\r", "must not contain white space");
    assert_refused("1.2.3.4:8\x01", "must not contain control characters");
    assert_refused("1.2.3.4:8\x7f", "must not contain control characters");
    assert_refused("h\xc3\xb6st:80", "must contain only ASCII characters");
    /* Ports. */
    assert_refused("1.2.3.4:70000", "port must be between 1 and 65535");
    assert_refused("1.2.3.4:0", "port must be between 1 and 65535");
    assert_refused("1.2.3.4:99999999999999999999999", "port must be between 1 and 65535");
    assert_refused("1.2.3.4:080", "port must not have leading zeros");
    assert_refused("1.2.3.4:00", "port must not have leading zeros");
    assert_refused("1.2.3.4:-80", "port must not have a sign");
    assert_refused("1.2.3.4:+80", "port must not have a sign");
    assert_refused("1.2.3.4:8o", "port must be a decimal number");
    assert_refused("1.2.3.4:0x50", "port must be a decimal number");
    assert_refused("1.2.3.4:", "port is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    assert_refused("1.2.3.4", "port is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    assert_refused(":", "port is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    assert_refused("[fd00::1]", "port is missing: use [IPv6]:PORT");
    assert_refused("[fd00::1]80", "port is missing: use [IPv6]:PORT");
    /* IPv4. */
    assert_refused("010.1.2.3:80", "IPv4 octets must not have leading zeros");
    assert_refused("1.2.3.00:80", "IPv4 octets must not have leading zeros");
    assert_refused("256.1.2.3:80", "IPv4 octets must be between 0 and 255");
    assert_refused("1.2.3.1000:80", "IPv4 octets must be between 0 and 255");
    assert_refused("1.2.3:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused("1.2.3.4.5:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused("1..3.4:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused(".1.2.3:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused("1.2.3.4.:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused("16909060:80", "invalid IPv4 address: expected 4 decimal octets");
    assert_refused("collector.example.com:80", "host names are not allowed: use an IP address");
    assert_refused("0x7f.0.0.1:80", "host names are not allowed: use an IP address");
    assert_refused("1.2.3.4:80:90", "IPv6 addresses must be in brackets: use [IPv6]:PORT");
    /* IPv6. */
    assert_refused("fd00::1:80", "IPv6 addresses must be in brackets: use [IPv6]:PORT");
    assert_refused("[fe80::1%eth0]:80", "IPv6 zone ids are not allowed");
    assert_refused("[fd00::1:80", "missing ']' after the IPv6 address");
    assert_refused("[]:80", "invalid IPv6 address");
    assert_refused("[fd00::g]:80", "invalid IPv6 address");
    assert_refused("[1.2.3.4]:80", "invalid IPv6 address");
    assert_refused("[1:2:3:4:5:6:7:8:9]:80", "invalid IPv6 address");
    assert_refused("[1::2::3]:80", "invalid IPv6 address");
    assert_refused("[00000::1]:80", "invalid IPv6 address");
    /* glibc's inet_pton refuses leading zeros in an embedded IPv4 part. */
    assert_refused("[::ffff:01.2.3.4]:80", "invalid IPv6 address");
    assert_refused("[0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1]:80",
                   "invalid IPv6 address");
}

static void
test_collector_parse_ip(void **state)
{
    struct collector c;
    char buf[COLLECTOR_TEXT_SIZE];
    const char *why = NULL;

    assert_int_equal(collector_parse_ip("10.0.0.7", &c, &why), 0);
    assert_int_equal(c.kind, COLLECTOR_IPV4);
    assert_int_equal(c.port, 0);
    assert_string_equal(collector_format(&c, buf), "10.0.0.7");
    assert_int_equal(collector_parse_ip("FD00::0007", &c, &why), 0);
    assert_int_equal(c.kind, COLLECTOR_IPV6);
    assert_string_equal(collector_format(&c, buf), "fd00::7");
    assert_int_equal(collector_parse_ip("[fd00::7]", &c, &why), -EINVAL);
    assert_string_equal(why, "invalid IPv6 address");
    assert_int_equal(collector_parse_ip("10.0.0.7:80", &c, &why), -EINVAL);
    assert_string_equal(why, "invalid IPv6 address");
    assert_int_equal(collector_parse_ip("node-1", &c, &why), -EINVAL);
    assert_string_equal(why, "host names are not allowed: use an IP address");
    assert_int_equal(collector_parse_ip("010.0.0.7", &c, &why), -EINVAL);
    assert_string_equal(why, "IPv4 octets must not have leading zeros");
    assert_int_equal(collector_parse_ip("fe80::1%eth0", &c, &why), -EINVAL);
    assert_string_equal(why, "IPv6 zone ids are not allowed");
    assert_int_equal(collector_parse_ip("", &c, &why), -EINVAL);
    assert_string_equal(why, "must not be empty");
}

static enum collector_scope
scope_of(const char *text)
{
    struct collector c;

    if (collector_parse(text, &c, NULL)) {
        fail_msg("'%s' refused", text);
    }
    return collector_scope(&c);
}

static void
test_collector_scope(void **state)
{
    assert_int_equal(scope_of("10.0.0.1:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of(":1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("[fd00::1]:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("0.0.0.0:1"), COLLECTOR_SCOPE_UNSPECIFIED);
    assert_int_equal(scope_of("[::]:1"), COLLECTOR_SCOPE_UNSPECIFIED);
    assert_int_equal(scope_of("[::ffff:0.0.0.0]:1"), COLLECTOR_SCOPE_UNSPECIFIED);
    assert_int_equal(scope_of("255.255.255.255:1"), COLLECTOR_SCOPE_BROADCAST);
    assert_int_equal(scope_of("224.0.0.1:1"), COLLECTOR_SCOPE_MULTICAST);
    assert_int_equal(scope_of("239.255.255.255:1"), COLLECTOR_SCOPE_MULTICAST);
    assert_int_equal(scope_of("240.0.0.1:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("223.255.255.255:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("[ff02::1]:1"), COLLECTOR_SCOPE_MULTICAST);
    assert_int_equal(scope_of("127.0.0.1:1"), COLLECTOR_SCOPE_LOOPBACK);
    assert_int_equal(scope_of("127.255.0.9:1"), COLLECTOR_SCOPE_LOOPBACK);
    assert_int_equal(scope_of("[::1]:1"), COLLECTOR_SCOPE_LOOPBACK);
    assert_int_equal(scope_of("[::ffff:127.0.0.1]:1"), COLLECTOR_SCOPE_LOOPBACK);
    assert_int_equal(scope_of("[::2]:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("169.254.0.1:1"), COLLECTOR_SCOPE_LINK_LOCAL);
    assert_int_equal(scope_of("169.255.0.1:1"), COLLECTOR_SCOPE_UNICAST);
    assert_int_equal(scope_of("[fe80::1]:1"), COLLECTOR_SCOPE_LINK_LOCAL);
    assert_int_equal(scope_of("[febf::1]:1"), COLLECTOR_SCOPE_LINK_LOCAL);
    assert_int_equal(scope_of("[fec0::1]:1"), COLLECTOR_SCOPE_UNICAST);
    assert_string_equal(collector_scope_name(COLLECTOR_SCOPE_UNSPECIFIED),
                        "the unspecified address");
    assert_string_equal(collector_scope_name(COLLECTOR_SCOPE_BROADCAST),
                        "the broadcast address");
    assert_string_equal(collector_scope_name(COLLECTOR_SCOPE_MULTICAST),
                        "a multicast address");
    assert_string_equal(collector_scope_name(COLLECTOR_SCOPE_LOOPBACK),
                        "a loopback address");
    assert_string_equal(collector_scope_name(COLLECTOR_SCOPE_LINK_LOCAL),
                        "a link-local address");
}

static void
test_collector_equal_and_resolve(void **state)
{
    struct collector a, b, node4, node6, r;
    char buf[COLLECTOR_TEXT_SIZE];

    assert_int_equal(collector_parse(":2055", &a, NULL), 0);
    assert_int_equal(collector_parse(":2055", &b, NULL), 0);
    assert_true(collector_equal(&a, &b));
    assert_int_equal(collector_parse(":2056", &b, NULL), 0);
    assert_false(collector_equal(&a, &b));
    assert_int_equal(collector_parse("[::ffff:10.0.0.1]:2055", &b, NULL), 0);
    assert_int_equal(collector_parse("10.0.0.1:2055", &r, NULL), 0);
    assert_false(collector_equal(&b, &r));  /* different families */

    assert_int_equal(collector_parse_ip("10.0.0.9", &node4, NULL), 0);
    assert_int_equal(collector_parse_ip("fd00::9", &node6, NULL), 0);
    r = collector_resolve(&a, &node4);
    assert_string_equal(collector_format(&r, buf), "10.0.0.9:2055");
    r = collector_resolve(&a, &node6);
    assert_string_equal(collector_format(&r, buf), "[fd00::9]:2055");
    r = collector_resolve(&b, &node4);
    assert_true(collector_equal(&r, &b));   /* not a node-IP collector */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collector_parse_forms),
        cmocka_unit_test(test_collector_canonical_text),
        cmocka_unit_test(test_collector_refusals),
        cmocka_unit_test(test_collector_parse_ip),
        cmocka_unit_test(test_collector_scope),
        cmocka_unit_test(test_collector_equal_and_resolve),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
