/* WebSocket connections at GET /api/ws (RFC 6455, framed by wsframe.c):
 * the upgrade (token, origin and handshake checks), JSON text messages,
 * and closing: 4001 when the session is revoked, 1001 when gatewayd
 * drains.
 * Room subscriptions and event fan-out build on this (docs/websocket.md). */
#include "gatewayd.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "json.h"
#include "log.h"
#include "uuid.h"
#include "validate.h"

#define GW_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define GW_WS_REFUSED_MAX 100	/* refused in a row before closing 1008 */

/* ------------------------------------------------------------ frames */

static void
gw_ws_frame_sent(const void *data, size_t len, void *arg)
{
	(void)data, (void)len;
	gw_frame_unref(arg);
}

static void gw_ws_close(struct gw_ws *ws, uint16_t code, const char *reason);
static void gw_ws_live_cb(evutil_socket_t fd, short what, void *arg);
static void gw_ws_live_arm(struct gw_ws *ws, long long now);

#define GW_WS_RECHECK_MS 200	/* a due close that waits for ws->out */

/* Keeps ws->queued, the length of ws->out, where sending a frame reads
 * it: beside the socket, not in the evbuffer's own memory. */
static void
gw_ws_out_changed(struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
	struct gw_ws *ws = arg;

	(void)out;
	ws->queued = info->orig_size + info->n_added - info->n_deleted;
}

