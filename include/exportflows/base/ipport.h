/* ipport — "IP:PORT" text to a socket address.
 *
 * The one parser of the addresses this program connects to or listens on
 * (OVSDB's tcp:IP:PORT remotes, the HTTP listen addresses): a literal IPv4
 * address or a bracketed IPv6 one, a colon and a decimal port; never a host
 * name, so nothing is looked up.  Collectors, which carry their own rules and
 * messages for users, are parsed by collector. */
#ifndef EXPORTFLOWS_IPPORT_H
#define EXPORTFLOWS_IPPORT_H

#include <stdint.h>
#include <sys/socket.h>

#include "exportflows/base/errmsg.h"

/* Parses "IP:PORT" or "[IPv6]:PORT", the port in 'min_port'..65535 (0 lets a
 * listener ask the kernel for a free one), into '*ret' (zeroed first) and its
 * length '*ret_len'.  -EINVAL with "want IP:PORT", "want [IPv6]:PORT" or "'HOST'
 * is not an IP address" in 'err' for the caller to prefix with the address. */
int ipport_parse(const char *text, uint16_t min_port, struct sockaddr_storage *ret,
                 socklen_t *ret_len, struct errmsg *err);

#endif
