#include "ipc.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "metrics.h"
#include "uuid.h"

#define IPC_RECONNECT_MIN_MS 100
#define IPC_RECONNECT_MAX_MS 1000
#define IPC_QUEUE_MSGS 1024		/* nng's send and receive queues */
#define IPC_EVENT_QUEUE_MSGS 8192	/* nng's most: events are dropped
					 * when a subscriber's is full */
#define IPC_BACKTRACE_MAX 64		/* bytes of a raw REP request header */
#define IPC_CALL_BUCKETS 1024
#define IPC_BATCH_BYTES (256 * 1024)	/* send a batch early past this */
#define IPC_OUT_PIPES 8			/* peers a server batches replies for */

/* IPC metric families (docs/operations.md, "Metrics"), registered by the
 * open function of each role; updated on the loop's thread only. */
static struct {
	struct metric *srv_requests, *srv_duration, *srv_inflight, *srv_refused;
	struct metric *calls, *call_duration, *calls_unsent;
	struct metric *published, *publish_failed, *received;
} ipc_m;

static const char *const ipc_type_label[] = { "type", NULL };
static const char *const ipc_topic_label[] = { "topic", NULL };

static void
ipc_metrics_server(void)
{
	ipc_m.srv_requests = metrics_counter("enclavr_ipc_requests_total",
	    "IPC requests served, by type.", ipc_type_label);
	ipc_m.srv_duration = metrics_histogram("enclavr_ipc_request_duration_seconds",
	    "Time from an IPC request's arrival to its reply, by type.",
	    ipc_type_label, metrics_latency_buckets, metrics_latency_nbuckets);
	ipc_m.srv_inflight = metrics_gauge("enclavr_ipc_requests_in_flight",
	    "IPC requests handed to handlers and not yet answered.", NULL);
	ipc_m.srv_refused = metrics_counter("enclavr_ipc_requests_refused_total",
	    "IPC requests refused unread (bad frame, body not JSON).", NULL);
}

static void
ipc_metrics_client(void)
{
	static const char *const rl[] = { "upstream", "result", NULL };
	static const char *const ul[] = { "upstream", NULL };

	ipc_m.calls = metrics_counter("enclavr_ipc_calls_total",
	    "IPC calls made, by upstream and result (ok, timeout, failed).", rl);
	ipc_m.call_duration = metrics_histogram("enclavr_ipc_call_duration_seconds",
	    "Time from an IPC call to its reply or timeout, by upstream.", ul,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	ipc_m.calls_unsent = metrics_counter("enclavr_ipc_calls_unsent_total",
	    "IPC calls that could not be sent (no connection, out of memory).", ul);
}

/* The first dot-separated part of topic ("room" of "room.<uuid>"): a
 * label with few values. */
static void
ipc_topic_kind(const char *topic, char *out, size_t outlen)
{
	size_t n = strcspn(topic, ".");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, topic, n);
	out[n] = '\0';
}

/* Appends one frame to m. */
static int
ipc_frame_append(nng_msg *m, enum ipc_type type, uint64_t id, const char *body,
    size_t len)
{
	uint8_t hdr[IPC_HDR_LEN];

	if (len > IPC_MAX_BODY)
		return -1;
	ipc_hdr_pack(hdr, type, id, (uint32_t)len);
	return nng_msg_append(m, hdr, sizeof(hdr)) == 0 &&
	    nng_msg_append(m, body, len) == 0 ? 0 : -1;
}

/* An event that runs once the loop has run everything else that is ready:
 * what this turn produced is then sent as one batch. */
static struct event *
ipc_flush_event(struct event_base *base, event_callback_fn cb, void *arg)
{
	struct event *ev = event_new(base, -1, 0, cb, arg);

	if (ev == NULL)
		fatalx("ipc: out of memory");
	event_priority_set(ev, event_base_get_npriorities(base) - 1);
	return ev;
}

