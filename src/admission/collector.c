/* collector — parse, canonicalise, classify and format one collector address.
 *
 * The parser is hand-written rather than built on getaddrinfo() or inet_aton():
 * those accept host names, octal and hex octets ("010.1.2.3" is 8.1.2.3 to
 * inet_aton) and shortened forms ("10.1"), which the nodes then treat differently.
 * inet_pton(AF_INET6) is used for the IPv6 text itself; its embedded IPv4 part
 * refuses leading zeros on glibc, which the unit tests check.  Every refusal
 * comes with a static phrase, so parsing never allocates. */
#include "exportflows/admission/collector.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exportflows/base/numparse.h"

/* Longest IPv6 text inet_pton() can accept (INET6_ADDRSTRLEN - 1). */
#define IPV6_TEXT_MAX 45

static int
refuse(const char **why, const char *phrase)
{
    if (why) {
        *why = phrase;
    }
    return -EINVAL;
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Refuses white space, control and non-ASCII characters anywhere in 'text'
 * before the structure is looked at, so the phrase names the real problem. */
static int
check_characters(const char *text, size_t len, const char **why)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = text[i];

        if (c > 0x20 && c < 0x7f) {
            continue;           /* printable ASCII: all a valid collector holds */
        }
        if (is_space(c)) {
            return refuse(why, "must not contain white space");
        }
        if (c < 0x20 || c == 0x7f) {
            return refuse(why, "must not contain control characters");
        }
        if (c >= 0x80) {
            return refuse(why, "must contain only ASCII characters");
        }
    }
    return 0;
}

