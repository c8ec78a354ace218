/* HTTP/1.1 connections: accept, parse with http_parser, enforce the size
 * and time limits, keep-alive and pipelining (one request handled at a time,
 * responses in order), and free connections on the next loop turn. */
#include "gatewayd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "url.h"
#include "utf8.h"
#include "uuid.h"

#define GW_LINGER_MS 2000
#define GW_INPUT_HIGH (256 * 1024)

static void gw_conn_process(struct gw_conn *c);

static void gw_conn_arm_timer(struct gw_conn *c, long long ms);

/* ------------------------------------------------------------ requests */

static struct gw_request *
gw_request_new(struct gw_conn *c)
{
	struct gw_request *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->conn = c;
	r->query = "";
	r->body = evbuffer_new();
	if (r->body == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static void
gw_request_free(struct gw_request *r)
{
	for (int i = 0; i < r->ncalls; i++)
		ipc_call_cancel(r->calls[i]);
	if (r->work_free != NULL)
		r->work_free(r->work);
	evbuffer_free(r->body);
	free(r->hbuf);
	free(r->path);
	free(r);
}

void
gw_request_track_call(struct gw_request *r, struct ipc_call *call)
{
	if (r->ncalls >= GW_MAX_CALLS)
		fatalx("http: too many calls tracked for one request");
	r->calls[r->ncalls++] = call;
}

void
gw_request_untrack_call(struct gw_request *r, struct ipc_call *call)
{
	for (int i = 0; i < r->ncalls; i++) {
		if (r->calls[i] == call) {
			r->calls[i] = r->calls[--r->ncalls];
			return;
		}
	}
}

const char *
gw_request_header(const struct gw_request *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->hbuf + r->name_off[i], name) == 0)
			return r->hbuf + r->value_off[i];
	return NULL;
}

static void
gw_request_fail(struct gw_request *r, int status, const char *code,
    const char *msg)
{
	if (r->error_status == 0) {
		r->error_status = status;
		r->error_code = code;
		r->error_msg = msg;
	}
}

static long long
gw_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
gw_request_done(struct gw_request *r)
{
	struct gw_conn *c = r->conn;

	long long elapsed = gw_now_us() - r->start_us;

	log_req(r->status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO, r->request_id,
	    "%s %s %s %d %lldus", r->client[0] ? r->client : c->peer, r->method ? r->method : "-",
	    r->path ? r->path : "-", r->status, elapsed);
	gw_metrics_request(r, elapsed);
	if (!r->keep_alive || c->gw->draining)
		c->close_after = true;
	c->req = NULL;
	gw_request_free(r);
	if (c->ws != NULL) {		/* upgraded: WebSocket frames follow */
		gw_ws_start(c);
		return;
	}
	if (c->close_after) {
		c->closing = true;	/* freed once the output is flushed */
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	c->in_request = false;
	c->header_bytes = 0;
	c->last_header_cb = 0;
	http_parser_pause(&c->parser, 0);
	if (c->peer_eof) {
		/* Nothing more will come: answer what is buffered, then end. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			gw_conn_end(c);
		return;
	}
	gw_conn_arm_timer(c, c->gw->conf->idle_timeout_ms);
	bufferevent_enable(c->bev, EV_READ);
	/* Pipelined requests already buffered are picked up by the loop in
	 * gw_conn_process, or by the write callback once this response is out. */
}

/* ------------------------------------------------------------ parsing */

static struct gw_request *
gw_parser_req(http_parser *p)
{
	return ((struct gw_conn *)p->data)->req;
}

static int
gw_hbuf_append(struct gw_request *r, const char *at, size_t len)
{
	if (r->hlen + len + 1 > r->hcap) {
		size_t cap = (r->hlen + len + 1) * 2;
		char *nb = realloc(r->hbuf, cap);
		if (nb == NULL)
			return -1;
		r->hbuf = nb, r->hcap = cap;
	}
	memcpy(r->hbuf + r->hlen, at, len);
	r->hlen += len;
	return 0;
}

static int
gw_on_url(http_parser *p, const char *at, size_t len)
{
	struct gw_request *r = gw_parser_req(p);

	if (r->url_len + len > GW_MAX_URL) {
		gw_request_fail(r, 414, "uri_too_long", "The request URI is too long");
		return -1;
	}
	memcpy(r->url + r->url_len, at, len);
	r->url_len += len;
	r->url[r->url_len] = '\0';
	return 0;
}

static int
gw_header_bytes(struct gw_conn *c, size_t len)
{
	c->header_bytes += len;
	if (c->header_bytes > (size_t)c->gw->conf->max_header_bytes) {
		gw_request_fail(c->req, 431, "headers_too_large",
		    "Request headers are too large");
		return -1;
	}
	return 0;
}

/* RFC 9110 token characters, the only ones a header name may hold: no
 * space before the colon, which intermediaries read differently. */
static bool
gw_is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
gw_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_request *r = c->req;

	if (gw_header_bytes(c, len) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!gw_is_tchar((unsigned char)at[i])) {
			gw_request_fail(r, 400, "bad_header", "Malformed header name");
			return -1;
		}
	}
	if (c->last_header_cb != 1) {
		if (r->nheaders == GW_MAX_HEADERS) {
			gw_request_fail(r, 431, "headers_too_large", "Too many headers");
			return -1;
		}
		if (c->last_header_cb == 2 && gw_hbuf_append(r, "", 1) < 0)
			return -1;
		r->name_off[r->nheaders++] = r->hlen;
		c->last_header_cb = 1;
	}
	return gw_hbuf_append(r, at, len);
}