static void
ipc_socket_tuning(nng_socket s)
{
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, IPC_RECONNECT_MIN_MS);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, IPC_RECONNECT_MAX_MS);
	nng_socket_set_int(s, NNG_OPT_SENDBUF, IPC_QUEUE_MSGS);
	nng_socket_set_int(s, NNG_OPT_RECVBUF, IPC_QUEUE_MSGS);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, IPC_MAX_BODY + IPC_HDR_LEN + IPC_MAX_TOPIC + 1);
}

/* A persistent read event on the socket's pollable receive descriptor. */
static struct event *
ipc_watch(struct event_base *base, nng_socket s, event_callback_fn cb, void *arg)
{
	struct event *ev;
	int fd;

	if (nng_socket_get_int(s, NNG_OPT_RECVFD, &fd) != 0 ||
	    (ev = event_new(base, fd, EV_READ | EV_PERSIST, cb, arg)) == NULL ||
	    event_add(ev, NULL) < 0)
		fatalx("ipc: cannot watch a socket");
	return ev;
}

/* The next waiting message, or NULL when none waits. */
static nng_msg *
ipc_recv_nowait(nng_socket s)
{
	nng_msg *m;
	int rv = nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK);

	if (rv == 0)
		return m;
	if (rv != NNG_EAGAIN && rv != NNG_ECLOSED)
		log_warnx("ipc: receive: %s", nng_strerror(rv));
	return NULL;
}

/* ------------------------------------------------------------ server */

/* A request held by a handler: the request and where the reply goes. */
struct ipc_srv_req {
	struct ipc_request req;		/* first */
	struct ipc_server *srv;
	struct ipc_srv_req *prev, *next;
	double started;			/* metrics_now() at arrival */
	size_t btlen;
	uint8_t backtrace[IPC_BACKTRACE_MAX];
};

/* Replies waiting for the end of the loop turn, one batch per peer: the
 * first 4 bytes of a raw REP backtrace name the pipe it came in on. */
struct ipc_srv_out {
	uint8_t pipe[4];
	nng_msg *msg;
};

struct ipc_server {
	nng_socket sock;
	struct event *ev, *flush;
	ipc_request_fn fn;
	void *arg;
	int max_inflight;
	int inflight;
	struct ipc_srv_req *live;
	struct ipc_srv_out out[IPC_OUT_PIPES];
	int nout;
};

static void
ipc_srv_flush_one(struct ipc_server *s, struct ipc_srv_out *o)
{
	int rv = nng_sendmsg(s->sock, o->msg, NNG_FLAG_NONBLOCK);

	if (rv != 0) {
		log_warnx("ipc: a batch of replies was dropped: %s", nng_strerror(rv));
		nng_msg_free(o->msg);
	}
	o->msg = NULL;
}

static void
ipc_srv_flush(struct ipc_server *s)
{
	for (int i = 0; i < s->nout; i++)
		ipc_srv_flush_one(s, &s->out[i]);
	s->nout = 0;
}

static void
ipc_srv_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	ipc_srv_flush(arg);
}

/* The batch for the peer of backtrace bt, started if need be. */
static struct ipc_srv_out *
ipc_srv_out_for(struct ipc_server *s, const uint8_t *bt, size_t btlen)
{
	struct ipc_srv_out *o;

	for (int i = 0; i < s->nout; i++)
		if (memcmp(s->out[i].pipe, bt, 4) == 0)
			return &s->out[i];
	if (s->nout == IPC_OUT_PIPES)
		ipc_srv_flush(s);
	o = &s->out[s->nout];
	if (nng_msg_alloc(&o->msg, 0) != 0)
		return NULL;
	if (nng_msg_header_append(o->msg, bt, btlen) != 0) {
		nng_msg_free(o->msg);
		return NULL;
	}
	memcpy(o->pipe, bt, 4);
	if (s->nout++ == 0)
		event_active(s->flush, 0, 0);
	return o;
}

static void
ipc_srv_send(struct ipc_server *s, const uint8_t *bt, size_t btlen,
    enum ipc_type type, uint64_t id, const char *text, size_t len)
{
	struct ipc_srv_out *o = btlen >= 4 ? ipc_srv_out_for(s, bt, btlen) : NULL;