static int
parse_port(const char *text, size_t len, uint16_t *port, const char **why)
{
    uint64_t value;
    int error;

    if (len == 0) {
        return refuse(why, "port is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    }
    if (text[0] == '+' || text[0] == '-') {
        return refuse(why, "port must not have a sign");
    }
    error = numparse_u64_n(text, len, 1, 65535, &value);
    if (error == -ERANGE) {
        return refuse(why, "port must be between 1 and 65535");
    }
    if (error && text[0] == '0' && strspn(text, "0123456789") >= len) {
        return refuse(why, "port must not have leading zeros");
    }
    if (error) {
        return refuse(why, "port must be a decimal number");
    }
    *port = (uint16_t) value;
    return 0;
}

/* One IPv4 octet: 1 to 3 digits, no leading zero, at most 255.  Advances '*p'. */
static int
parse_octet(const char **p, const char *end, uint8_t *octet, const char **why)
{
    const char *s = *p;
    unsigned value = 0;
    size_t n = 0;

    while (s + n < end && n < 4 && s[n] >= '0' && s[n] <= '9') {
        value = value * 10 + (unsigned) (s[n] - '0');
        n++;
    }
    if (n == 0) {
        return refuse(why, "invalid IPv4 address: expected 4 decimal octets");
    }
    if (n > 1 && s[0] == '0') {
        return refuse(why, "IPv4 octets must not have leading zeros");
    }
    if (value > 255) {
        return refuse(why, "IPv4 octets must be between 0 and 255");
    }
    *octet = (uint8_t) value;
    *p = s + n;
    return 0;
}

/* Strict dotted quad over 'text'..'text + len'. */
static int
parse_ipv4(const char *text, size_t len, uint8_t addr[4], const char **why)
{
    const char *p = text;
    const char *end = text + len;
    uint8_t octets[4];
    size_t dots = 0;

    for (size_t i = 0; i < len; i++) {
        dots += text[i] == '.';
    }
    if (dots != 3) {
        return refuse(why, "invalid IPv4 address: expected 4 decimal octets");
    }
    for (int i = 0; i < 4; i++) {
        int error = parse_octet(&p, end, &octets[i], why);

        if (error) {
            return error;
        }
        if (i < 3 && (p >= end || *p++ != '.')) {
            return refuse(why, "invalid IPv4 address: expected 4 decimal octets");
        }
    }
    if (p != end) {
        return refuse(why, "invalid IPv4 address: expected 4 decimal octets");
    }
    memcpy(addr, octets, 4);
    return 0;
}

static int
parse_ipv6(const char *text, size_t len, uint8_t addr[16], const char **why)
{
    char buf[IPV6_TEXT_MAX + 1];

    if (memchr(text, '%', len)) {
        return refuse(why, "IPv6 zone ids are not allowed");
    }
    if (len == 0 || len > IPV6_TEXT_MAX) {
        return refuse(why, "invalid IPv6 address");
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1) {
        return refuse(why, "invalid IPv6 address");
    }
    return 0;
}

/* Tells apart the ways a bare host can fail to be an IPv4 address, so that the
 * user hears "host names are not allowed" rather than "invalid IPv4 address". */
static int
parse_host_ipv4(const char *text, size_t len, uint8_t addr[4], const char **why)
{
    if (len == 0) {
        return refuse(why, "address is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    }
    for (size_t i = 0; i < len; i++) {
        if ((text[i] < '0' || text[i] > '9') && text[i] != '.') {
            return refuse(why, "host names are not allowed: use an IP address");
        }
    }
    return parse_ipv4(text, len, addr, why);
}

static int
parse_bracketed(const char *text, size_t len, struct collector *c,
                const char **why)
{
    const char *close = memchr(text, ']', len);
    size_t host_len;
    int error;

    if (!close) {
        return refuse(why, "missing ']' after the IPv6 address");
    }
    host_len = (size_t) (close - text - 1);
    error = parse_ipv6(text + 1, host_len, c->addr, why);
    if (error) {
        return error;
    }
    if (close + 1 == text + len || close[1] != ':') {
        return refuse(why, "port is missing: use [IPv6]:PORT");
    }
    c->kind = COLLECTOR_IPV6;
    return parse_port(close + 2, len - host_len - 3, &c->port, why);
}

static int
parse_unbracketed(const char *text, size_t len, struct collector *c,
                  const char **why)
{
    const char *colon = memchr(text, ':', len);
    size_t host_len;
    int error;

    if (!colon) {
        return refuse(why, "port is missing: use IP:PORT, [IPv6]:PORT or :PORT");
    }
    if (memchr(colon + 1, ':', len - (size_t) (colon + 1 - text))) {
        return refuse(why, "IPv6 addresses must be in brackets: use [IPv6]:PORT");
    }
    host_len = (size_t) (colon - text);
    if (host_len == 0) {
        c->kind = COLLECTOR_NODE_IP;
        return parse_port(colon + 1, len - 1, &c->port, why);
    }
    error = parse_host_ipv4(text, host_len, c->addr, why);
    if (error) {
        return error;
    }
    c->kind = COLLECTOR_IPV4;
    return parse_port(colon + 1, len - host_len - 1, &c->port, why);
}

/* Rejects what no form accepts, whatever its structure. */
static int
check_text(const char *text, size_t *len, const char **why)
{
    *len = strnlen(text, COLLECTOR_INPUT_MAX + 1);
    if (*len == 0) {
        return refuse(why, "must not be empty");
    }
    if (*len > COLLECTOR_INPUT_MAX) {
        return refuse(why, "must be at most 64 characters");
    }
    return check_characters(text, *len, why);
}

int
collector_parse(const char *text, struct collector *ret, const char **why)
{
    struct collector c = { .kind = COLLECTOR_IPV4 };
    size_t len;
    int error;

    error = check_text(text, &len, why);
    if (error) {
        return error;
    }
    error = text[0] == '[' ? parse_bracketed(text, len, &c, why)
                           : parse_unbracketed(text, len, &c, why);
    if (error) {
        return error;
    }
    *ret = c;
    return 0;
}

int
collector_parse_ip(const char *text, struct collector *ret, const char **why)
{
    struct collector c = { .kind = COLLECTOR_IPV4 };
    size_t len;
    int error;

    error = check_text(text, &len, why);
    if (error) {
        return error;
    }
    if (memchr(text, ':', len)) {
        c.kind = COLLECTOR_IPV6;
        error = parse_ipv6(text, len, c.addr, why);
    } else {
        error = parse_host_ipv4(text, len, c.addr, why);
    }
    if (error) {
        return error;
    }
    *ret = c;
    return 0;
}

static bool
ipv6_is_v4mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

    return !memcmp(a, prefix, sizeof prefix);
}

/* The longest run of two or more zero groups among the first 'words', the first
 * one on a tie (RFC 5952 4.2.2/4.2.3).  '*start' is -1 when there is none. */
static void
longest_zero_run(const uint16_t g[8], int words, int *start, int *len)
{
    *start = -1;
    *len = 1;
    for (int i = 0; i < words;) {
        int n = 0;

        while (i + n < words && g[i + n] == 0) {
            n++;
        }
        if (n > *len) {
            *start = i;
            *len = n;
        }
        i += n ? n : 1;
    }
}

/* RFC 5952 text written here rather than with inet_ntop(): glibc prints
 * IPv4-compatible addresses such as ::2:3 as "::0.2.0.3", which RFC 5952 does
 * not ask for.  Only IPv4-mapped addresses (::ffff:a.b.c.d) use the dotted
 * tail, as RFC 5952 section 5 recommends. */
static size_t
format_ipv6(const uint8_t a[16], char *buf, size_t size)
{
    uint16_t g[8];
    int start, run, n = 0;
    int words = ipv6_is_v4mapped(a) ? 6 : 8;

    for (int i = 0; i < 8; i++) {
        g[i] = (uint16_t) (a[2 * i] << 8 | a[2 * i + 1]);
    }
    longest_zero_run(g, words, &start, &run);
    for (int i = 0; i < words; i++) {
        if (i == start) {
            n += snprintf(buf + n, size - (size_t) n, "::");
            i += run - 1;
            continue;
        }
        n += snprintf(buf + n, size - (size_t) n, "%s%x",
                      i && i != start + run ? ":" : "", g[i]);
    }
    if (words == 6) {
        n += snprintf(buf + n, size - (size_t) n, "%s%u.%u.%u.%u",
                      start + run == 6 ? "" : ":", a[12], a[13], a[14], a[15]);
    }
    return (size_t) n;
}

char *
collector_format(const struct collector *c, char buf[COLLECTOR_TEXT_SIZE])
{
    size_t n = 0;

    if (c->kind == COLLECTOR_IPV4) {
        n = (size_t) snprintf(buf, COLLECTOR_TEXT_SIZE, "%u.%u.%u.%u",
                              c->addr[0], c->addr[1], c->addr[2], c->addr[3]);
    } else if (c->kind == COLLECTOR_IPV6) {
        bool brackets = c->port != 0;

        if (brackets) {
            buf[n++] = '[';
        }
        n += format_ipv6(c->addr, buf + n, COLLECTOR_TEXT_SIZE - n);
        if (brackets) {
            buf[n++] = ']';
        }
    }
    buf[n] = '\0';
    if (c->port) {
        snprintf(buf + n, COLLECTOR_TEXT_SIZE - n, ":%u", c->port);
    }
    return buf;
}

bool
collector_equal(const struct collector *a, const struct collector *b)
{
    uint64_t a_addr[2], b_addr[2];

    /* Two word compares rather than a memcmp() call: flowspec compares every
     * collector with those of the other protocols (rule 7). */
    memcpy(a_addr, a->addr, sizeof a_addr);
    memcpy(b_addr, b->addr, sizeof b_addr);
    return a->kind == b->kind && a->port == b->port
           && a_addr[0] == b_addr[0] && a_addr[1] == b_addr[1];
}

static enum collector_scope
ipv4_scope(const uint8_t a[4])
{
    static const uint8_t zero[4], ones[4] = { 255, 255, 255, 255 };

    if (!memcmp(a, zero, 4)) {
        return COLLECTOR_SCOPE_UNSPECIFIED;
    }
    if (!memcmp(a, ones, 4)) {
        return COLLECTOR_SCOPE_BROADCAST;
    }
    if ((a[0] & 0xf0) == 224) {
        return COLLECTOR_SCOPE_MULTICAST;
    }
    if (a[0] == 127) {
        return COLLECTOR_SCOPE_LOOPBACK;
    }
    if (a[0] == 169 && a[1] == 254) {
        return COLLECTOR_SCOPE_LINK_LOCAL;
    }
    return COLLECTOR_SCOPE_UNICAST;
}

/* An IPv4-mapped address reaches the IPv4 host it embeds, so it has that
 * host's scope: [::ffff:127.0.0.1] is a loopback address. */
static enum collector_scope
ipv6_scope(const uint8_t a[16])
{
    static const uint8_t zero[16];

    if (ipv6_is_v4mapped(a)) {
        return ipv4_scope(a + 12);
    }
    if (!memcmp(a, zero, 15)) {
        return a[15] == 0 ? COLLECTOR_SCOPE_UNSPECIFIED
               : a[15] == 1 ? COLLECTOR_SCOPE_LOOPBACK : COLLECTOR_SCOPE_UNICAST;
    }
    if (a[0] == 0xff) {
        return COLLECTOR_SCOPE_MULTICAST;
    }
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
        return COLLECTOR_SCOPE_LINK_LOCAL;
    }
    return COLLECTOR_SCOPE_UNICAST;
}

enum collector_scope
collector_scope(const struct collector *c)
{
    switch (c->kind) {
    case COLLECTOR_IPV4:
        return ipv4_scope(c->addr);
    case COLLECTOR_IPV6:
        return ipv6_scope(c->addr);
    case COLLECTOR_NODE_IP:
    default:
        return COLLECTOR_SCOPE_UNICAST;
    }
}

const char *
collector_scope_name(enum collector_scope scope)
{
    switch (scope) {
    case COLLECTOR_SCOPE_UNSPECIFIED:
        return "the unspecified address";
    case COLLECTOR_SCOPE_BROADCAST:
        return "the broadcast address";
    case COLLECTOR_SCOPE_MULTICAST:
        return "a multicast address";
    case COLLECTOR_SCOPE_LOOPBACK:
        return "a loopback address";
    case COLLECTOR_SCOPE_LINK_LOCAL:
        return "a link-local address";
    case COLLECTOR_SCOPE_UNICAST:
    default:
        return "a unicast address";
    }
}

struct collector
collector_resolve(const struct collector *c, const struct collector *node_ip)
{
    struct collector r = *c;

    if (c->kind == COLLECTOR_NODE_IP) {
        r.kind = node_ip->kind;
        memcpy(r.addr, node_ip->addr, sizeof r.addr);
    }
    return r;
}
