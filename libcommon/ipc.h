/* IPC over nng, bridged into libevent: REQ/REP with contexts and per-call
 * deadlines, PUB/SUB with topic prefixes. Every callback below runs on the
 * loop's thread (through a loopq); nng's own threads only move messages. */
#ifndef ENCLAVR_IPC_H
#define ENCLAVR_IPC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipc_proto.h"
#include "loopq.h"

/* ---- server side (REP), used by the back-end daemons ---- */

/* One request being served. Owned by its server; valid until ipc_reply. */
struct ipc_request {
	uint8_t type;
	uint64_t id;
	cJSON *body;
};

typedef void (*ipc_request_fn)(struct ipc_request *req, void *arg);
struct ipc_server;

/* Listens on url with nctx contexts, so up to nctx requests are served at
 * once. fn must eventually call ipc_reply exactly once for each request. */
struct ipc_server *ipc_server_open(struct loopq *q, const char *url, int nctx,
    ipc_request_fn fn, void *arg);
/* Sends the reply and ends the request; takes ownership of body (NULL
 * sends an empty object). */
void ipc_reply(struct ipc_request *req, enum ipc_type type, cJSON *body);
int ipc_server_inflight(const struct ipc_server *srv);
/* Teardown is two-phase for every IPC object: _shutdown stops traffic so
 * that nothing more is queued (requests still queued are dropped unheard,
 * calls still queued finish without their callback); then the owner frees
 * its loopq, which drains it; then _free. */
void ipc_server_shutdown(struct ipc_server *srv);
void ipc_server_free(struct ipc_server *srv);

/* ---- client side (REQ), used by gatewayd ---- */

enum ipc_call_result {
	IPC_CALL_OK = 0,
	IPC_CALL_TIMEOUT,	/* the deadline passed */
	IPC_CALL_FAILED,	/* closed, refused, or an unreadable reply */
};

/* body is the reply's parsed JSON, owned by the IPC layer (NULL on error). */
typedef void (*ipc_reply_fn)(enum ipc_call_result res, int type, cJSON *body,
    void *arg);
struct ipc_client;
struct ipc_call;

struct ipc_client *ipc_client_open(struct loopq *q, const char *url);
/* True while at least one connection to the server is up. */
bool ipc_client_connected(struct ipc_client *cli);
/* Sends body (text, borrowed) as a request of type; cb runs exactly once
 * unless the call is cancelled first. NULL when out of memory. */
struct ipc_call *ipc_call_start(struct ipc_client *cli, enum ipc_type type,
    uint64_t id, const char *body, size_t body_len, int timeout_ms,
    ipc_reply_fn cb, void *arg);
/* The callback will not run; the call frees itself. */
void ipc_call_cancel(struct ipc_call *call);
void ipc_client_shutdown(struct ipc_client *cli);
void ipc_client_free(struct ipc_client *cli);

/* ---- events (PUB/SUB) ---- */

struct ipc_pub;
struct ipc_sub;
/* body is owned by the IPC layer for the duration of the call. */
typedef void (*ipc_event_fn)(const char *topic, cJSON *body, void *arg);

struct ipc_pub *ipc_pub_open(const char *url);
/* Publishes body on topic; safe from any thread. */
int ipc_publish(struct ipc_pub *pub, const char *topic, const cJSON *body);
void ipc_pub_close(struct ipc_pub *pub);

struct ipc_sub *ipc_sub_open(struct loopq *q, const char *url,
    ipc_event_fn fn, void *arg);
int ipc_sub_subscribe(struct ipc_sub *sub, const char *prefix);
void ipc_sub_shutdown(struct ipc_sub *sub);
void ipc_sub_free(struct ipc_sub *sub);

#endif
