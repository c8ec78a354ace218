/* WebSocket connections at GET /api/ws (RFC 6455, framed by wslay): the
 * upgrade (token, origin and handshake checks), JSON text messages, and
 * closing: 4001 when the session is revoked, 1001 when gatewayd drains.
 * Room subscriptions and event fan-out build on this (docs/websocket.md). */
#include "gatewayd.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "json.h"
#include "log.h"
#include "uuid.h"

#define GW_WS_MAX_MESSAGE (64 * 1024)
#define GW_WS_MAX_OUTPUT (4 * 1024 * 1024)	/* a reader this far behind is dropped */
#define GW_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* One WebSocket; owned by its connection, freed with it. */
struct gw_ws {
	struct gw_conn *conn;
	wslay_event_context_ptr ctx;
	char user_id[UUID_STRLEN + 1];
	char session_id[UUID_STRLEN + 1];
	struct gw_ws *prev, *next;	/* in gw->wss */
};

/* ------------------------------------------------------------ frames */

static ssize_t
gw_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct gw_ws *ws = arg;
	int n = evbuffer_remove(bufferevent_get_input(ws->conn->bev), buf, len);
	(void)flags;

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
gw_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct gw_ws *ws = arg;
	struct evbuffer *out = bufferevent_get_output(ws->conn->bev);
	(void)flags;

	if (evbuffer_get_length(out) > GW_WS_MAX_OUTPUT ||
	    evbuffer_add(out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* Queues one text message: the JSON of o (taken). */
static void
gw_ws_send_json(struct gw_ws *ws, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	struct wslay_event_msg msg = { WSLAY_TEXT_FRAME, (const uint8_t *)text,
		text ? strlen(text) : 0 };

	cJSON_Delete(o);
	if (text != NULL)
		wslay_event_queue_msg(ws->ctx, &msg);	/* wslay copies it */
	free(text);
}

/* {"type":"error","payload":{"code","message"}} */
static void
gw_ws_send_error(struct gw_ws *ws, const char *code, const char *message)
{
	cJSON *o = cJSON_CreateObject(), *p;

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "error");
	p = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(p, "code", code);
	cJSON_AddStringToObject(p, "message", message);
	gw_ws_send_json(ws, o);
}

static void
gw_ws_on_text(struct gw_ws *ws, const char *text, size_t len)
{
	cJSON *m = json_parse_exact(text, len), *o;
	const char *type = m ? json_str(m, "type") : NULL;
	char now[RFC3339_STRLEN];

	if (type == NULL) {
		gw_ws_send_error(ws, "invalid_message", "A message is a JSON object with a type");
	} else if (strcmp(type, "ping") == 0) {
		if ((o = cJSON_CreateObject()) != NULL) {
			time_now_rfc3339(now, sizeof(now));
			cJSON_AddStringToObject(o, "type", "pong");
			cJSON_AddStringToObject(o, "timestamp", now);
			gw_ws_send_json(ws, o);
		}
	} else {
		gw_ws_send_error(ws, "unknown_type", "This message type is not supported");
	}
	cJSON_Delete(m);
}

static void
gw_ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
    void *user)
{
	struct gw_ws *ws = user;

	if (arg->opcode == WSLAY_TEXT_FRAME)
		gw_ws_on_text(ws, (const char *)arg->msg, arg->msg_length);
	else if (arg->opcode == WSLAY_BINARY_FRAME)
		wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
		    (const uint8_t *)"text frames only", 16);
}

static const struct wslay_event_callbacks gw_ws_callbacks = {
	.recv_callback = gw_ws_recv_cb,
	.send_callback = gw_ws_send_cb,
	.on_msg_recv_callback = gw_ws_on_msg,
};

/* ------------------------------------------------------------ I/O */

/* Moves frames both ways; ends the connection once wslay is done with it
 * (close handshake complete, protocol error, or a reader too far behind). */
static void
gw_ws_pump(struct gw_ws *ws)
{
	if (wslay_event_recv(ws->ctx) != 0 || wslay_event_send(ws->ctx) != 0 ||
	    (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)))
		gw_conn_end(ws->conn);
}