	if (o == NULL || ipc_frame_append(o->msg, type, id, text, len) < 0) {
		log_warnx("ipc: cannot queue the reply to %llu", (unsigned long long)id);
		return;
	}
	if (nng_msg_len(o->msg) >= IPC_BATCH_BYTES)
		ipc_srv_flush(s);
}

static void
ipc_srv_refuse(struct ipc_server *s, const uint8_t *bt, size_t btlen,
    uint64_t id, const char *why)
{
	char *text = json_error_body("bad_request", why);

	ipc_srv_send(s, bt, btlen, IPC_ERROR, id, text ? text : "{}",
	    text ? strlen(text) : 2);
	free(text);
}

/* Hands one request of a batch to the daemon, or refuses it. */
static void
ipc_srv_take(struct ipc_server *s, const uint8_t *bt, size_t btlen,
    const struct ipc_frame *fr)
{
	struct ipc_srv_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->srv = s;
	r->btlen = btlen;
	memcpy(r->backtrace, bt, btlen);
	if ((r->req.body = json_parse_exact(fr->body, fr->body_len)) == NULL) {
		log_warnx("ipc: refusing request %llu: body is not JSON",
		    (unsigned long long)fr->id);
		metrics_inc(ipc_m.srv_refused, NULL);
		ipc_srv_refuse(s, bt, btlen, fr->id, "body is not JSON");
		free(r);
		return;
	}
	r->req.type = fr->type;
	r->req.id = fr->id;
	r->started = metrics_now();
	r->next = s->live;
	if (s->live)
		s->live->prev = r;
	s->live = r;
	s->inflight++;
	metrics_set(ipc_m.srv_inflight, NULL, s->inflight);
	s->fn(&r->req, s->arg);
}

/* Serves every request of one message; a malformed frame ends the batch. */
static void
ipc_srv_take_batch(struct ipc_server *s, nng_msg *m)
{
	const uint8_t *buf = nng_msg_body(m);
	size_t len = nng_msg_len(m), off = 0, btlen = nng_msg_header_len(m);
	uint8_t bt[IPC_BACKTRACE_MAX];
	struct ipc_frame fr;
	enum ipc_frame_err err;

	if (btlen < 4 || btlen > IPC_BACKTRACE_MAX) {
		nng_msg_free(m);
		return;
	}
	memcpy(bt, nng_msg_header(m), btlen);
	while (off < len) {
		if ((err = ipc_frame_next(buf, len, &off, &fr)) != IPC_OK) {
			log_warnx("ipc: refusing a request: %s%s", ipc_frame_strerror(err),
			    err == IPC_EVERSION ? " (peer runs another protocol version)" : "");
			ipc_srv_refuse(s, bt, btlen, 0, ipc_frame_strerror(err));
			metrics_inc(ipc_m.srv_refused, NULL);
			break;
		}
		ipc_srv_take(s, bt, btlen, &fr);
	}
	nng_msg_free(m);
}

static void
ipc_srv_readable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_server *s = arg;
	nng_msg *m;
	(void)fd, (void)what;

	while (s->inflight < s->max_inflight && (m = ipc_recv_nowait(s->sock)) != NULL)
		ipc_srv_take_batch(s, m);
	if (s->inflight >= s->max_inflight)
		event_del(s->ev);	/* resumed by ipc_reply */
}

struct ipc_server *
ipc_server_open(struct event_base *base, const char *url, int max_inflight,
    ipc_request_fn fn, void *arg)
{
	struct ipc_server *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL)
		fatalx("ipc: out of memory");
	s->fn = fn, s->arg = arg, s->max_inflight = max_inflight;
	ipc_metrics_server();
	if ((rv = nng_rep0_open_raw(&s->sock)) != 0)
		fatalx("ipc: rep socket: %s", nng_strerror(rv));
	ipc_socket_tuning(s->sock);
	if ((rv = nng_listen(s->sock, url, NULL, 0)) != 0)
		fatalx("ipc: cannot listen on %s: %s", url, nng_strerror(rv));
	s->ev = ipc_watch(base, s->sock, ipc_srv_readable_cb, s);
	s->flush = ipc_flush_event(base, ipc_srv_flush_cb, s);
	log_info("ipc: serving requests on %s", url);
	return s;
}

