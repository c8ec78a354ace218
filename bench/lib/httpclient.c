/* httpclient: keep-alive HTTP/1.1 client connections of the benchmarks'
 * C load clients (httpclient.h): connect, write a request, read and parse
 * its answer. */
#define _GNU_SOURCE
#include "httpclient.h"
#include "client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int http_busy, http_busy_max;

static struct http_conn *all[HTTP_MAX];	/* for http_close_all */
static int nall;

/* At exit: closes (RST) every connection. */
static void
http_close_all(void)
{
	for (int i = 0; i < nall; i++)
		if (all[i]->fd > 0)
			hard_close(all[i]->fd);
}

/* Starts x's connect. */
static void
http_connect(struct http_conn *x)
{
	x->fd = tcp_connect();
	x->state = H_CONNECTING;
	x->len = 0;
	x->out_len = x->out_off = 0;
	x->close_after = false;
	ep_set(x->fd, EPOLLIN | EPOLLOUT, EV_HTTP, x->idx, EPOLL_CTL_ADD);
}

/* Opens connection idx of the client's; "who" names it in errors. */
void
http_open(struct http_conn *x, uint32_t idx, const char *who)
{
	if (nall == HTTP_MAX)
		die("over %d HTTP connections", HTTP_MAX);
	if (nall == 0)
		atexit(http_close_all);
	all[nall++] = x;
	x->idx = idx;
	x->who = who;
	if (x->buf == NULL && (x->buf = malloc(RESP_MAX + 1)) == NULL)
		die("out of memory");
	http_connect(x);
}

/* Closes x (a request in flight is dropped) and connects it again. */
void
http_reopen(struct http_conn *x)
{
	if (x->state == H_BUSY)
		http_busy--;
	epoll_ctl(C.ep, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	http_connect(x);
}

/* x is done with its request (or connected): ready for the next one. */
void
http_idle(struct http_conn *x)
{
	if (x->state == H_BUSY)
		http_busy--;
	x->state = H_IDLE;
}

/* Writes request req (n bytes) on idle connection x: busy from now on. A
 * failed write shows as the HTTP_CLOSED that follows. */
void
http_write(struct http_conn *x, const char *req, size_t n)
{
	ssize_t w = write(x->fd, req, n);

	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			w = -2;
		else
			w = 0;
	}
	if (x->state != H_BUSY && ++http_busy > http_busy_max)
		http_busy_max = http_busy;
	x->state = H_BUSY;
	x->len = 0;
	x->t_write = now_ns();
	if (w == -2 || (size_t)w == n)
		return;
	if (n - (size_t)w > sizeof(x->out))
		die("request too long");
	memcpy(x->out, req + w, n - (size_t)w);
	x->out_off = 0;
	x->out_len = (uint32_t)(n - (size_t)w);
	ep_set(x->fd, EPOLLIN | EPOLLOUT, EV_HTTP, x->idx, EPOLL_CTL_MOD);
}

/* The connect's outcome: idle, or death of the client. */
static int
http_connected(struct http_conn *x)
{
	int err = 0;
	socklen_t l = sizeof(err);

	getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err != 0)
		die("%s connect: %s", x->who, strerror(err));
	ep_set(x->fd, EPOLLIN, EV_HTTP, x->idx, EPOLL_CTL_MOD);
	x->state = H_IDLE;
	return HTTP_CONNECTED;
}

/* The rest of a request the socket did not take at once. */
static void
http_write_rest(struct http_conn *x)
{
	ssize_t w = write(x->fd, x->out + x->out_off, x->out_len);

	if (w > 0) {
		x->out_off += (uint32_t)w;
		x->out_len -= (uint32_t)w;
	}
	if (x->out_len == 0)
		ep_set(x->fd, EPOLLIN, EV_HTTP, x->idx, EPOLL_CTL_MOD);
}

/* Parses the answer in x->buf (headers complete at end) into a; false
 * while its body is incomplete. */
static bool
http_parse(struct http_conn *x, char *end, struct http_answer *a)
{
	long cl = -1;

	x->close_after = false;
	for (char *h = strstr(x->buf, "\r\n") + 2; h < end; h = strstr(h, "\r\n") + 2) {
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			cl = strtol(h + 15, NULL, 10);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0)
			die("%s: chunked answers are not supported", x->who);
		else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h, "close") != NULL &&
		    strcasestr(h, "close") < strstr(h, "\r\n"))
			x->close_after = true;
	}
	if (cl < 0)
		die("%s: an answer without Content-Length", x->who);
	if (end + 4 + cl > x->buf + x->len) {
		if ((long)(end + 4 - x->buf) + cl > RESP_MAX)
			die("%s: an answer over %d bytes", x->who, RESP_MAX);
		return false;
	}
	a->status = x->len > 12 ? atoi(x->buf + 9) : 0;
	a->body = end + 4;
	a->cl = cl;
	return true;
}

/* Reads what came; HTTP_ANSWER once an answer is complete (x stays busy
 * until the client makes it idle, reopens it or writes again). */
static int
http_read(struct http_conn *x, struct http_answer *a)
{
	ssize_t n;
	char *end;

	if (C.quickack) {
		/* ACK at once what arrives: a server that writes a response in
		 * several pieces without TCP_NODELAY then does not wait for our
		 * delayed ACK (Nagle) before its last piece */
		int one = 1;
		setsockopt(x->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	n = read(x->fd, x->buf + x->len, RESP_MAX - x->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return HTTP_NOTHING;
		/* closed by the server: a request in flight has no answer */
		if (x->state == H_BUSY)
			set_first_error("%s_%u:%s", x->who, x->idx, n == 0 ? "EOF" : strerror(errno));
		return HTTP_CLOSED;
	}
	if (x->state != H_BUSY) {
		set_first_error("%s_%u:unexpected_bytes", x->who, x->idx);
		return HTTP_STRAY;
	}
	a->t = now_ns();
	x->len += (uint32_t)n;
	x->buf[x->len] = '\0';
	if ((end = strstr(x->buf, "\r\n\r\n")) == NULL) {
		if (x->len >= RESP_MAX)
			die("%s: an answer's headers over %d bytes", x->who, RESP_MAX);
		return HTTP_NOTHING;
	}
	if (!http_parse(x, end, a))
		return HTTP_NOTHING;
	x->len = 0;
	return HTTP_ANSWER;
}

/* An epoll event of x's socket: what it brought (HTTP_...). */
int
http_event(struct http_conn *x, uint32_t events, struct http_answer *a)
{
	if (x->state == H_CONNECTING && (events & EPOLLOUT))
		return http_connected(x);
	if ((events & EPOLLOUT) && x->out_len > 0)
		http_write_rest(x);
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return HTTP_NOTHING;
	return http_read(x, a);
}