/* A failed write that no wait will cure (reset by the peer, say). */
static bool
gw_ws_write_failed(void)
{
	return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* With TLS, frames must be encrypted by the connection's OpenSSL
 * bufferevent: up to this many bytes at a time move from ws->out to its
 * output, so that ws->out still measures how far behind the client is. */
#define GW_WS_TLS_INFLIGHT (64 * 1024)

static void
gw_ws_flush_tls(struct gw_ws *ws)
{
	struct evbuffer *bout = bufferevent_get_output(ws->conn->bev);
	size_t queued = evbuffer_get_length(bout);

	if (queued < GW_WS_TLS_INFLIGHT &&
	    evbuffer_remove_buffer(ws->out, bout, GW_WS_TLS_INFLIGHT - queued) < 0)
		gw_conn_close(ws->conn);
}

/* Writes what is queued, straight to the socket. The socket's output is
 * the WebSocket's own queue (ws->out), not the bufferevent's: only what the
 * kernel does not take waits for a one-shot write event (gw_ws_writable_cb).
 * A socket that keeps up costs one writev a frame and no epoll_ctl.
 * With TLS (no ws->wev), through the bufferevent instead. */
static void
gw_ws_flush(struct gw_ws *ws)
{
	if (ws->handshaking || evbuffer_get_length(ws->out) == 0)
		return;
	if (ws->wev == NULL) {
		gw_ws_flush_tls(ws);
		return;
	}
	if (event_pending(ws->wev, EV_WRITE, NULL))
		return;
	if (evbuffer_write(ws->out, ws->fd) < 0 && gw_ws_write_failed()) {
		gw_conn_close(ws->conn);
		return;
	}
	if (evbuffer_get_length(ws->out) > 0)
		event_add(ws->wev, NULL);
}

/* Sends f, whatever the queue's length. A socket that has taken all it
 * was sent takes f straight from the shared frame: one write, nothing
 * queued. What the socket does not take is queued by reference. */
static void
gw_ws_queue(struct gw_ws *ws, struct gw_frame *f)
{
	size_t sent = 0;

	if (ws->dead || ws->conn->closing)
		return;
	if (ws->wev != NULL && !ws->handshaking && ws->queued == 0) {
		ssize_t n = send(ws->fd, f->data, f->len, MSG_NOSIGNAL);

		if (n == (ssize_t)f->len)
			return;
		if (n < 0 && gw_ws_write_failed()) {
			gw_conn_close(ws->conn);
			return;
		}
		sent = n > 0 ? (size_t)n : 0;
	}
	f->refs++;
	if (evbuffer_add_reference(ws->out, f->data + sent, f->len - sent,
	    gw_ws_frame_sent, f) < 0)
		gw_frame_unref(f);
	gw_ws_flush(ws);
}

void
gw_ws_send_frame(struct gw_ws *ws, struct gw_frame *f)
{
	if ((long long)ws->queued > ws->conn->gw->conf->ws_max_queue) {
		/* A slow reader: it reconnects and resumes from its last seq. */
		gw_ws_close(ws, 1013, "too far behind; resume");
		return;
	}
	gw_metrics_fanout();
	if (ws->compat_conv[0] != '\0')
		gw_compat_dm_send(ws, f);
	else
		gw_ws_queue(ws, f);
}

bool
gw_ws_writable(struct gw_ws *ws)
{
	return !ws->dead && !ws->conn->closing &&
	    (long long)evbuffer_get_length(ws->out) < ws->conn->gw->conf->ws_max_queue / 2;
}

void
gw_ws_send_json(struct gw_ws *ws, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	struct gw_frame *f = text ? gw_frame_new(text, strlen(text), 0) : NULL;

	cJSON_Delete(o);
	free(text);
	if (f != NULL)		/* answers to the client: never a reason to drop it */
		gw_ws_queue(ws, f);
	gw_frame_unref(f);
}

void
gw_ws_send_error(struct gw_ws *ws, const char *room_id, const char *code,
    const char *message)
{
	gw_ws_send_error_about(ws, "room_id", room_id, code, message);
}

void
gw_ws_send_error_about(struct gw_ws *ws, const char *key, const char *id,
    const char *code, const char *message)
{
	cJSON *o, *p;

	if (ws->compat_room[0] != '\0' || ws->compat_conv[0] != '\0') {
		gw_compat_send_error(ws, message);
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "error");
	if (id != NULL)
		cJSON_AddStringToObject(o, key, id);
	p = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(p, "code", code);
	cJSON_AddStringToObject(p, "message", message);
	gw_ws_send_json(ws, o);
}

/* ------------------------------------------------------------ messages */

/* One more client message: false when over the rate ([ws] rate_per_second,
 * burst); a client that keeps going regardless is closed with 1008. */
static bool
gw_ws_rate_ok(struct gw_ws *ws)
{
	const struct gw_conf *c = ws->conn->gw->conf;
	long long now = time_mono_ms();

	ws->tokens += (double)(now - ws->tokens_ms) * (double)c->ws_rate_per_s / 1000.0;
	ws->tokens_ms = now;
	if (ws->tokens > (double)c->ws_burst)
		ws->tokens = (double)c->ws_burst;
	if (ws->tokens >= 1.0) {
		ws->tokens -= 1.0;
		ws->refused = 0;
		return true;
	}
	if (++ws->refused >= GW_WS_REFUSED_MAX)
		gw_ws_close(ws, 1008, "too many messages");
	else
		gw_ws_send_error(ws, NULL, "rate_limited", "Too many messages; slow down");
	return false;
}

static void
gw_ws_pong(struct gw_ws *ws)
{
	cJSON *o = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	if (o == NULL)
		return;
	time_now_rfc3339(now, sizeof(now));
	cJSON_AddStringToObject(o, "type", "pong");
	cJSON_AddStringToObject(o, "timestamp", now);
	gw_ws_send_json(ws, o);
}

static void
gw_ws_typing_cb(int status, cJSON *body, void *arg)
{
	(void)status, (void)body, (void)arg;	/* best effort */
}

/* typing / stop-typing in a subscribed room, or in a conversation (its
 * members are checked by chatd): chatd records it and tells the room or
 * the conversation's members (on every gatewayd). */
void
gw_ws_typing(struct gw_ws *ws, const struct gw_kind *kind, const char *id, bool start)
{
	bool room = kind == &gw_kind_room;
	char query[112];

	if (room && !gw_hub_subscribed(ws, id)) {
		gw_ws_send_error(ws, id, "not_subscribed", "Subscribe to the room first");
		return;
	}
	snprintf(query, sizeof(query), "%s=%s&state=%s", room ? "room_id" : "conversation_id",
	    id, start ? "start" : "stop");
	if (gw_internal_call(ws->conn->gw, GW_CHATD,
	    room ? "/internal/chat/typing" : "/internal/dm/typing", query,
	    ws->user_id, gw_ws_typing_cb, NULL) == NULL)
		gw_ws_send_error_about(ws, room ? "room_id" : "conversation_id", id,
		    "unavailable", "chatd is not available");
}

/* The seq of a resume's payload, or -1 when it is not a whole number >= 0. */
static long long
gw_ws_resume_seq(const cJSON *m)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "payload");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(p, "seq");

	if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 || seq->valuedouble > 9e15 ||
	    seq->valuedouble != (double)(long long)seq->valuedouble)
		return -1;
	return (long long)seq->valuedouble;
}

