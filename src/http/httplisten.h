/* httplisten — the HTTP server's listening socket, from an "IP:PORT" address.
 *
 * Private to httpserver.  The socket is made here rather than by libmicrohttpd
 * so that a failure says why ("address in use") and the descriptor is
 * close-on-exec. */
#ifndef EXPORTFLOWS_HTTPLISTEN_H
#define EXPORTFLOWS_HTTPLISTEN_H

#include <stdint.h>

#include "exportflows/base/errmsg.h"

/* Binds and listens on 'listen_addr' ("IP:PORT" or "[IPv6]:PORT"; port 0 asks
 * the kernel for a free one).  Writes the non-blocking, close-on-exec socket,
 * which the caller closes, to '*ret_fd' and the bound port to '*ret_port'.
 * -EINVAL for a malformed address, -errno when the socket cannot be made; with
 * a message either way. */
int httplisten_socket(const char *listen_addr, int *ret_fd, uint16_t *ret_port,
                      struct errmsg *err);

#endif
