/* ipport — see include/exportflows/base/ipport.h. */
#include "exportflows/base/ipport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "exportflows/base/numparse.h"

int
ipport_parse(const char *text, uint16_t min_port, struct sockaddr_storage *ret,
             socklen_t *ret_len, struct errmsg *err)
{
    const char *colon = strrchr(text, ':'), *start = text;
    bool v6 = text[0] == '[';
    char host[INET6_ADDRSTRLEN + 1];
    size_t host_len;
    uint64_t port;

    if (!colon || numparse_u64(colon + 1, min_port, 65535, &port) < 0) {
        return errmsg_set(err, -EINVAL, "want IP:PORT");
    }
    host_len = (size_t) (colon - text);
    if (v6) {
        if (host_len < 2 || colon[-1] != ']') {
            return errmsg_set(err, -EINVAL, "want [IPv6]:PORT");
        }
        start++;
        host_len -= 2;
    }
    if (host_len == 0 || host_len >= sizeof host) {
        return errmsg_set(err, -EINVAL, v6 ? "want [IPv6]:PORT" : "want IP:PORT");
    }
    memcpy(host, start, host_len);
    host[host_len] = '\0';
    memset(ret, 0, sizeof *ret);
    if (!v6) {
        struct sockaddr_in *sin = (struct sockaddr_in *) ret;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        *ret_len = sizeof *sin;
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            return 0;
        }
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ret;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        *ret_len = sizeof *sin6;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            return 0;
        }
    }
    return errmsg_set(err, -EINVAL, "'%s' is not an IP address", host);
}