/* subscribe, resume, unsubscribe, typing, stop-typing: about a room
 * ("room_id") or a conversation ("conversation_id"). */
static void
gw_ws_on_stream_message(struct gw_ws *ws, const cJSON *m, const char *type)
{
	const char *room = json_str(m, "room_id"), *conv = json_str(m, "conversation_id");
	const struct gw_kind *kind = conv != NULL && room == NULL ? &gw_kind_conv : &gw_kind_room;
	const char *given = kind == &gw_kind_conv ? conv : room;
	char id[UUID_STRLEN + 1];
	long long seq;

	if (given == NULL || !uuid_valid(given)) {
		gw_ws_send_error(ws, NULL, "invalid_room_id",
		    "room_id (or conversation_id) must be a UUID");
		return;
	}
	valid_uuid_lower(id, given);
	if (strcmp(type, "subscribe") == 0) {
		gw_hub_subscribe(ws, kind, id, -1);
	} else if (strcmp(type, "resume") == 0) {
		if ((seq = gw_ws_resume_seq(m)) < 0)
			gw_ws_send_error_about(ws, kind == &gw_kind_conv ? "conversation_id" : "room_id",
			    id, "invalid_seq", "payload.seq must be a whole number >= 0");
		else
			gw_hub_subscribe(ws, kind, id, seq);
	} else if (strcmp(type, "unsubscribe") == 0) {
		gw_hub_unsubscribe(ws, kind, id);
	} else {
		gw_ws_typing(ws, kind, id, strcmp(type, "typing") == 0);
	}
}

static void
gw_ws_on_text(struct gw_ws *ws, const char *text, size_t len)
{
	static const char *room_types[] = { "subscribe", "resume", "unsubscribe",
		"typing", "stop-typing", NULL };
	cJSON *m = json_parse_exact(text, len);
	const char *type = m ? json_str(m, "type") : NULL;
	bool known = false;

	if (!gw_ws_rate_ok(ws)) {
		cJSON_Delete(m);
		return;
	}
	if (ws->compat_room[0] != '\0' || ws->compat_conv[0] != '\0') {
		/* The reference: bad JSON is an error, no type is ignored. */
		if (m == NULL)
			gw_compat_send_error(ws, "Invalid message format");
		else if (type != NULL && ws->compat_room[0] != '\0')
			gw_compat_on_message(ws, m, type);
		else if (type != NULL)
			gw_compat_dm_on_message(ws, m, type);
		cJSON_Delete(m);
		return;
	}
	if (type == NULL) {
		gw_ws_send_error(ws, NULL, "invalid_message", "A message is a JSON object with a type");
		cJSON_Delete(m);
		return;
	}
	for (int i = 0; room_types[i] != NULL; i++)
		known |= strcmp(type, room_types[i]) == 0;
	if (known)
		gw_ws_on_stream_message(ws, m, type);
	else if (gw_voice_type(type))
		gw_voice_signal(ws, m, type);
	else if (strcmp(type, "ping") == 0)
		gw_ws_pong(ws);
	else
		gw_ws_send_error(ws, NULL, "unknown_type", "This message type is not supported");
	cJSON_Delete(m);
}

/* ------------------------------------------------------------ I/O */

/* Ends a socket that is done once its queue is out (else
 * gw_ws_writable_cb does). */
static void
gw_ws_settle(struct gw_ws *ws)
{
	gw_ws_flush(ws);
	if (ws->ending && !ws->conn->closing && evbuffer_get_length(ws->out) == 0)
		gw_conn_linger_now(ws->conn);
}

