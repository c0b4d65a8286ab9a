/* ovsdb_session — the OVSDB transport (RFC 7047): a non-blocking JSON-RPC client
 * session to one ovsdb-server, for the applier.
 *
 * Two layers, as in Open vSwitch's jsonrpc.c:
 *
 *   ovsdb_rpc     one JSON-RPC stream over a connected, non-blocking socket: finds
 *                 message boundaries in the byte stream (brace depth, strings and
 *                 escapes tracked incrementally, so partial reads and several
 *                 messages in one read both work), parses each message with
 *                 jansson, queues output.  Both directions are capped: a message
 *                 over 'max_msg' bytes or an output backlog over it is an error,
 *                 never a bigger buffer.  The session uses it for its connection;
 *                 tests use it to play the server.
 *   ovsdb_client  a session to "unix:PATH" or "tcp:IP:PORT": connects without
 *                 blocking, reconnects with exponential backoff, answers the
 *                 server's "echo", sends its own echo when the line is idle,
 *                 matches replies to requests by id, and drops the connection
 *                 when a connect or a request exceeds the timeout.  Nothing in it
 *                 blocks; the caller polls the fd it reports.
 *
 * This module moves messages and knows no table: what the replies and
 * notifications hold (table updates, datums, transaction results) is read with
 * ovsdb_data.h, which does not depend on this module, nor this one on it.
 *
 * Nothing here logs: the client hands back events and messages, the program logs.
 * Times are milliseconds of CLOCK_MONOTONIC (clock_monotonic_ms() in clock.h).
 *
 * Typical loop:
 *     for (;;) {
 *         uint64_t now = clock_monotonic_ms();
 *         struct ovsdb_event ev;
 *         while (ovsdb_client_recv(client, now, &ev) == 0) {
 *             handle(&ev);
 *             ovsdb_event_release(&ev);
 *         }
 *         struct pollfd pfd; int timeout = -1;
 *         ovsdb_client_wait(client, now, &pfd, &timeout);
 *         poll(&pfd, 1, timeout);
 *     }
 */
#ifndef EXPORTFLOWS_OVSDB_SESSION_H
#define EXPORTFLOWS_OVSDB_SESSION_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"

#define OVSDB_DEFAULT_ADDRESS "unix:/var/run/openvswitch/db.sock"

/* Default cap on one message and on the output backlog. */
#define OVSDB_MAX_MSG_DEFAULT (4u * 1024 * 1024)

/* ---- ovsdb_rpc: one JSON-RPC stream ---- */

struct ovsdb_rpc;

/* Wraps the connected socket 'fd' (made non-blocking here).  Takes ownership of
 * 'fd' on success only.  'max_msg' 0 means OVSDB_MAX_MSG_DEFAULT.  Caller destroys
 * '*ret' with ovsdb_rpc_destroy().  -ENOMEM or -errno from fcntl(). */
int ovsdb_rpc_create(int fd, size_t max_msg, struct ovsdb_rpc **ret);

/* Closes the fd and frees everything; accepts NULL. */
void ovsdb_rpc_destroy(struct ovsdb_rpc *rpc);

/* Serialises 'msg' (borrowed) compactly and queues it, then tries to write.
 * -ENOBUFS when the backlog would exceed 'max_msg', -EPIPE/-errno when the
 * connection failed; a message in 'err' either way. */
int ovsdb_rpc_send(struct ovsdb_rpc *rpc, const json_t *msg, struct errmsg *err);

/* True while queued output waits for the socket to take it. */
bool ovsdb_rpc_backlogged(const struct ovsdb_rpc *rpc);

/* Returns the next complete message: 0 and a new reference in '*ret' (caller
 * json_decref()s it), -EAGAIN when no complete message has arrived yet (at most
 * one read(2) is made per call), -EPIPE on end of stream, -EMSGSIZE when a
 * message exceeds the cap, -EPROTO when the stream is not JSON objects, or another
 * -errno from read(2).  After an error other than -EAGAIN the stream is unusable. */
int ovsdb_rpc_recv(struct ovsdb_rpc *rpc, json_t **ret, struct errmsg *err);

/* ---- ovsdb_client: a reconnecting session ---- */

