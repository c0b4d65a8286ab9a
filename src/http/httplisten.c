/* httplisten — see src/http/httplisten.h. */
#include "httplisten.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exportflows/base/ipport.h"

int
httplisten_socket(const char *listen_addr, int *ret_fd, uint16_t *ret_port,
                  struct errmsg *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, r;

    if (!listen_addr) {
        return errmsg_set(err, -EINVAL, "no listen address");
    }
    if ((r = ipport_parse(listen_addr, 0, &ss, &len, err)) < 0) {
        return errmsg_prefix(err, r, "invalid listen address '%s'", listen_addr);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        return errmsg_set(err, r, "cannot create a socket for '%s': %s", listen_addr,
                          strerror(-r));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 128) < 0) {
        r = -errno;
        errmsg_set(err, r, "cannot listen on '%s': %s", listen_addr, strerror(-r));
        close(fd);
        return r;
    }
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
        r = -errno;
        close(fd);
        return errmsg_set(err, r, "cannot read the bound address: %s", strerror(-r));
    }
    *ret_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                              : ((struct sockaddr_in6 *) &ss)->sin6_port);
    *ret_fd = fd;
    return 0;
}