/* Queues our close frame: the last frame the socket sends. Reading goes
 * on until the client's close (or gw_ws_check gives up waiting). */
static void
gw_ws_send_close(struct gw_ws *ws, uint16_t code, const char *reason, size_t len)
{
	ws->dead = true;
	ws->close_ms = time_mono_ms();
	if (wsf_write_close(ws->out, code, reason, len) < 0)
		ws->ending = true;	/* out of memory: just end */
}

/* Starts a close handshake with code and reason. */
static void
gw_ws_close(struct gw_ws *ws, uint16_t code, const char *reason)
{
	if (ws->conn->closing || ws->dead)
		return;
	gw_ws_send_close(ws, code, reason, strlen(reason));
	gw_ws_settle(ws);
}

/* A ping gets a pong with its payload, unless we are closing, or the
 * client does not read what it is sent (RFC 6455 5.5.3 lets a pong be
 * skipped when a later ping is answered). */
static void
gw_ws_answer_ping(struct gw_ws *ws, const struct wsf_msg *m)
{
	if (ws->dead ||
	    (long long)evbuffer_get_length(ws->out) > ws->conn->gw->conf->ws_max_queue)
		return;
	wsf_write_control(ws->out, WSF_OP_PONG, m->data, m->len);
}

/* One message or control frame from the client. After our close only its
 * close (or a protocol failure) matters. */
static void
gw_ws_on_frame(struct gw_ws *ws, enum wsf_kind k, const struct wsf_msg *m)
{
	switch (k) {
	case WSF_TEXT:
		if (!ws->dead)
			gw_ws_on_text(ws, m->data, m->len);
		break;
	case WSF_PING:
		gw_ws_answer_ping(ws, m);
		break;
	case WSF_CLOSE:		/* echoed when it starts the handshake */
		if (!ws->dead)
			gw_ws_send_close(ws, m->code, m->data, m->len);
		ws->ending = true;
		break;
	case WSF_FAIL:
		if (!ws->dead)
			gw_ws_send_close(ws, m->code, m->reason, strlen(m->reason));
		ws->ending = true;
		break;
	case WSF_PONG:		/* liveness: counted as the bytes arrived */
	case WSF_MORE:
		break;
	}
}

/* Reads the frames that have arrived and acts on them; ends the
 * connection once it is done (close handshake complete or protocol
 * failure) and the last frame is out. */
static void
gw_ws_pump(struct gw_ws *ws)
{
	struct evbuffer *in = bufferevent_get_input(ws->conn->bev);
	struct wsf_msg m;
	enum wsf_kind k;

	if (evbuffer_get_length(in) > 0)
		ws->last_rx_ms = time_mono_ms();
	while (!ws->ending && !ws->conn->closing &&
	    (k = wsf_next(&ws->parser, in, &m)) != WSF_MORE)
		gw_ws_on_frame(ws, k, &m);
	gw_ws_settle(ws);
}

static void
gw_ws_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	gw_ws_pump(arg);
}

/* The socket takes more: write; once the queue is empty, end a socket
 * that is done, or let paused catch-ups go on. */
static void
gw_ws_written(struct gw_ws *ws)
{
	gw_ws_flush(ws);
	if (ws->conn->closing || evbuffer_get_length(ws->out) > 0)
		return;
	if (ws->ending) {
		gw_conn_linger_now(ws->conn);
		return;
	}
	if (ws->subs != NULL)
		gw_hub_writable(ws);
}

static void
gw_ws_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gw_ws_written(arg);
}

/* TLS: the bufferevent's output is all sent. */
static void
gw_ws_tls_written_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	gw_ws_written(arg);
}

static void
gw_ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_ws *ws = arg;
	(void)bev, (void)what;

	gw_conn_close(ws->conn);
}

/* ------------------------------------------------------------ upgrade */

/* Sec-WebSocket-Accept for key: base64(SHA-1(key GUID)). */
static void
gw_ws_accept_key(const char *key, char out[32])
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%s", key, GW_WS_GUID);
	SHA1((const unsigned char *)buf, strlen(buf), digest);
	sodium_bin2base64(out, 32, digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
}