static void
ipc_srv_req_free(struct ipc_srv_req *r)
{
	struct ipc_server *s = r->srv;

	if (r->prev)
		r->prev->next = r->next;
	else
		s->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	cJSON_Delete(r->req.body);
	free(r);
}

void
ipc_reply(struct ipc_request *req, enum ipc_type type, cJSON *body)
{
	struct ipc_srv_req *r = (struct ipc_srv_req *)req;
	struct ipc_server *s = r->srv;
	char *text = body ? cJSON_PrintUnformatted(body) : strdup("{}");
	const char *tl[] = { ipc_type_name(req->type) };

	metrics_inc(ipc_m.srv_requests, tl);
	metrics_observe(ipc_m.srv_duration, tl, metrics_now() - r->started);
	cJSON_Delete(body);
	if (text == NULL) {
		log_warnx("ipc: reply %llu could not be encoded", (unsigned long long)req->id);
		ipc_srv_refuse(s, r->backtrace, r->btlen, req->id, "reply could not be encoded");
	} else {
		ipc_srv_send(s, r->backtrace, r->btlen, type, req->id, text, strlen(text));
	}
	free(text);
	ipc_srv_req_free(r);
	metrics_set(ipc_m.srv_inflight, NULL, s->inflight - 1);
	if (s->inflight-- == s->max_inflight) {
		event_add(s->ev, NULL);
		event_active(s->ev, EV_READ, 0);	/* what queued meanwhile */
	}
}

int
ipc_server_inflight(const struct ipc_server *srv)
{
	return srv->inflight;
}

void
ipc_server_close(struct ipc_server *s)
{
	if (s == NULL)
		return;
	ipc_srv_flush(s);
	event_free(s->ev);
	event_free(s->flush);
	nng_close(s->sock);
	while (s->live != NULL)
		ipc_srv_req_free(s->live);
	free(s);
}

/* ------------------------------------------------------------ client */

struct ipc_call {
	struct ipc_client *cli;
	uint64_t id;
	uint64_t batch;			/* the batch it was sent in */
	struct event *timer;
	ipc_reply_fn cb;
	void *arg;
	double started;			/* metrics_now() when sent */
	struct ipc_call *hnext;		/* in the client's id table */
};

#define IPC_CLIENT_PIPES 16		/* one dialer: one pipe, a few closing */

struct ipc_client {
	nng_socket sock;
	struct event_base *base;
	struct event *ev;
	nng_mtx *pipes_mx;		/* pipes, from nng's threads */
	int pipes[IPC_CLIENT_PIPES];	/* ids of the live connections */
	int npipes;
	int gone[IPC_CLIENT_PIPES];	/* removed before added: a ring */
	int gone_next;
	atomic_bool connected;		/* npipes > 0 */
	uint64_t next_id;
	struct ipc_call *calls[IPC_CALL_BUCKETS];
	nng_msg *out;			/* requests of this loop turn */
	uint64_t batch;			/* number of the batch being built */
	struct event *flush;
	char name[64];			/* the upstream label of its metrics */
};

static void ipc_client_flush_cb(evutil_socket_t fd, short what, void *arg);

/* Takes id out of ids[0..n-1]: a list of *count ids, the last moving into
 * its place, or (count NULL) a ring, where its slot is cleared. False when
 * it was not there. */
static bool
ipc_ids_take(int *ids, int n, int *count, int id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id) {
			ids[i] = count != NULL ? ids[--*count] : 0;
			return true;
		}
	return false;
}

/* nng's thread: keeps the ids of the connections to the server. nng also
 * reports the removal of a pipe that closed before it was added (between
 * ADD_PRE and ADD_POST), and runs the removal of a pipe closed during its
 * addition possibly before the addition's callback. Counting events, the
 * first would take a live connection off the count, so that the client
 * thinks itself disconnected for as long as that connection lasts; with
 * ids alone, the second would leave a dead connection counted. A removal
 * of an unknown id is therefore remembered, and cancels its addition. */
