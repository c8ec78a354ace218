/* IPC over nng, driven by a libevent loop: REQ/REP with many requests in
 * flight and a deadline on each, PUB/SUB with topic prefixes.
 *
 * The REQ and REP sockets are nng's raw-mode sockets, read and written from
 * the loop's thread with non-blocking calls when nng's pollable descriptor
 * (NNG_OPT_RECVFD) says a message waits. nng's threads only move bytes;
 * every callback below runs on the loop's thread. docs/decisions.md says
 * why this replaced contexts and aio callbacks. */
#ifndef ENCLAVR_IPC_H
#define ENCLAVR_IPC_H

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipc_proto.h"

/* ---- server side (REP), used by the back-end daemons ---- */

/* One request being served. Owned by its server; valid until ipc_reply. */
struct ipc_request {
	uint8_t type;
	uint64_t id;
	cJSON *body;
};

typedef void (*ipc_request_fn)(struct ipc_request *req, void *arg);
struct ipc_server;

/* Listens on url; up to max_inflight requests are handed to fn at once (the
 * rest wait in nng's queue). fn must call ipc_reply once for each. */
struct ipc_server *ipc_server_open(struct event_base *base, const char *url,
    int max_inflight, ipc_request_fn fn, void *arg);
/* Sends the reply and ends the request; takes ownership of body (NULL
 * sends an empty object). */
void ipc_reply(struct ipc_request *req, enum ipc_type type, cJSON *body);
int ipc_server_inflight(const struct ipc_server *srv);
/* Closes the socket and frees every request still held by a handler: only
 * once no handler will answer any more. */
void ipc_server_close(struct ipc_server *srv);

/* ---- client side (REQ), used by gatewayd ---- */

enum ipc_call_result {
	IPC_CALL_OK = 0,
	IPC_CALL_TIMEOUT,	/* the deadline passed */
	IPC_CALL_FAILED,	/* an unreadable reply */
};

/* body is the reply's parsed JSON, owned by the IPC layer (NULL on error). */
typedef void (*ipc_reply_fn)(enum ipc_call_result res, int type, cJSON *body,
    void *arg);
struct ipc_client;
struct ipc_call;

struct ipc_client *ipc_client_open(struct event_base *base, const char *url);
/* True while at least one connection to the server is up. */
bool ipc_client_connected(struct ipc_client *cli);
/* Sends body (text, borrowed) as a request of type; cb runs exactly once,
 * later, unless the call is cancelled first. NULL when the request cannot
 * be sent now (no connection, queue full, out of memory). */
struct ipc_call *ipc_call_start(struct ipc_client *cli, enum ipc_type type,
    const char *body, size_t body_len, int timeout_ms, ipc_reply_fn cb,
    void *arg);
/* Forgets the call now: its callback will not run. */
void ipc_call_cancel(struct ipc_call *call);
/* Frees the client; calls still in flight end without their callback. */
void ipc_client_close(struct ipc_client *cli);

/* ---- events (PUB/SUB) ---- */

struct ipc_pub;
struct ipc_sub;
/* body is owned by the IPC layer for the duration of the call. */
typedef void (*ipc_event_fn)(const char *topic, cJSON *body, void *arg);

struct ipc_pub *ipc_pub_open(const char *url);
/* Publishes body on topic. From the loop's thread only: it counts what it
 * publishes in the (unlocked) metrics registry. */
int ipc_publish(struct ipc_pub *pub, const char *topic, const cJSON *body);
void ipc_pub_close(struct ipc_pub *pub);

struct ipc_sub *ipc_sub_open(struct event_base *base, const char *url,
    ipc_event_fn fn, void *arg);
int ipc_sub_subscribe(struct ipc_sub *sub, const char *prefix);
/* How many times a connection to the publisher was made: a change means
 * events published while it was being made may have been missed. */
unsigned ipc_sub_connects(struct ipc_sub *sub);
void ipc_sub_close(struct ipc_sub *sub);

#endif