static bool
gw_header_has_token(const char *value, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = value; p != NULL && *p != '\0'; p = strchr(p, ',')) {
		while (*p == ',' || *p == ' ')
			p++;
		if (strncasecmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	}
	return false;
}

/* Why the handshake is refused, or NULL. */
static const char *
gw_ws_handshake_error(const struct gw_request *r)
{
	const char *up = gw_request_header(r, "Upgrade");
	const char *conn = gw_request_header(r, "Connection");
	const char *ver = gw_request_header(r, "Sec-WebSocket-Version");
	const char *key = gw_request_header(r, "Sec-WebSocket-Key");
	unsigned char raw[16];
	size_t n;

	if (up == NULL || strcasecmp(up, "websocket") != 0 || conn == NULL ||
	    !gw_header_has_token(conn, "upgrade"))
		return "This endpoint takes WebSocket connections only";
	if (ver == NULL || strcmp(ver, "13") != 0)
		return "Only WebSocket version 13 is supported";
	if (key == NULL || strlen(key) != 24 || sodium_base642bin(raw, sizeof(raw), key,
	    24, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || n != 16)
		return "Missing or malformed Sec-WebSocket-Key";
	return NULL;
}

static void
gw_ws_free_ctx(struct gw_ws *ws)
{
	wsf_parser_free(&ws->parser);
	if (ws->wev != NULL)
		event_free(ws->wev);
	if (ws->live != NULL)
		event_free(ws->live);
	if (ws->out != NULL) {
		evbuffer_remove_cb(ws->out, gw_ws_out_changed, ws);
		evbuffer_free(ws->out);	/* drops the frames' references */
	}
	free(ws);
}

/* The checks of every upgrade: method, handshake, origin and token.
 * False after answering. */
bool
gw_ws_precheck(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	const char *why = gw_ws_handshake_error(r), *origin;

	r->keep_alive = false;		/* unless it upgrades */
	if (strcmp(r->method, "GET") != 0) {
		gw_respond_405(r, "GET, OPTIONS");
		return false;
	}
	if (why != NULL) {
		gw_respond_error(r, 400, "bad_handshake", why);
		return false;
	}
	origin = gw_request_header(r, "Origin");
	if (origin != NULL && !gw_origin_allowed(gw->conf->cors_origins, origin)) {
		gw_respond_error(r, 403, "origin_not_allowed", "This origin may not connect");
		return false;
	}
	return gw_auth_check(r, ROUTE_USER) == 0;
}

void
gw_ws_accept(struct gw_request *r, const char *room, const char *conv, const char *pair)
{
	struct gw *gw = r->conn->gw;
	char accept[32];
	struct gw_ws *ws = NULL;

	if (gw->draining || (ws = gw_calloc_line(sizeof(*ws))) == NULL ||
	    (ws->out = evbuffer_new()) == NULL ||
	    evbuffer_add_cb(ws->out, gw_ws_out_changed, ws) == NULL ||
	    (ws->live = evtimer_new(gw->base, gw_ws_live_cb, ws)) == NULL || (gw->tls_ctx == NULL &&
	    (ws->wev = event_new(gw->base, bufferevent_getfd(r->conn->bev), EV_WRITE,
	    gw_ws_writable_cb, ws)) == NULL)) {
		if (ws != NULL)
			gw_ws_free_ctx(ws);
		gw_respond_error(r, 503, "busy", "Cannot open a WebSocket now");
		return;
	}
	wsf_parser_init(&ws->parser, (size_t)gw->conf->ws_max_message);
	ws->conn = r->conn;
	ws->fd = bufferevent_getfd(r->conn->bev);
	ws->ping_phase = (uint16_t)randombytes_uniform(65536);
	memcpy(ws->user_id, r->principal.claims.sub, sizeof(ws->user_id));
	memcpy(ws->session_id, r->principal.claims.sid, sizeof(ws->session_id));
	if (room != NULL)
		snprintf(ws->compat_room, sizeof(ws->compat_room), "%s", room);
	if (conv != NULL && pair != NULL) {
		snprintf(ws->compat_conv, sizeof(ws->compat_conv), "%s", conv);
		snprintf(ws->compat_pair, sizeof(ws->compat_pair), "%s", pair);
	}
	gw_ws_accept_key(gw_request_header(r, "Sec-WebSocket-Key"), accept);
	r->conn->ws = ws;
	r->keep_alive = true;
	gw_response_start_upgrade(r, accept);
	gw_request_done(r);		/* sees conn->ws: gw_ws_start follows */
}

/* GET /api/ws */
void
gw_ws_upgrade(struct gw_request *r)
{
	if (gw_ws_precheck(r))
		gw_ws_accept(r, NULL, NULL, NULL);
}

/* The 101 is out: the bufferevent only reads from here on (with TLS, it
 * also writes what gw_ws_flush_tls hands it). */
static void
gw_ws_handshake_sent_cb(struct bufferevent *bev, void *arg)
{
	struct gw_ws *ws = arg;

	if (ws->wev == NULL) {
		bufferevent_setcb(bev, gw_ws_read_cb, gw_ws_tls_written_cb, gw_ws_event_cb, ws);
	} else {
		bufferevent_disable(bev, EV_WRITE);
		bufferevent_setcb(bev, gw_ws_read_cb, NULL, gw_ws_event_cb, ws);
	}
	ws->handshaking = false;
	gw_ws_flush(ws);
	if (ws->ending && evbuffer_get_length(ws->out) == 0)
		gw_conn_linger_now(ws->conn);
}

/* The 101 is queued and the HTTP request gone: from here on the
 * connection's bytes are WebSocket frames. */
void
gw_ws_start(struct gw_conn *c)
{
	struct gw_ws *ws = c->ws;
	struct gw *gw = c->gw;

	evtimer_del(c->timer);
	ws->opened_ms = ws->last_rx_ms = ws->last_ping_ms = ws->tokens_ms = time_mono_ms();
	ws->tokens = (double)gw->conf->ws_burst;
	gw_ws_live_arm(ws, ws->opened_ms);
	/* The 101 leaves through the bufferevent; then frames go through
	 * ws->out and ws->wev, never ahead of it. */
	ws->handshaking = true;
	bufferevent_setcb(c->bev, gw_ws_read_cb, gw_ws_handshake_sent_cb, gw_ws_event_cb, ws);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		gw_ws_handshake_sent_cb(c->bev, ws);
	ws->next = gw->wss;
	if (gw->wss)
		gw->wss->prev = ws;
	gw->wss = ws;
	gw->nws++;
	gw_presence_open(gw, ws);
	if (ws->compat_room[0] != '\0')
		gw_hub_subscribe(ws, &gw_kind_room, ws->compat_room, -1);
	if (ws->compat_conv[0] != '\0')
		gw_hub_subscribe(ws, &gw_kind_conv, ws->compat_conv, -1);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		gw_ws_pump(ws);		/* frames sent right behind the handshake */
}

void
gw_ws_free(struct gw_ws *ws)
{
	struct gw *gw = ws->conn->gw;

	if (ws->prev || ws->next || gw->wss == ws) {
		if (ws->prev)
			ws->prev->next = ws->next;
		else
			gw->wss = ws->next;
		if (ws->next)
			ws->next->prev = ws->prev;
		gw->nws--;
	}
	gw_hub_drop(ws);
	gw_voice_drop(ws);
	gw_presence_close(gw, ws);
	gw_ws_free_ctx(ws);
}

/* Closes with code the open sockets of session id, or of user id too when
 * users; how many. */
static int
gw_ws_close_of(struct gw *gw, const char *id, bool users, uint16_t code, const char *reason)
{
	int n = 0;

	for (struct gw_ws *ws = gw->wss, *next; ws != NULL; ws = next) {
		next = ws->next;
		if (!ws->dead && !ws->conn->closing && (strcasecmp(ws->session_id, id) == 0 ||
		    (users && strcasecmp(ws->user_id, id) == 0))) {
			gw_ws_close(ws, code, reason);
			n++;
		}
	}
	return n;
}

/* A session was revoked: its sockets close with 4001 at once. */
void
gw_ws_revoke(struct gw *gw, const char *session_id)
{
	gw_ws_close_of(gw, session_id, false, 4001, "session revoked");
}

int
gw_ws_kick(struct gw *gw, const char *id)
{
	return gw_ws_close_of(gw, id, true, 4003, "closed by an operator");
}

int
gw_ws_dm_clients(const struct gw *gw)
{
	int n = 0;

	for (const struct gw_ws *ws = gw->wss; ws != NULL; ws = ws->next)
		n += ws->compat_conv[0] != '\0';
	return n;
}

/* gatewayd drains: every socket closes with 1001. */
void
gw_ws_going_away(struct gw *gw)
{
	for (struct gw_ws *ws = gw->wss, *next; ws != NULL; ws = next) {
		next = ws->next;
		gw_ws_close(ws, 1001, "server shutting down");
	}
}

/* A socket's liveness deadlines, in time_mono_ms(). When a socket we
 * closed, whose close is out, ends without its client's answer. */
static long long
gw_ws_close_at(const struct gw_ws *ws, const struct gw_conf *c)
{
	return ws->close_ms + c->ws_idle_timeout_ms + 1;
}

/* When a silent socket is closed with 1008. */
static long long
gw_ws_idle_at(const struct gw_ws *ws, const struct gw_conf *c)
{
	return ws->last_rx_ms + c->ws_idle_timeout_ms + 1;
}

/* When a quiet socket gets a ping: after between half the interval and
 * all of it, by the socket's phase. Sockets opened together (a restart,
 * a benchmark) are then not all pinged at once, which would stall the
 * loop, and every event with it, for a write and a pong read each. */
static long long
gw_ws_ping_at(const struct gw_ws *ws, const struct gw_conf *c)
{
	long long quiet = ws->last_rx_ms > ws->last_ping_ms ? ws->last_rx_ms : ws->last_ping_ms;

	return quiet + c->ws_ping_interval_ms - c->ws_ping_interval_ms * ws->ping_phase / 131072;
}

/* A socket's liveness, when its timer fires: a socket we closed ends once
 * its client had the idle timeout to answer; a silent one is closed; a
 * quiet one gets a ping. */
static void
gw_ws_check(struct gw_ws *ws, const struct gw_conf *c, long long now)
{
	if (ws->dead) {
		if (now >= gw_ws_close_at(ws, c) && ws->queued == 0) {
			ws->ending = true;
			gw_conn_linger_now(ws->conn);
		}
	} else if (now >= gw_ws_idle_at(ws, c)) {
		gw_ws_close(ws, 1008, "no frame for too long");
	} else if (now >= gw_ws_ping_at(ws, c)) {
		ws->last_ping_ms = now;
		wsf_write_control(ws->out, WSF_OP_PING, NULL, 0);
		gw_ws_flush(ws);
	}
}

/* Milliseconds until gw_ws_check may have something to do. A frame that
 * arrives meanwhile only makes the timer early: it then waits again. */
static long long
gw_ws_next_check_ms(const struct gw_ws *ws, const struct gw_conf *c, long long now)
{
	long long at = ws->dead ? gw_ws_close_at(ws, c) : gw_ws_idle_at(ws, c);

	if (!ws->dead && gw_ws_ping_at(ws, c) < at)
		at = gw_ws_ping_at(ws, c);
	return at > now ? at - now : GW_WS_RECHECK_MS;	/* due, but waiting for ws->out */
}

static void
gw_ws_live_arm(struct gw_ws *ws, long long now)
{
	long long ms = gw_ws_next_check_ms(ws, ws->conn->gw->conf, now);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ws->live, &tv);
}

/* Each socket has its own liveness timer, armed for its next deadline:
 * no loop over every socket, whatever their number. */
static void
gw_ws_live_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_ws *ws = arg;
	long long now = time_mono_ms();

	(void)fd, (void)what;
	if (ws->ending || ws->conn->closing)
		return;
	gw_ws_check(ws, ws->conn->gw->conf, now);
	if (!ws->ending && !ws->conn->closing)
		gw_ws_live_arm(ws, now);
}