static int
gw_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct gw_conn *c = p->data;
	struct gw_request *r = c->req;

	if (gw_header_bytes(c, len) < 0)
		return -1;
	if (c->last_header_cb != 2) {
		if (gw_hbuf_append(r, "", 1) < 0)
			return -1;
		r->value_off[r->nheaders - 1] = r->hlen;
		c->last_header_cb = 2;
	}
	return gw_hbuf_append(r, at, len);
}

/* Percent-decodes the path of r->url and refuses anything unclean: control
 * bytes, NUL, "." or ".." segments, invalid UTF-8. */
static int
gw_path_decode(struct gw_request *r, size_t plen)
{
	char *out = malloc(plen + 1);
	size_t n = 0;

	if (out == NULL)
		return -1;
	for (size_t i = 0; i < plen; i++) {
		int ch = (unsigned char)r->url[i];
		if (ch == '%') {
			if (i + 2 >= plen || url_hexval(r->url[i + 1]) < 0 ||
			    url_hexval(r->url[i + 2]) < 0)
				goto bad;
			ch = url_hexval(r->url[i + 1]) * 16 + url_hexval(r->url[i + 2]);
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f)
			goto bad;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	if (n == 0 || out[0] != '/' || !utf8_valid(out, n))
		goto bad;
	for (const char *s = out; (s = strchr(s, '/')) != NULL; s++)
		if ((s[1] == '.' && (s[2] == '/' || s[2] == '\0')) ||
		    (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0')))
			goto bad;
	r->path = out;
	return 0;
bad:
	free(out);
	gw_request_fail(r, 400, "bad_path", "The request path is not valid");
	return -1;
}

static bool
gw_request_id_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > GW_REQUEST_ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
			return false;
	return true;
}

/* Expect: 100-continue is answered as soon as the body is wanted (RFC 9110
 * section 10.1.1); any other expectation is refused with 417. */
static int
gw_expect(struct gw_conn *c, struct gw_request *r)
{
	const char *expect = gw_request_header(r, "Expect");
	bool body = (c->parser.flags & F_CHUNKED) ||
	    (c->parser.content_length != ULLONG_MAX && c->parser.content_length > 0);

	if (expect == NULL)
		return 0;
	if (strcasecmp(expect, "100-continue") != 0) {
		gw_request_fail(r, 417, "expectation_failed", "Only 100-continue is supported");
		return -1;
	}
	if (body && c->parser.http_minor >= 1)
		evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 0;
}

static int
gw_on_headers_complete(http_parser *p)
{
	struct gw_conn *c = p->data;
	struct gw_request *r = c->req;
	const char *rid, *q;
	size_t plen;

	if (r->nheaders > 0 && gw_hbuf_append(r, "", 1) < 0)
		return -1;
	r->method = http_method_str((enum http_method)p->method);
	r->head = p->method == HTTP_HEAD;
	r->keep_alive = http_should_keep_alive(p);
	rid = gw_request_header(r, "X-Request-ID");
	if (rid != NULL && gw_request_id_ok(rid))
		strcpy(r->request_id, rid);
	else
		uuid_v4_seq(r->request_id);
	q = memchr(r->url, '?', r->url_len);
	plen = q ? (size_t)(q - r->url) : r->url_len;
	if (q != NULL) {
		r->query = (char *)q + 1;
		if (!utf8_valid(r->query, strlen(r->query))) {
			gw_request_fail(r, 400, "bad_query", "The query is not valid UTF-8");
			return -1;
		}
	}
	if (r->url[0] != '/') {
		gw_request_fail(r, 400, "bad_request", "Only origin-form request targets are accepted");
		return -1;
	}
	if (gw_path_decode(r, plen) < 0)
		return -1;
	gw_dispatch_prepare(r);
	if (r->error_status != 0)
		return -1;
	if (p->content_length != ULLONG_MAX && p->content_length > r->body_limit) {
		gw_request_fail(r, 413, "body_too_large", "The request body is too large");
		return -1;
	}
	return gw_expect(c, r);
}

static int
gw_on_body(http_parser *p, const char *at, size_t len)
{
	struct gw_request *r = gw_parser_req(p);

	if (evbuffer_get_length(r->body) + len > r->body_limit) {
		gw_request_fail(r, 413, "body_too_large", "The request body is too large");
		return -1;
	}
	return evbuffer_add(r->body, at, len);
}

static int
gw_on_message_complete(http_parser *p)
{
	gw_parser_req(p)->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings gw_parser_settings = {
	.on_url = gw_on_url,
	.on_header_field = gw_on_header_field,
	.on_header_value = gw_on_header_value,
	.on_headers_complete = gw_on_headers_complete,
	.on_body = gw_on_body,
	.on_message_complete = gw_on_message_complete,
};

/* ------------------------------------------------------------ connections */

static void
gw_conn_free(struct gw_conn *c)
{
	struct gw *gw = c->gw;

	if (c->req != NULL)
		gw_request_free(c->req);
	if (c->ws != NULL)
		gw_ws_free(c->ws);
	event_free(c->timer);
	bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		gw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	gw->nconns--;
	free(c);
}

static void
gw_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gw_conn_free(arg);
}

/* Frees c on the next loop turn, never inside its own callback. */
void
gw_conn_close(struct gw_conn *c)
{
	if (c->freeing)
		return;
	c->freeing = c->closing = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	if (event_base_once(c->gw->base, -1, EV_TIMEOUT, gw_conn_free_cb, c, NULL) < 0)
		log_warnx("http: cannot schedule a connection's release");
}

/* Answers the parse error held by r (or a generic 400) and closes. */
static void
gw_conn_reject(struct gw_conn *c, int status, const char *code, const char *msg)
{
	struct gw_request *r = c->req;

	r->keep_alive = false;
	c->close_after = true;
	gw_respond_error(r, status, code, msg);
}

static void
gw_conn_parse_error(struct gw_conn *c)
{
	struct gw_request *r = c->req;
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

	if (r->error_status != 0)
		gw_conn_reject(c, r->error_status, r->error_code, r->error_msg);
	else if (e == HPE_HEADER_OVERFLOW)
		gw_conn_reject(c, 431, "headers_too_large", "Request headers are too large");
	else if (e == HPE_INVALID_METHOD)
		gw_conn_reject(c, 400, "bad_method", "Unknown request method");
	else
		gw_conn_reject(c, 400, "bad_request", http_errno_description(e));
}

/* Feeds buffered input to the parser until a request is complete, then
 * hands it to the dispatcher. While a request is handled, what arrives
 * stays buffered (up to GW_INPUT_HIGH bytes; then reading pauses) rather
 * than toggling the read event: that would cost two syscalls a request. */
static void
gw_conn_process(struct gw_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len, n;

	while (!c->closing && c->req == NULL && (len = evbuffer_get_length(in)) > 0) {
		if ((c->req = gw_request_new(c)) == NULL) {
			gw_conn_close(c);
			return;
		}
		if (!c->in_request) {
			c->in_request = true;
			c->req->start_us = gw_now_us();
			gw_conn_arm_timer(c, c->gw->conf->request_timeout_ms);
		}
		n = http_parser_execute(&c->parser, &gw_parser_settings,
		    (const char *)evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, n);
		if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK &&
		    HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED) {
			gw_conn_parse_error(c);
			return;
		}
		if (!c->req->complete) {
			if (c->peer_eof)	/* it can never complete */
				gw_conn_end(c);
			return;		/* wait for more bytes; c->req stays */
		}
		evtimer_del(c->timer);
		gw_dispatch(c->req);
	}
}

static void
gw_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len, n;
	(void)bev;

	if (c->lingering) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->req == NULL) {
		gw_conn_process(c);
		return;
	}
	/* A request is being received in pieces. */
	if (c->req->complete || (len = evbuffer_get_length(in)) == 0)
		return;
	n = http_parser_execute(&c->parser, &gw_parser_settings,
	    (const char *)evbuffer_pullup(in, (ssize_t)len), len);
	evbuffer_drain(in, n);
	if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK &&
	    HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED) {
		gw_conn_parse_error(c);
		return;
	}
	if (c->req->complete) {
		evtimer_del(c->timer);
		gw_dispatch(c->req);
	}
}

