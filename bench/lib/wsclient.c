/* wsclient: WebSocket client connections of the benchmarks' C load
 * clients (wsclient.h): connect, handshake, buffered writes, masked
 * frames, frame parsing and the socket's epoll events. */
#define _GNU_SOURCE
#include "wsclient.h"
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct ws_ops *ops;
static struct {
	void *conns;
	size_t stride;
	uint32_t n;
} table;				/* ws_open_all's, for ws_close_all */

/* The client's callbacks. */
void
ws_setup(const struct ws_ops *o)
{
	ops = o;
}

/* The i-th struct ws_conn of an array of structs stride bytes apart. */
static struct ws_conn *
ws_at(void *conns, size_t stride, uint32_t i)
{
	return (struct ws_conn *)((char *)conns + (size_t)i * stride);
}

/* At exit: closes (RST) the sockets of ws_open_all's connections still
 * open. */
static void
ws_close_all(void)
{
	for (uint32_t i = 0; i < table.n; i++) {
		struct ws_conn *c = ws_at(table.conns, table.stride, i);
		if (c->fd >= 0)
			hard_close(c->fd);
	}
}

/* Closes c for good (counted by the client's dead callback; a handshake
 * that fails also in C.hs_failed). */
void
ws_dead(struct ws_conn *c, const char *why)
{
	if (c->state == WS_DEAD)
		return;
	if (c->state < WS_OPEN)
		C.hs_failed++;
	ops->dead(c, why);
	c->state = WS_DEAD;
	epoll_ctl(C.ep, EPOLL_CTL_DEL, c->fd, NULL);
	hard_close(c->fd);
	c->fd = -1;
	free(c->carry), c->carry = NULL, c->carry_len = c->carry_cap = 0;
	free(c->out), c->out = NULL, c->out_len = 0;
}

/* Writes data, or keeps what the socket does not take for EPOLLOUT. */
static void
ws_send(struct ws_conn *c, const char *data, size_t len)
{
	ssize_t n = 0;

	if (c->state == WS_DEAD)
		return;
	if (c->out_len == 0) {
		n = write(c->fd, data, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				ws_dead(c, "write_failed");
				return;
			}
			n = 0;
		}
		if ((size_t)n == len)
			return;
	}
	c->out = realloc(c->out, c->out_len + (len - (size_t)n));
	if (c->out == NULL)
		die("out of memory");
	memcpy(c->out + c->out_len, data + n, len - (size_t)n);
	c->out_len += (uint32_t)(len - (size_t)n);
	if (!c->want_out) {
		c->want_out = true;
		ep_set(c->fd, EPOLLIN | EPOLLOUT, EV_WS, c->idx, EPOLL_CTL_MOD);
	}
}

/* A masked client frame (text or pong). */
void
ws_send_frame(struct ws_conn *c, int opcode, const char *payload, size_t len)
{
	char f[256];
	unsigned char mask[4];
	size_t h = 2;

	if (len > sizeof(f) - 8)
		len = sizeof(f) - 8;	/* pings carry little; a client's texts are short */
	randombytes_buf(mask, 4);
	f[0] = (char)(0x80 | opcode);
	f[1] = (char)(0x80 | len);
	if (len >= 126) {
		f[1] = (char)(0x80 | 126);
		f[2] = (char)(len >> 8), f[3] = (char)len;
		h = 4;
	}
	memcpy(f + h, mask, 4);
	for (size_t i = 0; i < len; i++)
		f[h + 4 + i] = (char)(payload[i] ^ mask[i & 3]);
	ws_send(c, f, h + 4 + len);
}