static void
ipc_client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_client *c = arg;
	int id = nng_pipe_id(p);

	nng_mtx_lock(c->pipes_mx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (!ipc_ids_take(c->gone, IPC_CLIENT_PIPES, NULL, id) &&
		    c->npipes < IPC_CLIENT_PIPES)
			c->pipes[c->npipes++] = id;
	} else if (ev == NNG_PIPE_EV_REM_POST &&
	    !ipc_ids_take(c->pipes, c->npipes, &c->npipes, id)) {
		c->gone[c->gone_next] = id;
		c->gone_next = (c->gone_next + 1) % IPC_CLIENT_PIPES;
	}
	atomic_store(&c->connected, c->npipes > 0);
	nng_mtx_unlock(c->pipes_mx);
}

bool
ipc_client_connected(struct ipc_client *cli)
{
	return atomic_load(&cli->connected);
}

/* Removes the call with id from the table and returns it, or NULL. */
static struct ipc_call *
ipc_call_take(struct ipc_client *cli, uint64_t id)
{
	struct ipc_call **pp = &cli->calls[id % IPC_CALL_BUCKETS], *c;

	for (; (c = *pp) != NULL; pp = &c->hnext) {
		if (c->id == id) {
			*pp = c->hnext;
			return c;
		}
	}
	return NULL;
}

static void
ipc_call_free(struct ipc_call *call)
{
	event_free(call->timer);
	free(call);
}

/* Runs the callback, then frees the call (already out of the table). */
static void
ipc_call_finish(struct ipc_call *call, enum ipc_call_result res, int type,
    cJSON *body)
{
	static const char *const results[] = { "ok", "timeout", "failed" };
	const char *rl[] = { call->cli->name, results[res] };

	metrics_inc(ipc_m.calls, rl);
	metrics_observe(ipc_m.call_duration, rl, metrics_now() - call->started);
	call->cb(res, type, body, call->arg);
	ipc_call_free(call);
}

static void
ipc_client_deliver(struct ipc_client *cli, const struct ipc_frame *fr)
{
	struct ipc_call *call = ipc_call_take(cli, fr->id);
	cJSON *body;

	if (call == NULL) {
		log_debug("ipc: late reply %llu dropped", (unsigned long long)fr->id);
	} else if ((body = json_parse_exact(fr->body, fr->body_len)) == NULL) {
		log_warnx("ipc: reply %llu is not JSON", (unsigned long long)fr->id);
		ipc_call_finish(call, IPC_CALL_FAILED, fr->type, NULL);
	} else {
		ipc_call_finish(call, IPC_CALL_OK, fr->type, body);
		cJSON_Delete(body);
	}
}

/* Delivers every reply of one message. */
static void
ipc_client_deliver_batch(struct ipc_client *cli, nng_msg *m)
{
	const uint8_t *buf = nng_msg_body(m);
	size_t len = nng_msg_len(m), off = 0;
	struct ipc_frame fr;
	enum ipc_frame_err err;

	while (off < len) {
		if ((err = ipc_frame_next(buf, len, &off, &fr)) != IPC_OK) {
			log_warnx("ipc: unreadable reply: %s", ipc_frame_strerror(err));
			break;
		}
		ipc_client_deliver(cli, &fr);
	}
	nng_msg_free(m);
}

static void
ipc_client_readable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_client *cli = arg;
	nng_msg *m;
	(void)fd, (void)what;

	while ((m = ipc_recv_nowait(cli->sock)) != NULL)
		ipc_client_deliver_batch(cli, m);
}

/* The upstream label of a client: "chatd" for ipc:///run/enclavr/chatd.rep,
 * else the URL without its scheme ("10.0.0.2:7001"). */