static void
gw_ws_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	gw_ws_pump(arg);
}

static void
gw_ws_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_ws *ws = arg;

	if (ws->conn->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			gw_conn_close(ws->conn);
		return;
	}
	if (wslay_event_want_write(ws->ctx))
		gw_ws_pump(ws);
}

static void
gw_ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_ws *ws = arg;
	(void)bev, (void)what;

	gw_conn_close(ws->conn);
}

/* Starts a close handshake with code and reason. */
static void
gw_ws_close(struct gw_ws *ws, uint16_t code, const char *reason)
{
	if (ws->conn->closing)
		return;
	wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, strlen(reason));
	gw_ws_pump(ws);
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
	if (ws->ctx != NULL)
		wslay_event_context_free(ws->ctx);
	free(ws);
}

/* GET /api/ws: checks the handshake, the token and the origin, answers
 * 101, and turns the connection into a WebSocket once the answer is out. */
void
gw_ws_upgrade(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	const char *why = gw_ws_handshake_error(r), *origin;
	char accept[32];
	struct gw_ws *ws = NULL;

	r->keep_alive = false;		/* unless it upgrades */
	if (strcmp(r->method, "GET") != 0) {
		gw_respond_405(r, "GET, OPTIONS");
		return;
	}
	if (why != NULL) {
		gw_respond_error(r, 400, "bad_handshake", why);
		return;
	}
	origin = gw_request_header(r, "Origin");
	if (origin != NULL && !gw_origin_allowed(gw->conf->cors_origins, origin)) {
		gw_respond_error(r, 403, "origin_not_allowed", "This origin may not connect");
		return;
	}
	if (gw_auth_check(r, ROUTE_USER) < 0)
		return;
	if (gw->draining || (ws = calloc(1, sizeof(*ws))) == NULL ||
	    wslay_event_context_server_init(&ws->ctx, &gw_ws_callbacks, ws) != 0) {
		free(ws);
		gw_respond_error(r, 503, "busy", "Cannot open a WebSocket now");
		return;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, GW_WS_MAX_MESSAGE);
	ws->conn = r->conn;
	memcpy(ws->user_id, r->principal.claims.sub, sizeof(ws->user_id));
	memcpy(ws->session_id, r->principal.claims.sid, sizeof(ws->session_id));
	gw_ws_accept_key(gw_request_header(r, "Sec-WebSocket-Key"), accept);
	r->conn->ws = ws;
	r->keep_alive = true;
	gw_response_start_upgrade(r, accept);
	gw_request_done(r);		/* sees conn->ws: gw_ws_start follows */
}

/* The 101 is queued and the HTTP request gone: from here on the
 * connection's bytes are WebSocket frames. */
void
gw_ws_start(struct gw_conn *c)
{
	struct gw_ws *ws = c->ws;
	struct gw *gw = c->gw;

	evtimer_del(c->timer);
	bufferevent_setcb(c->bev, gw_ws_read_cb, gw_ws_write_cb, gw_ws_event_cb, ws);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	ws->next = gw->wss;
	if (gw->wss)
		gw->wss->prev = ws;
	gw->wss = ws;
	gw->nws++;
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
	gw_ws_free_ctx(ws);
}

/* A session was revoked: its sockets close with 4001 at once. */
void
gw_ws_revoke(struct gw *gw, const char *session_id)
{
	for (struct gw_ws *ws = gw->wss, *next; ws != NULL; ws = next) {
		next = ws->next;
		if (strcmp(ws->session_id, session_id) == 0)
			gw_ws_close(ws, 4001, "session revoked");
	}
}

/* gatewayd drains: every socket closes with 1001. */
void
gw_ws_going_away(struct gw *gw)
{
	for (struct gw_ws *ws = gw->wss, *next; ws != NULL; ws = next) {
		next = ws->next;
		gw_ws_close(ws, WSLAY_CODE_GOING_AWAY, "server shutting down");
	}
}
