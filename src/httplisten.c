/* httplisten — see src/httplisten.h. */
#include "httplisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exportflows/numparse.h"

/* "IP:PORT" or "[IPv6]:PORT"; port 0 asks the kernel for a free one. */
static int
parse_listen(const char *listen_addr, struct sockaddr_storage *ss, socklen_t *len,
             struct errmsg *err)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *start = listen_addr;
    size_t host_len;
    uint64_t port;

    if (!listen_addr) {
        return errmsg_set(err, -EINVAL, "no listen address");
    }
    colon = strrchr(listen_addr, ':');
    if (!colon || numparse_u64(colon + 1, 0, 65535, &port) < 0) {
        return errmsg_set(err, -EINVAL, "invalid listen address '%s': want IP:PORT",
                          listen_addr);
    }
    host_len = (size_t) (colon - start);
    if (listen_addr[0] == '[') {
        if (host_len < 2 || colon[-1] != ']') {
            return errmsg_set(err, -EINVAL, "invalid listen address '%s'", listen_addr);
        }
        start++;
        host_len -= 2;
    }
    if (host_len == 0 || host_len >= sizeof host) {
        return errmsg_set(err, -EINVAL, "invalid listen address '%s'", listen_addr);
    }
    memcpy(host, start, host_len);
    host[host_len] = '\0';
    memset(ss, 0, sizeof *ss);
    if (listen_addr[0] != '[') {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        *len = sizeof *sin;
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            return 0;
        }
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        *len = sizeof *sin6;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            return 0;
        }
    }
    return errmsg_set(err, -EINVAL, "invalid listen address '%s': '%s' is not an IP address",
                      listen_addr, host);
}

int
httplisten_socket(const char *listen_addr, int *ret_fd, uint16_t *ret_port,
                  struct errmsg *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, r;

    if ((r = parse_listen(listen_addr, &ss, &len, err)) < 0) {
        return r;
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