static void gw_conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* The response is out and the connection ends. Unread request bytes would
 * make close() send a reset that can destroy the response in flight, so
 * half-close, discard what still arrives for a moment, then close. */
static void
gw_conn_linger(struct gw_conn *c)
{
	c->lingering = true;
	gw_tls_shutdown(c);
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_enable(c->bev, EV_READ);
	gw_conn_arm_timer(c, GW_LINGER_MS);
}

static void
gw_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && !c->lingering)
			gw_conn_linger(c);
		return;
	}
	if (c->req == NULL && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		gw_conn_process(c);
}

/* A WebSocket is done: the same lingering close, with the HTTP callbacks
 * (which discard input while lingering) back in place. */
void
gw_conn_linger_now(struct gw_conn *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);	/* until it lingers */
	bufferevent_setcb(c->bev, gw_conn_read_cb, gw_conn_write_cb, gw_conn_event_cb, c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		gw_conn_linger(c);
	else
		bufferevent_enable(c->bev, EV_WRITE);	/* then gw_conn_write_cb */
}

/* Ends the connection once what is queued is sent. */
void
gw_conn_end(struct gw_conn *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		gw_conn_close(c);
}

/* The client half-closed: requests it already sent are still answered. */
static void
gw_conn_peer_eof(struct gw_conn *c)
{
	c->peer_eof = true;
	bufferevent_disable(c->bev, EV_READ);
	if (c->req != NULL && c->req->complete)
		return;			/* its response ends the connection */
	if (c->req == NULL && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		gw_conn_process(c);
		return;
	}
	gw_conn_end(c);
}

