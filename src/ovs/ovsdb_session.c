/* ovsdb_session — the OVSDB transport: JSON-RPC framing over a socket and a
 * reconnecting session to one server.  See ovsdb_session.h. */
#include "exportflows/ovs/ovsdb_session.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/ipport.h"

#define OVSDB_DATABASE "Open_vSwitch"

#define READ_CHUNK 65536
#define MAX_DEPTH 512           /* far deeper than any OVSDB message */
#define MAX_PENDING 64
#define ECHO_METHOD "echo"

/* ---- ovsdb_rpc ---- */

struct ovsdb_rpc {
    int fd;
    size_t max_msg;

    /* Input: bytes [head, in.len) of 'in' are unconsumed; [head, scan) have been
     * scanned already, with the scanner state below, so a message split over many
     * reads is scanned once. */
    struct capbuf in;
    size_t head, scan;
    int depth;
    bool in_string, escape;

    /* Output backlog: bytes [out_pos, out.len) of 'out' are still to be written. */
    struct capbuf out;
    size_t out_pos;
};

int
ovsdb_rpc_create(int fd, size_t max_msg, struct ovsdb_rpc **ret)
{
    struct ovsdb_rpc *rpc;
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return -errno;
    }
    rpc = calloc(1, sizeof *rpc);
    if (!rpc) {
        return -ENOMEM;
    }
    rpc->fd = fd;
    rpc->max_msg = max_msg ? max_msg : OVSDB_MAX_MSG_DEFAULT;
    capbuf_init(&rpc->in, rpc->max_msg, 0);
    capbuf_init(&rpc->out, rpc->max_msg, 0);
    *ret = rpc;
    return 0;
}

void
ovsdb_rpc_destroy(struct ovsdb_rpc *rpc)
{
    if (!rpc) {
        return;
    }
    close(rpc->fd);
    capbuf_release(&rpc->in);
    capbuf_release(&rpc->out);
    free(rpc);
}

static int
ovsdb_rpc_fd(const struct ovsdb_rpc *rpc)
{
    return rpc->fd;
}

bool
ovsdb_rpc_backlogged(const struct ovsdb_rpc *rpc)
{
    return rpc->out_pos < rpc->out.len;
}

/* The poll(2) events the stream needs: POLLIN, plus POLLOUT with a backlog. */
static short
ovsdb_rpc_events(const struct ovsdb_rpc *rpc)
{
    return POLLIN | (ovsdb_rpc_backlogged(rpc) ? POLLOUT : 0);
}

/* Writes as much of the backlog as the socket takes.  0 (also when some is left),
 * or -errno with a message. */
static int
ovsdb_rpc_flush(struct ovsdb_rpc *rpc, struct errmsg *err)
{
    while (rpc->out_pos < rpc->out.len) {
        /* MSG_NOSIGNAL: a peer that went away is an error to report, not SIGPIPE. */
        ssize_t n = send(rpc->fd, rpc->out.data + rpc->out_pos,
                         rpc->out.len - rpc->out_pos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            return errmsg_set(err, -errno, "cannot send: %s", strerror(errno));
        }
        rpc->out_pos += (size_t) n;
    }
    rpc->out_pos = 0;
    capbuf_reset(&rpc->out);
    return 0;
}

int
ovsdb_rpc_send(struct ovsdb_rpc *rpc, const json_t *msg, struct errmsg *err)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    size_t n;
    int rc;

    if (!text) {
        return errmsg_set(err, -ENOMEM, "cannot serialise a message");
    }
    n = strlen(text);
    capbuf_consume(&rpc->out, rpc->out_pos);    /* what was sent */
    rpc->out_pos = 0;
    rc = capbuf_append(&rpc->out, text, n);
    if (rc == -E2BIG) {
        rc = errmsg_set(err, -ENOBUFS, "output backlog over %zu bytes", rpc->max_msg);
        goto out;
    } else if (rc < 0) {
        errmsg_set(err, rc, "out of memory queueing %zu bytes", rpc->max_msg);
        goto out;
    }
    rc = ovsdb_rpc_flush(rpc, err);
out:
    free(text);
    return rc;
}