static void
ipc_client_name(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *slash, *dot;
	size_t n;

	p = p ? p + 3 : url;
	if (strncmp(url, "ipc://", 6) == 0 && (slash = strrchr(p, '/')) != NULL)
		p = slash + 1;
	n = strlen(p);
	if (strncmp(url, "ipc://", 6) == 0 && (dot = strrchr(p, '.')) != NULL)
		n = (size_t)(dot - p);
	snprintf(out, outlen, "%.*s", (int)n, p);
}

struct ipc_client *
ipc_client_open(struct event_base *base, const char *url)
{
	struct ipc_client *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		fatalx("ipc: out of memory");
	c->base = base;
	if (nng_mtx_alloc(&c->pipes_mx) != 0)
		fatalx("ipc: out of memory");
	ipc_client_name(url, c->name, sizeof(c->name));
	ipc_metrics_client();
	if ((rv = nng_req0_open_raw(&c->sock)) != 0)
		fatalx("ipc: req socket: %s", nng_strerror(rv));
	ipc_socket_tuning(c->sock);
	if (nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, ipc_client_pipe_cb, c) != 0 ||
	    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, ipc_client_pipe_cb, c) != 0)
		fatalx("ipc: cannot watch connections to %s", url);
	if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("ipc: cannot dial %s: %s", url, nng_strerror(rv));
	c->ev = ipc_watch(base, c->sock, ipc_client_readable_cb, c);
	c->flush = ipc_flush_event(base, ipc_client_flush_cb, c);
	return c;
}

static void
ipc_call_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_call *call = arg;
	(void)fd, (void)what;

	ipc_call_take(call->cli, call->id);
	ipc_call_finish(call, IPC_CALL_TIMEOUT, 0, NULL);
}

/* Fails every call of batch n: its message could not be sent. */
static void
ipc_client_fail_batch(struct ipc_client *cli, uint64_t n)
{
	for (int i = 0; i < IPC_CALL_BUCKETS; i++) {
		struct ipc_call *c = cli->calls[i], *next;
		for (; c != NULL; c = next) {
			next = c->hnext;
			if (c->batch == n) {
				ipc_call_take(cli, c->id);
				ipc_call_finish(c, IPC_CALL_FAILED, 0, NULL);
			}
		}
	}
}

/* Sends the requests of this loop turn as one message. */
static void
ipc_client_flush(struct ipc_client *cli)
{
	nng_msg *m = cli->out;
	uint64_t n = cli->batch++;
	int rv;

	if (m == NULL)
		return;
	cli->out = NULL;
	if ((rv = nng_sendmsg(cli->sock, m, NNG_FLAG_NONBLOCK)) != 0) {
		log_warnx("ipc: a batch of requests could not be sent: %s", nng_strerror(rv));
		nng_msg_free(m);
		ipc_client_fail_batch(cli, n);
	}
}

static void
ipc_client_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	ipc_client_flush(arg);
}

/* Adds a request to this turn's batch. A batch starts with the raw REQ
 * header nng expects: a 32-bit request id with its top bit set. */
static int
ipc_client_queue(struct ipc_client *cli, uint64_t id, enum ipc_type type,
    const char *body, size_t len)
{
	if (cli->out == NULL) {
		if (nng_msg_alloc(&cli->out, 0) != 0)
			return -1;
		if (nng_msg_header_append_u32(cli->out,
		    0x80000000u | (uint32_t)(cli->batch & 0x7fffffff)) != 0) {
			nng_msg_free(cli->out);
			cli->out = NULL;
			return -1;
		}
		event_active(cli->flush, 0, 0);
	}
	return ipc_frame_append(cli->out, type, id, body, len);
}

