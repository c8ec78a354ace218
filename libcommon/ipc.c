#include "ipc.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "uuid.h"

#define IPC_RECONNECT_MIN_MS 100
#define IPC_RECONNECT_MAX_MS 1000

/* Builds "[topic\0]header body" into a new nng message. */
static nng_msg *
ipc_msg_build(const char *topic, enum ipc_type type, uint64_t id,
    const char *body, size_t len)
{
	uint8_t hdr[IPC_HDR_LEN];
	nng_msg *m;

	if (len > IPC_MAX_BODY || nng_msg_alloc(&m, 0) != 0)
		return NULL;
	ipc_hdr_pack(hdr, type, id, (uint32_t)len);
	if ((topic != NULL && nng_msg_append(m, topic, strlen(topic) + 1) != 0) ||
	    nng_msg_append(m, hdr, sizeof(hdr)) != 0 ||
	    nng_msg_append(m, body, len) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

static void
ipc_dial_tuning(nng_socket s)
{
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, IPC_RECONNECT_MIN_MS);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, IPC_RECONNECT_MAX_MS);
}

/* ------------------------------------------------------------ server */

struct ipc_srv_ctx {
	struct loopq_item item;		/* first: the loopq hands it back */
	struct ipc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	struct ipc_request req;
};

struct ipc_server {
	nng_socket sock;
	struct loopq *q;
	ipc_request_fn fn;
	void *arg;
	int nctx;
	int inflight;
	bool closed;
	struct ipc_srv_ctx *ctxs;
};

static void
ipc_srv_reply_text(struct ipc_srv_ctx *c, enum ipc_type type, uint64_t id,
    const char *text, size_t len)
{
	nng_msg *m = ipc_msg_build(NULL, type, id, text, len);

	if (m == NULL) {
		log_warnx("ipc: cannot build a reply; dropping request %llu",
		    (unsigned long long)id);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	c->sending = true;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

static void
ipc_srv_refuse(struct ipc_srv_ctx *c, uint64_t id, const char *why)
{
	char *text = json_error_body("bad_request", why);
	ipc_srv_reply_text(c, IPC_ERROR, id, text ? text : "{}",
	    text ? strlen(text) : 2);
	free(text);
}

/* Runs on the loop's thread with a freshly received request. */
static void
ipc_srv_dispatch(struct loopq_item *item)
{
	struct ipc_srv_ctx *c = (struct ipc_srv_ctx *)item;
	nng_msg *m = nng_aio_get_msg(c->aio);
	struct ipc_frame fr;
	enum ipc_frame_err err;

	if (c->srv->closed) {
		nng_msg_free(m);
		return;
	}
	err = ipc_frame_parse(nng_msg_body(m), nng_msg_len(m), &fr);
	if (err != IPC_OK) {
		log_warnx("ipc: refusing a request: %s%s", ipc_frame_strerror(err),
		    err == IPC_EVERSION ? " (peer runs another protocol version)" : "");
		nng_msg_free(m);
		ipc_srv_refuse(c, 0, ipc_frame_strerror(err));
		return;
	}
	c->req.type = fr.type;
	c->req.id = fr.id;
	c->req.body = json_parse_exact(fr.body, fr.body_len);
	nng_msg_free(m);
	if (c->req.body == NULL) {
		log_warnx("ipc: request %llu has no valid JSON body",
		    (unsigned long long)fr.id);
		ipc_srv_refuse(c, fr.id, "body is not JSON");
		return;
	}
	c->srv->inflight++;
	c->srv->fn(&c->req, c->srv->arg);
}

/* nng's thread: only moves the message along. */
static void
ipc_srv_aio_cb(void *arg)
{
	struct ipc_srv_ctx *c = arg;
	int rv = nng_aio_result(c->aio);

	if (c->sending) {
		c->sending = false;
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		if (rv == NNG_ECLOSED)
			return;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	loopq_push(c->srv->q, &c->item);
}

struct ipc_server *
ipc_server_open(struct loopq *q, const char *url, int nctx, ipc_request_fn fn,
    void *arg)
{
	struct ipc_server *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL || (s->ctxs = calloc((size_t)nctx, sizeof(*s->ctxs))) == NULL)
		fatalx("ipc: out of memory");
	s->q = q, s->fn = fn, s->arg = arg, s->nctx = nctx;
	if ((rv = nng_rep0_open(&s->sock)) != 0)
		fatalx("ipc: rep socket: %s", nng_strerror(rv));
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, IPC_MAX_BODY + IPC_HDR_LEN);
	if ((rv = nng_listen(s->sock, url, NULL, 0)) != 0)
		fatalx("ipc: cannot listen on %s: %s", url, nng_strerror(rv));
	for (int i = 0; i < nctx; i++) {
		struct ipc_srv_ctx *c = &s->ctxs[i];
		c->srv = s;
		c->item.run = ipc_srv_dispatch;
		if (nng_aio_alloc(&c->aio, ipc_srv_aio_cb, c) != 0 ||
		    nng_ctx_open(&c->ctx, s->sock) != 0)
			fatalx("ipc: cannot open context %d", i);
		nng_ctx_recv(c->ctx, c->aio);
	}
	log_info("ipc: serving requests on %s", url);
	return s;
}

void
ipc_reply(struct ipc_request *req, enum ipc_type type, cJSON *body)
{
	struct ipc_srv_ctx *c = (struct ipc_srv_ctx *)((char *)req -
	    offsetof(struct ipc_srv_ctx, req));
	char *text = body ? cJSON_PrintUnformatted(body) : strdup("{}");

	cJSON_Delete(body);
	cJSON_Delete(req->body);
	req->body = NULL;
	c->srv->inflight--;
	if (text == NULL) {
		log_warnx("ipc: reply %llu could not be encoded", (unsigned long long)req->id);
		ipc_srv_refuse(c, req->id, "reply could not be encoded");
		return;
	}
	ipc_srv_reply_text(c, type, req->id, text, strlen(text));
	free(text);
}

int
ipc_server_inflight(const struct ipc_server *srv)
{
	return srv->inflight;
}

void
ipc_server_shutdown(struct ipc_server *s)
{
	if (s == NULL)
		return;
	s->closed = true;
	nng_close(s->sock);
	for (int i = 0; i < s->nctx; i++)
		nng_aio_stop(s->ctxs[i].aio);
}

void
ipc_server_free(struct ipc_server *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->nctx; i++) {
		nng_aio_free(s->ctxs[i].aio);
		cJSON_Delete(s->ctxs[i].req.body);
	}
	free(s->ctxs);
	free(s);
}