/* Scans unscanned input for the end of the message that starts at 'head'.
 * Returns 0 and its end offset, -EAGAIN when it is not complete yet, -EPROTO when
 * the text between messages is not the start of a JSON object. */
static int
rpc_scan(struct ovsdb_rpc *rpc, size_t *end, struct errmsg *err)
{
    for (; rpc->scan < rpc->in.len; rpc->scan++) {
        char c = rpc->in.data[rpc->scan];

        if (rpc->in_string) {
            if (rpc->escape) {
                rpc->escape = false;
            } else if (c == '\\') {
                rpc->escape = true;
            } else if (c == '"') {
                rpc->in_string = false;
            }
        } else if (rpc->depth == 0) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                rpc->head = rpc->scan + 1;      /* white space between messages */
            } else if (c == '{') {
                rpc->depth = 1;
            } else {
                return errmsg_set(err, -EPROTO, "received text that is not a JSON "
                                  "object (byte 0x%02x)", (unsigned char) c);
            }
        } else if (c == '"') {
            rpc->in_string = true;
        } else if (c == '{' || c == '[') {
            if (++rpc->depth > MAX_DEPTH) {
                return errmsg_set(err, -EPROTO, "received JSON nested deeper than %d",
                                  MAX_DEPTH);
            }
        } else if ((c == '}' || c == ']') && --rpc->depth == 0) {
            *end = ++rpc->scan;
            return 0;
        }
    }
    return -EAGAIN;
}

/* One read(2) into the input buffer, after moving unconsumed input to the
 * front: at most READ_CHUNK bytes and never past the cap. */
static int
rpc_fill(struct ovsdb_rpc *rpc, struct errmsg *err)
{
    size_t pending = rpc->in.len - rpc->head, room;
    ssize_t n;
    char *p;

    if (pending >= rpc->max_msg) {
        return errmsg_set(err, -EMSGSIZE, "received a message over %zu bytes",
                          rpc->max_msg);
    }
    capbuf_consume(&rpc->in, rpc->head);
    rpc->scan -= rpc->head;
    rpc->head = 0;
    room = capbuf_room(&rpc->in) < READ_CHUNK ? capbuf_room(&rpc->in) : READ_CHUNK;
    if (capbuf_reserve(&rpc->in, room, &p) < 0) {
        return errmsg_set(err, -ENOMEM, "out of memory reading a message");
    }
    do {
        n = read(rpc->fd, p, room);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return -EAGAIN;
        }
        return errmsg_set(err, -errno, "cannot receive: %s", strerror(errno));
    }
    if (n == 0) {
        return errmsg_set(err, -EPIPE, "connection closed by peer");
    }
    capbuf_commit(&rpc->in, (size_t) n);
    return 0;
}

/* Parses the message [head, end) and consumes it. */
static int
rpc_take(struct ovsdb_rpc *rpc, size_t end, json_t **ret, struct errmsg *err)
{
    json_error_t jerr;
    json_t *msg = json_loadb(rpc->in.data + rpc->head, end - rpc->head,
                             JSON_REJECT_DUPLICATES, &jerr);

    rpc->head = end;
    if (!msg) {
        return errmsg_set(err, -EPROTO, "received invalid JSON: %s", jerr.text);
    }
    *ret = msg;
    return 0;
}

int
ovsdb_rpc_recv(struct ovsdb_rpc *rpc, json_t **ret, struct errmsg *err)
{
    size_t end;
    int rc = rpc_scan(rpc, &end, err);

    if (rc == -EAGAIN) {
        if (rpc->in.len - rpc->head > rpc->max_msg) {
            return errmsg_set(err, -EMSGSIZE, "received a message over %zu bytes",
                              rpc->max_msg);
        }
        rc = rpc_fill(rpc, err);
        if (rc < 0) {
            return rc;
        }
        rc = rpc_scan(rpc, &end, err);
    }
    if (rc == 0 && end - rpc->head > rpc->max_msg) {
        return errmsg_set(err, -EMSGSIZE, "received a message over %zu bytes",
                          rpc->max_msg);
    }
    return rc < 0 ? rc : rpc_take(rpc, end, ret, err);
}

