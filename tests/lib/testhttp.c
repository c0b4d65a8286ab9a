/* testhttp — see testhttp.h. */
#include "testhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

bool
testhttp_wait_readable(struct testhttp *s, int fd, int timeout_ms)
{
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { s->quit[0], POLLIN, 0 } };

    return poll(p, 2, timeout_ms) > 0 && !p[1].revents && p[0].revents;
}

void
testhttp_request_line(const char *request, char *line, size_t size)
{
    snprintf(line, size, "%.*s", (int) strcspn(request, "\r"), request);
}

/* The value of header 'name' in the head 'buf', copied to 'out'. */
static void
header(const char *buf, const char *name, char *out, size_t size)
{
    const char *p = buf;
    size_t n = strlen(name);

    out[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            p += n + 1;
            p += strspn(p, " ");
            snprintf(out, size, "%.*s", (int) strcspn(p, "\r"), p);
            return;
        }
    }
}

/* Reads one request; false when the client went away or it is too big. */
static bool
read_request(struct testhttp *s, int fd, char *buf, size_t size)
{
    size_t len = 0, want = 0;
    char *end = NULL, length[32];

    while (len < size - 1 && testhttp_wait_readable(s, fd, TESTHTTP_WAIT_MS)) {
        ssize_t n = read(fd, buf + len, size - 1 - len);

        if (n <= 0) {
            return false;
        }
        len += (size_t) n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            header(buf, "Content-Length", length, sizeof length);
            want = (size_t) (end + 4 - buf) + strtoul(length, NULL, 10);
        }
        if (end && len >= want) {
            return true;
        }
    }
    return false;
}

static void *
run(void *arg)
{
    struct testhttp *s = arg;
    char *buf = malloc(TESTHTTP_REQUEST_MAX);

    while (buf && testhttp_wait_readable(s, s->listen_fd, TESTHTTP_WAIT_MS)) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd >= 0) {
            if (read_request(s, fd, buf, TESTHTTP_REQUEST_MAX)) {
                s->handler(s->ctx, fd, buf);
            }
            close(fd);
        }
    }
    free(buf);
    return NULL;
}

static int
listen_loopback(struct testhttp *s)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof sin;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0) {
        return -errno;
    }
    if (bind(s->listen_fd, (struct sockaddr *) &sin, sizeof sin)
        || listen(s->listen_fd, 8)
        || getsockname(s->listen_fd, (struct sockaddr *) &sin, &len)) {
        int r = -errno;

        close(s->listen_fd);
        return r;
    }
    s->port = ntohs(sin.sin_port);
    return 0;
}

int
testhttp_start(struct testhttp *s, testhttp_handler *handler, void *ctx)
{
    int r;

    memset(s, 0, sizeof *s);
    s->handler = handler;
    s->ctx = ctx;
    r = listen_loopback(s);
    if (r) {
        return r;
    }
    if (pipe2(s->quit, O_CLOEXEC)) {
        r = -errno;
        goto out;
    }
    r = -pthread_create(&s->thread, NULL, run, s);
    if (r) {
        close(s->quit[0]);
        close(s->quit[1]);
    }
out:
    if (r) {
        close(s->listen_fd);
    }
    return r;
}

void
testhttp_stop(struct testhttp *s)
{
    if (write(s->quit[1], "q", 1) != 1) {
        abort();                /* the thread would never end */
    }
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->quit[0]);
    close(s->quit[1]);
}

static bool
write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t) n;
    }
    return true;
}

bool
testhttp_reply(int fd, int code, const char *reason, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: application/json"
                     "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, strlen(body));

    return n > 0 && (size_t) n < sizeof head && write_all(fd, head, (size_t) n)
           && write_all(fd, body, strlen(body));
}

bool
testhttp_reply_status(int fd, int code, const char *reason)
{
    char body[512];

    snprintf(body, sizeof body, "{\"kind\":\"Status\",\"status\":\"Failure\","
             "\"code\":%d,\"reason\":\"%s\",\"message\":\"%s\"}", code, reason, reason);
    return testhttp_reply(fd, code, reason, body);
}

int
testhttp_kubeconfig(const struct testhttp *s, struct kubeconfig **ret)
{
    char text[512], *dir = testutil_tempdir("testhttp"), *path;
    int n = snprintf(text, sizeof text, "apiVersion: v1\nkind: Config\n"
                     "clusters: [{name: fake, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
                     "contexts: [{name: fake, context: {cluster: fake}}]\n"
                     "current-context: fake\n", s->port);
    int r;

    if (!dir) {
        return -errno;
    }
    path = testutil_path(dir, "kubeconfig");
    r = testutil_write_file(path, text, (size_t) n);
    if (r == 0) {
        r = kubeconfig_load_file(path, NULL, ret, NULL);
    }
    testutil_rmtree(dir);
    free(dir);
    free(path);
    return r;
}