struct ovsdb_client;

struct ovsdb_client_config {
    const char *address;        /* "unix:PATH" or "tcp:IP:PORT" (IPv6 in brackets); copied */
    unsigned timeout_ms;        /* connect and reply deadline; 0: 10000 */
    unsigned probe_ms;          /* idle time before sending an echo; 0: 5000 */
    unsigned backoff_min_ms;    /* first reconnect delay; 0: 100 */
    unsigned backoff_max_ms;    /* reconnect delay cap; 0: 8000 */
    size_t max_msg;             /* 0: OVSDB_MAX_MSG_DEFAULT */
};

enum ovsdb_event_type {
    OVSDB_EVENT_CONNECTED,      /* a connection is up: (re)send monitors */
    OVSDB_EVENT_CONNECT_FAILED, /* an attempt failed ('error'); retried after backoff */
    OVSDB_EVENT_DISCONNECTED,   /* an established connection was lost ('error');
                                 * every pending request is dropped without reply */
    OVSDB_EVENT_REPLY,          /* the reply to request 'id': 'result' or 'error_json' */
    OVSDB_EVENT_NOTIFY,         /* a notification: 'method' and 'params' */
};

struct ovsdb_event {
    enum ovsdb_event_type type;
    uint64_t id;                /* REPLY */
    json_t *result;             /* REPLY: owned by the event, NULL when it failed */
    json_t *error_json;         /* REPLY: owned by the event, NULL when it succeeded */
    char method[32];            /* NOTIFY */
    json_t *params;             /* NOTIFY: owned by the event */
    struct errmsg error;        /* CONNECT_FAILED, DISCONNECTED */
};

/* Drops the references an event holds; the struct itself is the caller's. */
void ovsdb_event_release(struct ovsdb_event *ev);

/* Checks 'config->address' and sets up the session; the first connection attempt
 * is made by the first ovsdb_client_recv().  Caller destroys '*ret' with
 * ovsdb_client_destroy().  -EINVAL with a message for a bad address, -ENOMEM. */
int ovsdb_client_create(const struct ovsdb_client_config *config,
                        struct ovsdb_client **ret, struct errmsg *err);

/* Closes the connection and frees everything; accepts NULL. */
void ovsdb_client_destroy(struct ovsdb_client *client);

bool ovsdb_client_connected(const struct ovsdb_client *client);

/* Does every bit of pending work (connect, reconnect, flush, deadlines, reading)
 * and returns the next event: 0 with '*ev' filled (release it with
 * ovsdb_event_release()), or -EAGAIN when there is nothing to report now. */
int ovsdb_client_recv(struct ovsdb_client *client, uint64_t now_ms,
                      struct ovsdb_event *ev);

/* Fills 'pfd' with the fd and events to poll (fd -1 when there is nothing to
 * poll) and lowers '*timeout_ms' (-1: infinite) to the next deadline. */
void ovsdb_client_wait(const struct ovsdb_client *client, uint64_t now_ms,
                       struct pollfd *pfd, int *timeout_ms);

/* Sends ["Open_vSwitch", op...] as a "transact" request ('ops' is stolen, even
 * on failure) and writes its id to '*ret_id'.  -ENOTCONN when not connected,
 * -EBUSY with too many requests pending; -errno with a message when the send
 * failed (the connection is then dropped and DISCONNECTED reported). */
int ovsdb_client_transact(struct ovsdb_client *client, json_t *ops,
                          uint64_t now_ms, uint64_t *ret_id, struct errmsg *err);

/* A "monitor" request for 'requests' (stolen: {table: {"columns": [...]}}) under
 * the monitor id 'monitor_id', failing as ovsdb_client_transact() does.  Initial
 * contents come in the reply, changes as "update" notifications whose params
 * are [monitor_id, table-updates]. */
int ovsdb_client_monitor(struct ovsdb_client *client, const char *monitor_id,
                         json_t *requests, uint64_t now_ms, uint64_t *ret_id,
                         struct errmsg *err);

/* Drops the connection now (as if it failed with 'why') and reconnects after the
 * backoff. */
void ovsdb_client_force_reconnect(struct ovsdb_client *client, const char *why,
                                  uint64_t now_ms);

#endif