/* ---- ovsdb_client ---- */

enum client_state {
    CLIENT_BACKOFF,             /* not connected; next attempt at 'next_attempt' */
    CLIENT_CONNECTING,          /* non-blocking connect() in progress on 'fd' */
    CLIENT_CONNECTED,           /* 'rpc' is up */
};

struct pending_request {
    uint64_t id;
    uint64_t deadline;
    bool internal;              /* our own echo probe: the reply is swallowed */
};

struct ovsdb_client {
    char *address;
    struct sockaddr_storage sa;
    socklen_t sa_len;
    unsigned timeout_ms, probe_ms, backoff_min_ms, backoff_max_ms;
    size_t max_msg;

    enum client_state state;
    int fd;                     /* CLIENT_CONNECTING */
    struct ovsdb_rpc *rpc;      /* CLIENT_CONNECTED */
    uint64_t next_attempt, connect_deadline, last_rx;
    unsigned backoff_ms;

    struct pending_request pending[MAX_PENDING];
    size_t n_pending;
    uint64_t next_id;

    /* An event produced while doing other work, delivered by the next recv. */
    bool has_queued;
    struct ovsdb_event queued;
};

static int
parse_unix_address(const char *path, struct ovsdb_client *c, struct errmsg *err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *) &c->sa;
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof sun->sun_path) {
        return errmsg_set(err, -EINVAL, "invalid ovsdb address 'unix:%s': path must "
                          "have 1 to %zu bytes", path, sizeof sun->sun_path - 1);
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    c->sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

/* "IP:PORT" or "[IPv6]:PORT". */
static int
parse_tcp_address(const char *text, struct ovsdb_client *c, struct errmsg *err)
{
    if (ipport_parse(text, 1, &c->sa, &c->sa_len, NULL) < 0) {
        return errmsg_set(err, -EINVAL, "invalid ovsdb address 'tcp:%s': expected "
                          "tcp:IP:PORT", text);
    }
    return 0;
}

static int
parse_address(const char *address, struct ovsdb_client *c, struct errmsg *err)
{
    if (!strncmp(address, "unix:", 5)) {
        return parse_unix_address(address + 5, c, err);
    } else if (!strncmp(address, "tcp:", 4)) {
        return parse_tcp_address(address + 4, c, err);
    }
    return errmsg_set(err, -EINVAL, "invalid ovsdb address '%s': expected "
                      "unix:PATH or tcp:IP:PORT", address);
}

int
ovsdb_client_create(const struct ovsdb_client_config *config,
                    struct ovsdb_client **ret, struct errmsg *err)
{
    struct ovsdb_client *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    rc = parse_address(config->address, c, err);
    if (rc < 0) {
        goto out;
    }
    c->address = strdup(config->address);
    if (!c->address) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    c->timeout_ms = config->timeout_ms ? config->timeout_ms : 10000;
    c->probe_ms = config->probe_ms ? config->probe_ms : 5000;
    c->backoff_min_ms = config->backoff_min_ms ? config->backoff_min_ms : 100;
    c->backoff_max_ms = config->backoff_max_ms ? config->backoff_max_ms : 8000;
    c->max_msg = config->max_msg ? config->max_msg : OVSDB_MAX_MSG_DEFAULT;
    c->backoff_ms = c->backoff_min_ms;
    c->state = CLIENT_BACKOFF;
    c->fd = -1;
    c->next_id = 1;
    *ret = c;
    c = NULL;
out:
    ovsdb_client_destroy(c);
    return rc;
}

void
ovsdb_event_release(struct ovsdb_event *ev)
{
    json_decref(ev->result);
    json_decref(ev->error_json);
    json_decref(ev->params);
    ev->result = ev->error_json = ev->params = NULL;
}

void
ovsdb_client_destroy(struct ovsdb_client *c)
{
    if (!c) {
        return;
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    ovsdb_rpc_destroy(c->rpc);
    if (c->has_queued) {
        ovsdb_event_release(&c->queued);
    }
    free(c->address);
    free(c);
}

bool
ovsdb_client_connected(const struct ovsdb_client *c)
{
    return c->state == CLIENT_CONNECTED;
}

/* Queues an event without references (CONNECTED and the failures). */
static void
queue_event(struct ovsdb_client *c, enum ovsdb_event_type type, const char *why)
{
    memset(&c->queued, 0, sizeof c->queued);
    c->queued.type = type;
    if (why) {
        errmsg_set(&c->queued.error, 0, "%s", why);
    }
    c->has_queued = true;
}

/* Closes whatever is open and schedules the next attempt after the backoff. */
static void
drop_connection(struct ovsdb_client *c, enum ovsdb_event_type type,
                const char *why, uint64_t now)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    ovsdb_rpc_destroy(c->rpc);
    c->rpc = NULL;
    c->n_pending = 0;
    c->state = CLIENT_BACKOFF;
    c->next_attempt = now + c->backoff_ms;
    c->backoff_ms = c->backoff_ms >= c->backoff_max_ms / 2 ? c->backoff_max_ms
                    : c->backoff_ms * 2;
    queue_event(c, type, why);
}

void
ovsdb_client_force_reconnect(struct ovsdb_client *c, const char *why, uint64_t now)
{
    if (c->state == CLIENT_CONNECTED) {
        drop_connection(c, OVSDB_EVENT_DISCONNECTED, why, now);
    }
}

static void
become_connected(struct ovsdb_client *c, uint64_t now)
{
    struct errmsg err;
    int rc = ovsdb_rpc_create(c->fd, c->max_msg, &c->rpc);

    if (rc < 0) {
        errmsg_set(&err, rc, "cannot set up connection to '%s': %s", c->address,
                   strerror(-rc));
        drop_connection(c, OVSDB_EVENT_CONNECT_FAILED, err.text, now);
        return;
    }
    c->fd = -1;
    c->state = CLIENT_CONNECTED;
    c->last_rx = now;
    c->n_pending = 0;
    queue_event(c, OVSDB_EVENT_CONNECTED, NULL);
}

static void
connect_failed(struct ovsdb_client *c, int error, uint64_t now)
{
    struct errmsg err;

    errmsg_set(&err, 0, "cannot connect to '%s': %s", c->address, strerror(error));
    drop_connection(c, OVSDB_EVENT_CONNECT_FAILED, err.text, now);
}

static void
start_connect(struct ovsdb_client *c, uint64_t now)
{
    c->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_failed(c, errno, now);
        return;
    }
    if (connect(c->fd, (struct sockaddr *) &c->sa, c->sa_len) == 0) {
        become_connected(c, now);
    } else if (errno == EINPROGRESS || errno == EAGAIN) {
        c->state = CLIENT_CONNECTING;
        c->connect_deadline = now + c->timeout_ms;
    } else {
        connect_failed(c, errno, now);
    }
}