struct ipc_call *
ipc_call_start(struct ipc_client *cli, enum ipc_type type, const char *body,
    size_t body_len, int timeout_ms, ipc_reply_fn cb, void *arg)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct ipc_call *call;
	uint64_t id = ++cli->next_id;

	const char *ul[] = { cli->name };

	if (!ipc_client_connected(cli) || (call = calloc(1, sizeof(*call))) == NULL) {
		metrics_inc(ipc_m.calls_unsent, ul);
		return NULL;
	}
	call->cli = cli, call->id = id, call->cb = cb, call->arg = arg;
	call->started = metrics_now();
	if ((call->timer = evtimer_new(cli->base, ipc_call_timeout_cb, call)) == NULL ||
	    ipc_client_queue(cli, id, type, body, body_len) < 0) {
		if (call->timer)
			event_free(call->timer);
		free(call);
		metrics_inc(ipc_m.calls_unsent, ul);
		return NULL;
	}
	call->batch = cli->batch;
	evtimer_add(call->timer, &tv);
	call->hnext = cli->calls[id % IPC_CALL_BUCKETS];
	cli->calls[id % IPC_CALL_BUCKETS] = call;
	if (nng_msg_len(cli->out) >= IPC_BATCH_BYTES)
		ipc_client_flush(cli);
	return call;
}

void
ipc_call_cancel(struct ipc_call *call)
{
	ipc_call_take(call->cli, call->id);
	ipc_call_free(call);
}

void
ipc_client_close(struct ipc_client *cli)
{
	if (cli == NULL)
		return;
	event_free(cli->ev);
	event_free(cli->flush);
	if (cli->out != NULL)
		nng_msg_free(cli->out);
	nng_close(cli->sock);		/* no pipe callback after this */
	nng_mtx_free(cli->pipes_mx);
	for (int i = 0; i < IPC_CALL_BUCKETS; i++) {
		while (cli->calls[i] != NULL) {
			struct ipc_call *c = cli->calls[i];
			cli->calls[i] = c->hnext;
			ipc_call_free(c);
		}
	}
	free(cli);
}

/* ------------------------------------------------------------ pub/sub */

/* How long a closing publisher waits after its last event: events
 * published just before a shutdown (presence going offline...) still
 * reach the subscribers, and nng 1.5 does not leak a message that is
 * still being sent when its pipe closes. */
#define IPC_PUB_LINGER_MS 200

struct ipc_pub {
	nng_socket sock;
	long long last_ms;		/* monotonic time of the last event */
};

struct ipc_pub *
ipc_pub_open(const char *url)
{
	struct ipc_pub *p = calloc(1, sizeof(*p));
	int rv;

	if (p == NULL)
		fatalx("ipc: out of memory");
	ipc_m.published = metrics_counter("enclavr_ipc_events_published_total",
	    "Events published, by topic kind (room, dm, heartbeat...).", ipc_topic_label);
	ipc_m.publish_failed = metrics_counter("enclavr_ipc_events_publish_failed_total",
	    "Events that could not be published, by topic kind.", ipc_topic_label);
	if ((rv = nng_pub0_open(&p->sock)) != 0)
		fatalx("ipc: pub socket: %s", nng_strerror(rv));
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, IPC_EVENT_QUEUE_MSGS);
	if ((rv = nng_listen(p->sock, url, NULL, 0)) != 0)
		fatalx("ipc: cannot listen on %s: %s", url, nng_strerror(rv));
	log_info("ipc: publishing events on %s", url);
	return p;
}