static void
gw_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_conn *c = arg;
	(void)bev;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->closing)
		gw_conn_peer_eof(c);
	else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		gw_conn_close(c);
}

/* Slow or idle clients: an idle keep-alive connection is closed; a request
 * still arriving when its time is up gets 408 and is closed. */
static void
gw_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	(void)fd, (void)what;

	if (c->lingering) {
		gw_conn_close(c);
		return;
	}
	if (c->closing)
		return;
	if (c->req != NULL && !c->req->complete) {
		bufferevent_disable(c->bev, EV_READ);
		gw_conn_reject(c, 408, "request_timeout", "The request took too long to arrive");
		return;
	}
	if (c->req == NULL)
		gw_conn_close(c);
}

static void
gw_conn_arm_timer(struct gw_conn *c, long long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void
gw_peer_name(const struct sockaddr *sa, char *out, size_t len)
{
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
	else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else
		snprintf(out, len, "local");
}

static void
gw_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct gw *gw = arg;
	struct gw_conn *c;
	struct timeval wt = { gw->conf->write_timeout_ms / 1000,
		(gw->conf->write_timeout_ms % 1000) * 1000 };
	int one = 1;
	(void)salen;

	if (gw->nconns >= gw->conf->max_connections || gw->draining ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	/* A response is written whole: its last segment must not wait for
	 * the client's delayed ACK (Nagle), 40 ms on a reused connection. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_warn("http: TCP_NODELAY");
	c->gw = gw;
	c->redirect = l != gw->listener;
	gw_peer_name(sa, c->peer, sizeof(c->peer));
	if (gw->tls_ctx != NULL && !c->redirect)
		c->bev = gw_tls_bufferevent(gw, fd);
	else
		c->bev = bufferevent_socket_new(gw->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(gw->base, gw_conn_timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	bufferevent_setcb(c->bev, gw_conn_read_cb, gw_conn_write_cb, gw_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, GW_INPUT_HIGH);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = gw->conns;
	if (gw->conns)
		gw->conns->prev = c;
	gw->conns = c;
	gw->nconns++;
	gw_conn_arm_timer(c, gw->conf->idle_timeout_ms);
}

/* A listener on [http] listen and port; its connections go to gw_accept_cb. */
static struct evconnlistener *
gw_http_bind(struct gw *gw, long long port, const char *scheme, const char *what)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char addr[300];
	struct evconnlistener *l;

	snprintf(addr, sizeof(addr), "%s:%lld", gw->conf->http_listen, port);
	if (strchr(gw->conf->http_listen, ':') != NULL)
		snprintf(addr, sizeof(addr), "[%s]:%lld", gw->conf->http_listen, port);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) < 0) {
		log_warnx("http: cannot parse listen address %s", addr);
		return NULL;
	}
	l = evconnlistener_new_bind(gw->base, gw_accept_cb, gw,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    (struct sockaddr *)&ss, sslen);
	if (l == NULL) {
		log_warn("http: cannot listen on %s", addr);
		return NULL;
	}
	log_info("http: listening on %s://%s/%s", scheme, addr, what);
	return l;
}