/* Checks a non-blocking connect() in progress. */
static void
check_connect(struct ovsdb_client *c, uint64_t now)
{
    struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
    int error = 0;
    socklen_t len = sizeof error;

    if (poll(&pfd, 1, 0) <= 0) {
        if (now >= c->connect_deadline) {
            connect_failed(c, ETIMEDOUT, now);
        }
        return;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) {
        error = errno;
    }
    if (error) {
        connect_failed(c, error, now);
    } else {
        become_connected(c, now);
    }
}

static int
send_msg(struct ovsdb_client *c, json_t *msg, uint64_t now, struct errmsg *err)
{
    int rc;

    if (!msg) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    rc = ovsdb_rpc_send(c->rpc, msg, err);
    json_decref(msg);
    if (rc < 0) {
        drop_connection(c, OVSDB_EVENT_DISCONNECTED, err ? err->text : "send failed",
                        now);
    }
    return rc;
}

/* Sends request 'method' with 'params' (stolen, even on failure); 'internal'
 * marks the idle probe, whose reply is not reported.  -ENOTCONN, -EBUSY with
 * MAX_PENDING requests in flight, or a send error (the connection is dropped). */
static int
request(struct ovsdb_client *c, const char *method, json_t *params, bool internal,
        uint64_t now, uint64_t *ret_id, struct errmsg *err)
{
    uint64_t id;
    struct errmsg local;
    int rc;

    if (!err) {
        err = &local;
    }
    if (c->state != CLIENT_CONNECTED) {
        json_decref(params);
        return errmsg_set(err, -ENOTCONN, "not connected to '%s'", c->address);
    }
    if (c->n_pending >= MAX_PENDING) {
        json_decref(params);
        return errmsg_set(err, -EBUSY, "%d requests already pending", MAX_PENDING);
    }
    id = c->next_id++;
    rc = send_msg(c, json_pack("{s:s, s:o, s:I}", "method", method,
                               "params", params, "id", (json_int_t) id), now, err);
    if (rc < 0) {
        return rc;
    }
    c->pending[c->n_pending++] = (struct pending_request) {
        .id = id, .deadline = now + c->timeout_ms, .internal = internal };
    if (ret_id) {
        *ret_id = id;
    }
    return 0;
}