/* ------------------------------------------------------------ client */

struct ipc_client {
	nng_socket sock;
	struct loopq *q;
	atomic_int npipes;		/* live connections, from nng's threads */
	bool closed;
	struct ipc_call *calls;		/* in flight; loop thread only */
};

struct ipc_call {
	struct loopq_item item;		/* first */
	struct ipc_client *cli;
	nng_ctx ctx;
	nng_aio *aio;
	bool receiving;
	long long deadline;
	int result;
	nng_msg *reply;
	uint64_t id;
	ipc_reply_fn cb;
	void *arg;
	struct ipc_call *prev, *next;	/* in the client's list */
};

/* nng's thread: counts the connections to the server. */
static void
ipc_client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_client *c = arg;
	(void)p;

	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&c->npipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&c->npipes, 1);
}

bool
ipc_client_connected(struct ipc_client *cli)
{
	return atomic_load(&cli->npipes) > 0;
}

struct ipc_client *
ipc_client_open(struct loopq *q, const char *url)
{
	struct ipc_client *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		fatalx("ipc: out of memory");
	c->q = q;
	if ((rv = nng_req0_open(&c->sock)) != 0)
		fatalx("ipc: req socket: %s", nng_strerror(rv));
	/* A forwarded request is not idempotent: never resend it. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, IPC_MAX_BODY + IPC_HDR_LEN);
	ipc_dial_tuning(c->sock);
	if (nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, ipc_client_pipe_cb, c) != 0 ||
	    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, ipc_client_pipe_cb, c) != 0)
		fatalx("ipc: cannot watch connections to %s", url);
	if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("ipc: cannot dial %s: %s", url, nng_strerror(rv));
	return c;
}

static void
ipc_call_free(struct ipc_call *call)
{
	struct ipc_client *cli = call->cli;

	if (call->prev)
		call->prev->next = call->next;
	else
		cli->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	nng_aio_free(call->aio);
	nng_ctx_close(call->ctx);
	if (call->reply != NULL)
		nng_msg_free(call->reply);
	free(call);
}

/* Loop thread: decode the reply and hand it to the caller. */
static void
ipc_call_finish(struct loopq_item *item)
{
	struct ipc_call *call = (struct ipc_call *)item;
	enum ipc_call_result res = IPC_CALL_FAILED;
	struct ipc_frame fr = { 0 };
	cJSON *body = NULL;

	if (call->result == NNG_ETIMEDOUT) {
		res = IPC_CALL_TIMEOUT;
	} else if (call->result == 0) {
		enum ipc_frame_err err = ipc_frame_parse(nng_msg_body(call->reply),
		    nng_msg_len(call->reply), &fr);
		if (err != IPC_OK)
			log_warnx("ipc: unreadable reply: %s", ipc_frame_strerror(err));
		else if (fr.id != call->id)
			log_warnx("ipc: reply id %llu for request %llu",
			    (unsigned long long)fr.id, (unsigned long long)call->id);
		else if ((body = json_parse_exact(fr.body, fr.body_len)) == NULL)
			log_warnx("ipc: reply body is not JSON");
		else
			res = IPC_CALL_OK;
	}
	if (call->cb != NULL && !call->cli->closed)
		call->cb(res, fr.type, body, call->arg);
	cJSON_Delete(body);
	ipc_call_free(call);
}

static void
ipc_call_aio_cb(void *arg)
{
	struct ipc_call *call = arg;
	int rv = nng_aio_result(call->aio);

	if (!call->receiving && rv == 0) {
		long long left = call->deadline - time_mono_ms();
		call->receiving = true;
		nng_aio_set_timeout(call->aio, left > 0 ? (nng_duration)left : 1);
		nng_ctx_recv(call->ctx, call->aio);
		return;
	}
	if (!call->receiving)
		nng_msg_free(nng_aio_get_msg(call->aio));
	call->result = rv;
	if (rv == 0)
		call->reply = nng_aio_get_msg(call->aio);
	loopq_push(call->cli->q, &call->item);
}

struct ipc_call *
ipc_call_start(struct ipc_client *cli, enum ipc_type type, uint64_t id,
    const char *body, size_t body_len, int timeout_ms, ipc_reply_fn cb,
    void *arg)
{
	struct ipc_call *call = calloc(1, sizeof(*call));
	nng_msg *m;

	if (call == NULL)
		return NULL;
	if ((m = ipc_msg_build(NULL, type, id, body, body_len)) == NULL) {
		free(call);
		return NULL;
	}
	if (nng_aio_alloc(&call->aio, ipc_call_aio_cb, call) != 0 ||
	    nng_ctx_open(&call->ctx, cli->sock) != 0) {
		if (call->aio != NULL)
			nng_aio_free(call->aio);
		nng_msg_free(m);
		free(call);
		return NULL;
	}
	call->item.run = ipc_call_finish;
	call->cli = cli, call->id = id, call->cb = cb, call->arg = arg;
	call->deadline = time_mono_ms() + timeout_ms;
	call->next = cli->calls;
	if (cli->calls)
		cli->calls->prev = call;
	cli->calls = call;
	nng_aio_set_timeout(call->aio, timeout_ms);
	nng_aio_set_msg(call->aio, m);
	nng_ctx_send(call->ctx, call->aio);
	return call;
}

void
ipc_call_cancel(struct ipc_call *call)
{
	call->cb = NULL;
	nng_aio_cancel(call->aio);
}

void
ipc_client_shutdown(struct ipc_client *cli)
{
	if (cli == NULL)
		return;
	cli->closed = true;
	nng_close(cli->sock);
	for (struct ipc_call *c = cli->calls; c != NULL; c = c->next)
		nng_aio_stop(c->aio);
}

void
ipc_client_free(struct ipc_client *cli)
{
	if (cli == NULL)
		return;
	if (cli->calls != NULL)
		fatalx("ipc: client freed with calls in flight");
	free(cli);
}

/* ------------------------------------------------------------ pub/sub */

struct ipc_pub {
	nng_socket sock;
};

struct ipc_pub *
ipc_pub_open(const char *url)
{
	struct ipc_pub *p = calloc(1, sizeof(*p));
	int rv;

	if (p == NULL)
		fatalx("ipc: out of memory");
	if ((rv = nng_pub0_open(&p->sock)) != 0)
		fatalx("ipc: pub socket: %s", nng_strerror(rv));
	if ((rv = nng_listen(p->sock, url, NULL, 0)) != 0)
		fatalx("ipc: cannot listen on %s: %s", url, nng_strerror(rv));
	log_info("ipc: publishing events on %s", url);
	return p;
}

int
ipc_publish(struct ipc_pub *p, const char *topic, const cJSON *body)
{
	char *text = cJSON_PrintUnformatted(body);
	nng_msg *m;
	int rv;

	if (text == NULL || strlen(topic) > IPC_MAX_TOPIC) {
		free(text);
		return -1;
	}
	m = ipc_msg_build(topic, IPC_EVENT, 0, text, strlen(text));
	free(text);
	if (m == NULL)
		return -1;
	if ((rv = nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(m);
		log_warnx("ipc: publish on %s: %s", topic, nng_strerror(rv));
		return -1;
	}
	return 0;
}

void
ipc_pub_close(struct ipc_pub *p)
{
	if (p == NULL)
		return;
	nng_close(p->sock);
	free(p);
}

struct ipc_sub {
	nng_socket sock;
	bool closed;
	nng_aio *aio;
	struct loopq *q;
	ipc_event_fn fn;
	void *arg;
};

struct ipc_sub_item {
	struct loopq_item item;		/* first */
	struct ipc_sub *sub;
	nng_msg *msg;
};

static void
ipc_sub_deliver(struct loopq_item *item)
{
	struct ipc_sub_item *it = (struct ipc_sub_item *)item;
	struct ipc_frame fr;
	enum ipc_frame_err err;
	cJSON *body;

	err = ipc_event_parse(nng_msg_body(it->msg), nng_msg_len(it->msg), &fr);
	if (it->sub->closed)
		;	/* shutting down: drop it */
	else if (err != IPC_OK)
		log_warnx("ipc: dropping an event: %s", ipc_frame_strerror(err));
	else if ((body = json_parse_exact(fr.body, fr.body_len)) == NULL)
		log_warnx("ipc: dropping an event on %s: body is not JSON", fr.topic);
	else {
		it->sub->fn(fr.topic, body, it->sub->arg);
		cJSON_Delete(body);
	}
	nng_msg_free(it->msg);
	free(it);
}

static void
ipc_sub_aio_cb(void *arg)
{
	struct ipc_sub *sub = arg;
	int rv = nng_aio_result(sub->aio);
	struct ipc_sub_item *it;

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv == 0) {
		nng_msg *m = nng_aio_get_msg(sub->aio);
		if ((it = calloc(1, sizeof(*it))) == NULL) {
			nng_msg_free(m);
		} else {
			it->item.run = ipc_sub_deliver;
			it->sub = sub, it->msg = m;
			loopq_push(sub->q, &it->item);
		}
	}
	nng_recv_aio(sub->sock, sub->aio);
}

struct ipc_sub *
ipc_sub_open(struct loopq *q, const char *url, ipc_event_fn fn, void *arg)
{
	struct ipc_sub *sub = calloc(1, sizeof(*sub));
	int rv;

	if (sub == NULL)
		fatalx("ipc: out of memory");
	sub->q = q, sub->fn = fn, sub->arg = arg;
	if ((rv = nng_sub0_open(&sub->sock)) != 0)
		fatalx("ipc: sub socket: %s", nng_strerror(rv));
	ipc_dial_tuning(sub->sock);
	if ((rv = nng_dial(sub->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("ipc: cannot dial %s: %s", url, nng_strerror(rv));
	if (nng_aio_alloc(&sub->aio, ipc_sub_aio_cb, sub) != 0)
		fatalx("ipc: out of memory");
	nng_recv_aio(sub->sock, sub->aio);
	return sub;
}

int
ipc_sub_subscribe(struct ipc_sub *sub, const char *prefix)
{
	return nng_socket_set(sub->sock, NNG_OPT_SUB_SUBSCRIBE, prefix,
	    strlen(prefix)) == 0 ? 0 : -1;
}

void
ipc_sub_shutdown(struct ipc_sub *sub)
{
	if (sub == NULL)
		return;
	sub->closed = true;
	nng_close(sub->sock);
	nng_aio_stop(sub->aio);
}

void
ipc_sub_free(struct ipc_sub *sub)
{
	if (sub == NULL)
		return;
	nng_aio_free(sub->aio);
	free(sub);
}