/* The upgrade request, with a fresh token of c's user. */
static void
ws_handshake(struct ws_conn *c)
{
	char token[TOKEN_MAX], req[1024];
	unsigned char key[16];
	char key_b64[32];
	int n;

	make_token(c->user, token, sizeof(token));
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(key_b64, sizeof(key_b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(req, sizeof(req),
	    "GET /api/ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    token, C.port, key_b64);
	c->state = WS_HANDSHAKE;
	ws_send(c, req, (size_t)n);
}

/* A frame's payload: text to the client, a ping answered, a close the end. */
static void
ws_frame(struct ws_conn *c, int opcode, const char *pl, uint64_t plen, uint64_t t)
{
	if (opcode == 0x1 || opcode == 0x0) {
		ops->text(c, pl, (size_t)plen, t);
	} else if (opcode == 0x9) {
		ws_send_frame(c, 0xA, pl, (size_t)plen);
	} else if (opcode == 0x8) {
		int code = plen >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 0;
		char why[64];
		snprintf(why, sizeof(why), "close_%d", code);
		ws_dead(c, why);
	}
}

/* Parses frames in p[0..len); returns the bytes consumed (a partial frame
 * at the end stays). */
static size_t
parse_frames(struct ws_conn *c, const char *p, size_t len, uint64_t t)
{
	size_t off = 0;

	while (c->state != WS_DEAD && len - off >= 2) {
		const unsigned char *h = (const unsigned char *)p + off;
		bool masked = h[1] & 0x80;
		uint64_t plen = h[1] & 0x7f;
		size_t hl = 2;

		if (plen == 126) {
			if (len - off < 4)
				break;
			plen = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (plen == 127) {
			if (len - off < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | h[2 + i];
			hl = 10;
		}
		if (masked)
			hl += 4;	/* servers do not mask; skip the key if one does */
		if (plen > (64u << 20)) {
			ws_dead(c, "huge_frame");
			return len;
		}
		if (len - off < hl + plen)
			break;
		ws_frame(c, h[0] & 0x0f, p + off + hl, plen, t);
		if (c->state == WS_DEAD)
			return len;
		off += hl + (size_t)plen;
	}
	return off;
}

/* The handshake's answer at data[0..len): the bytes it took, or -1 (more
 * to come, or c is dead). */
static long
ws_answer(struct ws_conn *c, char *data, size_t len)
{
	char *end = memmem(data, len, "\r\n\r\n", 4);

	if (end == NULL) {
		if (len > 8192)
			ws_dead(c, "handshake_too_long");
		return -1;
	}
	if (len < 12 || memcmp(data, "HTTP/1.1 101", 12) != 0) {
		char *body = end + 4;
		set_first_error("handshake:%.*s|%.*s", 12, data,
		    (int)(data + len - body > 160 ? 160 : data + len - body), body);
		ws_dead(c, "handshake_refused");
		return -1;
	}
	c->state = WS_OPEN;
	C.opened++;
	if (ops->opened != NULL)
		ops->opened(c);
	return end + 4 - data;
}

/* Keeps data[used..len) for the next read. */
static void
ws_carry(struct ws_conn *c, const char *data, size_t used, size_t len)
{
	if (used < len) {
		size_t rest = len - used;
		if (c->carry_cap < rest) {
			c->carry = realloc(c->carry, rest);
			if (c->carry == NULL)
				die("out of memory");
			c->carry_cap = (uint32_t)rest;
		}
		memmove(c->carry, data + used, rest);
		c->carry_len = (uint32_t)rest;
	} else {
		c->carry_len = 0;
		if (c->carry_cap > 65536) {
			free(c->carry);
			c->carry = NULL, c->carry_cap = 0;
		}
	}
}

/* What a read brought (after the carried bytes), received at time t. */
static void
ws_input(struct ws_conn *c, char *data, size_t len, uint64_t t)
{
	size_t used = 0;

	if (c->state == WS_HANDSHAKE) {
		long n = ws_answer(c, data, len);
		if (n < 0) {
			if (c->state != WS_DEAD)
				ws_carry(c, data, 0, len);
			return;
		}
		used = (size_t)n;
	}
	used += parse_frames(c, data + used, len - used, t);
	if (c->state != WS_DEAD)
		ws_carry(c, data, used, len);
}

/* The connect's outcome, or the rest of a buffered write. */
static void
ws_writable(struct ws_conn *c)
{
	if (c->state == WS_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err != 0) {
			ws_dead(c, "connect_failed");
			return;
		}
		c->want_out = false;
		ep_set(c->fd, EPOLLIN, EV_WS, c->idx, EPOLL_CTL_MOD);
		ws_handshake(c);
	} else if (c->out_len > 0) {
		ssize_t n = write(c->fd, c->out, c->out_len);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			ws_dead(c, "write_failed");
			return;
		}
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (uint32_t)n;
		}
	}
	if (c->out_len == 0 && c->want_out && c->state != WS_CONNECTING) {
		c->want_out = false;
		ep_set(c->fd, EPOLLIN, EV_WS, c->idx, EPOLL_CTL_MOD);
	}
}

/* An epoll event of c's socket. */
void
ws_event(struct ws_conn *c, uint32_t events)
{
	if (c->state == WS_DEAD)
		return;
	if (events & EPOLLOUT) {
		ws_writable(c);
		if (c->state == WS_DEAD)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		size_t have = c->carry_len;
		ssize_t n;

		if (have > 0)
			memcpy(C.rbuf, c->carry, have);
		n = read(c->fd, C.rbuf + have, RBUF_SIZE - have);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			ws_dead(c, n == 0 ? "eof" : "read_error");
			return;
		}
		if (n > 0)
			ws_input(c, C.rbuf, have + (size_t)n, now_ns());
	}
}

/* Starts the connect of conns[i] (its fd and user set). */
static void
ws_connect(struct ws_conn *c, uint32_t i)
{
	c->idx = i;
	c->fd = tcp_connect();
	c->state = WS_CONNECTING;
	c->want_out = true;
	ep_set(c->fd, EPOLLIN | EPOLLOUT, EV_WS, i, EPOLL_CTL_ADD);
}

/* Connects and handshakes conns[0 .. n-1] (structs stride bytes apart that
 * begin with a struct ws_conn, user set), at most C.inflight handshakes at
 * a time; dies after C.setup_timeout_s. "what" names them in the note. */
void
ws_open_all(void *conns, size_t stride, uint32_t n, const char *what)
{
	uint64_t deadline = now_ns() + (uint64_t)(C.setup_timeout_s * 1e9), t0 = now_ns();
	uint32_t next = 0;

	if (table.conns == NULL)
		atexit(ws_close_all);
	table.conns = conns, table.stride = stride, table.n = n;
	for (;;) {
		int resolved = C.opened + C.hs_failed;
		while (next < n && (int)next - resolved < C.inflight) {
			ws_connect(ws_at(conns, stride, next), next);
			next++;
		}
		if ((uint32_t)(C.opened + C.hs_failed) >= n)
			break;
		if (now_ns() > deadline || C.stop)
			die("setup: %d of %u sockets open after %.0f s (%d refused; first error %s)",
			    C.opened, n, C.setup_timeout_s, C.hs_failed, first_error());
		client_poll(100);
	}
	note("%d %s open in %.2f s (%d failed)", C.opened, what, (now_ns() - t0) / 1e9, C.hs_failed);
}
