/* collector — one flow collector address: parse, canonicalise, classify, format.
 *
 * Accepted text (rule 4 of DESIGN.md "Validation rules"):
 *   A.B.C.D:PORT     IPv4, decimal octets 0..255 without leading zeros
 *   [IPv6]:PORT      any RFC 4291 text form, brackets required, no zone id
 *   :PORT            "this node's primary IP", resolved by the applier
 * PORT is decimal 1..65535 without sign or leading zeros.  No white space, no host
 * names, at most COLLECTOR_INPUT_MAX characters.
 *
 * A 'struct collector' is a plain value: copy it freely, nothing to free. */
#ifndef EXPORTFLOWS_COLLECTOR_H
#define EXPORTFLOWS_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

/* Longest text collector_parse() accepts ("[" + 45-char IPv6 + "]:" + 5-digit port
 * rounded up); longer text is refused before any other check. */
#define COLLECTOR_INPUT_MAX 64

/* Buffer size for collector_format(): "[" + 39 + "]:" + 5 + NUL fits. */
#define COLLECTOR_TEXT_SIZE 48

enum collector_kind {
    COLLECTOR_IPV4,
    COLLECTOR_IPV6,
    COLLECTOR_NODE_IP,          /* ":PORT" */
};

struct collector {
    enum collector_kind kind;
    uint8_t addr[16];           /* network order; IPv4 uses addr[0..3], rest zero */
    uint16_t port;              /* 0 only for a bare address from collector_parse_ip() */
};

/* What kind of destination the address is; only UNICAST is unremarkable. */
enum collector_scope {
    COLLECTOR_SCOPE_UNICAST,
    COLLECTOR_SCOPE_UNSPECIFIED,    /* 0.0.0.0, :: — an error */
    COLLECTOR_SCOPE_BROADCAST,      /* 255.255.255.255 — an error */
    COLLECTOR_SCOPE_MULTICAST,      /* 224.0.0.0/4, ff00::/8 — a warning */
    COLLECTOR_SCOPE_LOOPBACK,       /* 127.0.0.0/8, ::1 — a warning */
    COLLECTOR_SCOPE_LINK_LOCAL,     /* 169.254.0.0/16, fe80::/10 — a warning */
};

/* Parses 'text' into '*ret'.  Returns 0, or -EINVAL with '*why' pointing at a static
 * lowercase phrase suitable as the detail of a Kubernetes field error, for example
 * "port must be between 1 and 65535".  '*ret' is written only on success. */
int collector_parse(const char *text, struct collector *ret, const char **why);

/* Parses a bare IPv4 or IPv6 address without brackets or port (the applier's
 * --node-ip).  Same return convention as collector_parse(); port is 0. */
int collector_parse_ip(const char *text, struct collector *ret, const char **why);

/* Writes the canonical text of 'c' into 'buf': dotted IPv4, RFC 5952 IPv6 in
 * brackets, ":PORT" for the node IP; no port when it is 0.  Returns 'buf'. */
char *collector_format(const struct collector *c, char buf[COLLECTOR_TEXT_SIZE]);

bool collector_equal(const struct collector *a, const struct collector *b);

enum collector_scope collector_scope(const struct collector *c);

/* A lowercase noun phrase for a non-unicast scope ("a multicast address"). */
const char *collector_scope_name(enum collector_scope scope);

/* Returns 'c' with a COLLECTOR_NODE_IP address replaced by 'node_ip' (an address
 * from collector_parse_ip()); other collectors are returned unchanged. */
struct collector collector_resolve(const struct collector *c,
                                   const struct collector *node_ip);

#endif