int
ovsdb_client_transact(struct ovsdb_client *c, json_t *ops, uint64_t now,
                      uint64_t *ret_id, struct errmsg *err)
{
    json_t *params = json_array();

    if (!params || json_array_append_new(params, json_string(OVSDB_DATABASE)) < 0
        || json_array_extend(params, ops) < 0) {
        json_decref(params);
        json_decref(ops);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    json_decref(ops);
    return request(c, "transact", params, false, now, ret_id, err);
}

int
ovsdb_client_monitor(struct ovsdb_client *c, const char *monitor_id,
                     json_t *requests, uint64_t now, uint64_t *ret_id,
                     struct errmsg *err)
{
    json_t *params = json_pack("[s, s, o]", OVSDB_DATABASE, monitor_id, requests);

    if (!params) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    return request(c, "monitor", params, false, now, ret_id, err);
}

/* Removes request 'id' from the pending list; false when it was not there. */
static bool
take_pending(struct ovsdb_client *c, uint64_t id, bool *internal)
{
    for (size_t i = 0; i < c->n_pending; i++) {
        if (c->pending[i].id == id) {
            *internal = c->pending[i].internal;
            c->pending[i] = c->pending[--c->n_pending];
            return true;
        }
    }
    return false;
}

/* Answers a request from the server: "echo" with its params, anything else with
 * an error, as RFC 7047 4.1 asks. */
static void
answer_request(struct ovsdb_client *c, const char *method, json_t *id,
               json_t *params, uint64_t now)
{
    json_t *reply;

    if (!strcmp(method, ECHO_METHOD)) {
        reply = json_pack("{s:O, s:n, s:O}", "result", params ? params : json_null(),
                          "error", "id", id);
    } else {
        reply = json_pack("{s:n, s:s, s:O}", "result", "error", "unknown method",
                          "id", id);
    }
    send_msg(c, reply, now, NULL);
}

/* Turns one received message into an event; false when it produced none. */
static bool
dispatch(struct ovsdb_client *c, json_t *msg, uint64_t now, struct ovsdb_event *ev)
{
    json_t *method = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    bool internal = false;

    if (json_is_string(method)) {
        if (id && !json_is_null(id)) {
            answer_request(c, json_string_value(method), id, params, now);
            return false;
        }
        ev->type = OVSDB_EVENT_NOTIFY;
        snprintf(ev->method, sizeof ev->method, "%s", json_string_value(method));
        ev->params = json_incref(params);
        return true;
    }
    if (!json_is_integer(id) || json_integer_value(id) <= 0
        || !take_pending(c, (uint64_t) json_integer_value(id), &internal)
        || internal) {
        return false;           /* an unexpected or our probe's reply */
    }
    ev->type = OVSDB_EVENT_REPLY;
    ev->id = (uint64_t) json_integer_value(id);
    if (json_object_get(msg, "error") && !json_is_null(json_object_get(msg, "error"))) {
        ev->error_json = json_incref(json_object_get(msg, "error"));
    } else {
        ev->result = json_incref(json_object_get(msg, "result"));
    }
    return true;
}

/* Deadlines of a live connection: requests and the idle probe. */
static void
check_deadlines(struct ovsdb_client *c, uint64_t now)
{
    bool probing = false;

    for (size_t i = 0; i < c->n_pending; i++) {
        if (now >= c->pending[i].deadline) {
            struct errmsg err;

            errmsg_set(&err, 0, "no reply from '%s' within %u ms", c->address,
                       c->timeout_ms);
            drop_connection(c, OVSDB_EVENT_DISCONNECTED, err.text, now);
            return;
        }
        probing |= c->pending[i].internal;
    }
    if (!probing && now >= c->last_rx + c->probe_ms) {
        request(c, ECHO_METHOD, json_array(), true, now, NULL, NULL);
    }
}

/* Reads messages until one yields an event (0) or there is no more (-EAGAIN). */
static int
read_messages(struct ovsdb_client *c, uint64_t now, struct ovsdb_event *ev)
{
    for (;;) {
        struct errmsg err;
        json_t *msg;
        bool got;
        int rc = ovsdb_rpc_recv(c->rpc, &msg, &err);

        if (rc == -EAGAIN) {
            return -EAGAIN;
        } else if (rc < 0) {
            drop_connection(c, OVSDB_EVENT_DISCONNECTED, err.text, now);
            return -EAGAIN;
        }
        c->last_rx = now;
        c->backoff_ms = c->backoff_min_ms;      /* the server talks: reset backoff */
        got = json_is_object(msg) && dispatch(c, msg, now, ev);
        json_decref(msg);
        if (got || c->state != CLIENT_CONNECTED) {
            return got ? 0 : -EAGAIN;
        }
    }
}

static void
advance(struct ovsdb_client *c, uint64_t now)
{
    struct errmsg err;

    if (c->state == CLIENT_BACKOFF && now >= c->next_attempt) {
        start_connect(c, now);
    }
    if (c->state == CLIENT_CONNECTING) {
        check_connect(c, now);
    }
    if (c->state == CLIENT_CONNECTED && ovsdb_rpc_flush(c->rpc, &err) < 0) {
        drop_connection(c, OVSDB_EVENT_DISCONNECTED, err.text, now);
    }
    if (c->state == CLIENT_CONNECTED) {
        check_deadlines(c, now);
    }
}

int
ovsdb_client_recv(struct ovsdb_client *c, uint64_t now, struct ovsdb_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (!c->has_queued) {
        advance(c, now);
    }
    if (!c->has_queued && c->state == CLIENT_CONNECTED
        && read_messages(c, now, ev) == 0) {
        return 0;
    }
    if (c->has_queued) {
        *ev = c->queued;
        c->has_queued = false;
        return 0;
    }
    return -EAGAIN;
}

static void
lower_timeout(int *timeout_ms, uint64_t now, uint64_t deadline)
{
    uint64_t delta = deadline > now ? deadline - now : 0;
    int t = delta > 86400000 ? 86400000 : (int) delta;

    if (*timeout_ms < 0 || t < *timeout_ms) {
        *timeout_ms = t;
    }
}

void
ovsdb_client_wait(const struct ovsdb_client *c, uint64_t now, struct pollfd *pfd,
                  int *timeout_ms)
{
    bool probing = false;

    pfd->fd = -1;
    pfd->events = 0;
    pfd->revents = 0;
    if (c->has_queued) {
        *timeout_ms = 0;
        return;
    }
    switch (c->state) {
    case CLIENT_BACKOFF:
        lower_timeout(timeout_ms, now, c->next_attempt);
        break;
    case CLIENT_CONNECTING:
        pfd->fd = c->fd;
        pfd->events = POLLOUT;
        lower_timeout(timeout_ms, now, c->connect_deadline);
        break;
    case CLIENT_CONNECTED:
        pfd->fd = ovsdb_rpc_fd(c->rpc);
        pfd->events = ovsdb_rpc_events(c->rpc);
        for (size_t i = 0; i < c->n_pending; i++) {
            lower_timeout(timeout_ms, now, c->pending[i].deadline);
            probing |= c->pending[i].internal;
        }
        if (!probing) {
            lower_timeout(timeout_ms, now, c->last_rx + c->probe_ms);
        }
        break;
    }
}