int
gw_http_listen(struct gw *gw)
{
	gw->listener = gw_http_bind(gw, gw->conf->http_port,
	    gw->tls_ctx != NULL ? "https" : "http", "");
	if (gw->listener == NULL)
		return -1;
	if (gw->conf->redirect_port != 0 && (gw->redirect_listener =
	    gw_http_bind(gw, gw->conf->redirect_port, "http",
	    " (redirects to https)")) == NULL)
		return -1;
	return 0;
}

void
gw_http_stop_accepting(struct gw *gw)
{
	if (gw->listener != NULL) {
		evconnlistener_free(gw->listener);
		gw->listener = NULL;
	}
	if (gw->redirect_listener != NULL) {
		evconnlistener_free(gw->redirect_listener);
		gw->redirect_listener = NULL;
	}
}

/* Closes idle connections now; busy ones close after their response. */
void
gw_http_close_all(struct gw *gw)
{
	for (struct gw_conn *c = gw->conns; c != NULL; c = c->next) {
		if (c->closing || c->ws != NULL)	/* WebSockets: gw_ws_going_away */
			continue;
		if (c->req == NULL || !c->req->complete)
			gw_conn_close(c);
		else
			c->close_after = true;
	}
}

void
gw_http_free_all(struct gw *gw)
{
	/* Releases already scheduled run first; the rest are freed now. */
	event_base_loop(gw->base, EVLOOP_NONBLOCK);
	while (gw->conns != NULL)
		gw_conn_free(gw->conns);
}