int
ipc_publish(struct ipc_pub *p, const char *topic, const cJSON *body)
{
	char *text = cJSON_PrintUnformatted(body);
	char kind[32];
	const char *tl[] = { kind };
	nng_msg *m;
	int rv;

	ipc_topic_kind(topic, kind, sizeof(kind));
	if (text == NULL || strlen(topic) > IPC_MAX_TOPIC) {
		free(text);
		metrics_inc(ipc_m.publish_failed, tl);
		return -1;
	}
	if (nng_msg_alloc(&m, 0) != 0) {
		free(text);
		metrics_inc(ipc_m.publish_failed, tl);
		return -1;
	}
	if (nng_msg_append(m, topic, strlen(topic) + 1) != 0 ||
	    ipc_frame_append(m, IPC_EVENT, 0, text, strlen(text)) < 0) {
		free(text);
		nng_msg_free(m);
		metrics_inc(ipc_m.publish_failed, tl);
		return -1;
	}
	free(text);
	if ((rv = nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(m);
		log_warnx("ipc: publish on %s: %s", topic, nng_strerror(rv));
		metrics_inc(ipc_m.publish_failed, tl);
		return -1;
	}
	p->last_ms = time_mono_ms();
	metrics_inc(ipc_m.published, tl);
	return 0;
}

void
ipc_pub_close(struct ipc_pub *p)
{
	long long quiet;

	if (p == NULL)
		return;
	quiet = time_mono_ms() - p->last_ms;
	if (p->last_ms != 0 && quiet < IPC_PUB_LINGER_MS)
		nng_msleep((nng_duration)(IPC_PUB_LINGER_MS - quiet));
	nng_close(p->sock);
	free(p);
}

struct ipc_sub {
	nng_socket sock;
	struct event *ev;
	ipc_event_fn fn;
	void *arg;
	atomic_uint connects;		/* connections made to the publisher */
};

/* nng's thread: counts the connections made. */
static void
ipc_sub_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_sub *sub = arg;
	(void)p, (void)ev;

	atomic_fetch_add(&sub->connects, 1);
}

static void
ipc_sub_deliver(struct ipc_sub *sub, nng_msg *m)
{
	struct ipc_frame fr;
	enum ipc_frame_err err = ipc_event_parse(nng_msg_body(m), nng_msg_len(m), &fr);
	cJSON *body;

	if (err != IPC_OK)
		log_warnx("ipc: dropping an event: %s", ipc_frame_strerror(err));
	else if ((body = json_parse_exact(fr.body, fr.body_len)) == NULL)
		log_warnx("ipc: dropping an event on %s: body is not JSON", fr.topic);
	else {
		char kind[32];
		const char *tl[] = { kind };

		ipc_topic_kind(fr.topic, kind, sizeof(kind));
		metrics_inc(ipc_m.received, tl);
		sub->fn(fr.topic, body, sub->arg);
		cJSON_Delete(body);
	}
	nng_msg_free(m);
}

static void
ipc_sub_readable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_sub *sub = arg;
	nng_msg *m;
	(void)fd, (void)what;

	while ((m = ipc_recv_nowait(sub->sock)) != NULL)
		ipc_sub_deliver(sub, m);
}

struct ipc_sub *
ipc_sub_open(struct event_base *base, const char *url, ipc_event_fn fn, void *arg)
{
	struct ipc_sub *sub = calloc(1, sizeof(*sub));
	int rv;

	if (sub == NULL)
		fatalx("ipc: out of memory");
	sub->fn = fn, sub->arg = arg;
	ipc_m.received = metrics_counter("enclavr_ipc_events_received_total",
	    "Events received from publishers, by topic kind.", ipc_topic_label);
	if ((rv = nng_sub0_open(&sub->sock)) != 0)
		fatalx("ipc: sub socket: %s", nng_strerror(rv));
	ipc_socket_tuning(sub->sock);
	nng_socket_set_int(sub->sock, NNG_OPT_RECVBUF, IPC_EVENT_QUEUE_MSGS);
	if (nng_pipe_notify(sub->sock, NNG_PIPE_EV_ADD_POST, ipc_sub_pipe_cb, sub) != 0)
		fatalx("ipc: cannot watch connections to %s", url);
	if ((rv = nng_dial(sub->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		fatalx("ipc: cannot dial %s: %s", url, nng_strerror(rv));
	sub->ev = ipc_watch(base, sub->sock, ipc_sub_readable_cb, sub);
	return sub;
}

unsigned
ipc_sub_connects(struct ipc_sub *sub)
{
	return atomic_load(&sub->connects);
}

int
ipc_sub_subscribe(struct ipc_sub *sub, const char *prefix)
{
	return nng_socket_set(sub->sock, NNG_OPT_SUB_SUBSCRIBE, prefix,
	    strlen(prefix)) == 0 ? 0 : -1;
}

void
ipc_sub_close(struct ipc_sub *sub)
{
	if (sub == NULL)
		return;
	event_free(sub->ev);
	nng_close(sub->sock);
	free(sub);
}
