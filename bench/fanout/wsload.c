/* wsload: the WebSocket fan-out load client of bench/fanout (README.md).
 *
 * One process, one thread, epoll, non-blocking sockets, everything to
 * 127.0.0.1. It opens N WebSocket connections to GET /api/ws?token=...
 * (RFC 6455, masked client frames), one synthetic user each, then
 * subscribes every one of them to one room, and then:
 *
 *   fanout mode  publishes 64-byte messages at a fixed rate through
 *                POST /api/message/send on a few keep-alive connections
 *                (the room owner's token). Each message's content carries
 *                its number and the CLOCK_MONOTONIC time its POST was
 *                written; every delivery found in a text frame is counted
 *                per message and per socket, and its latency (receive time
 *                minus that send time) goes into a histogram. Prints one
 *                line of key=value results on stdout.
 *   idle mode    holds the subscribed sockets for a few seconds and prints
 *                the VmRSS of a server process (-M) before and after.
 *   token mode   (-T UID) prints a token for that user and exits.
 *
 * Users: "PREFIX" + 12 hex digits of the user's index (PREFIX is the first
 * 24 characters of a v4 UUID, "xxxxxxxx-xxxx-4xxx-8xxx-"); subscribers are
 * indexes FIRST .. FIRST+N-1 and the publisher is index 0. Tokens are
 * EdDSA JWTs signed with the stack's token.key (libsodium secret key,
 * base64: seed || public key), as authd signs them.
 *
 * Build: cc -std=c17 -O2 -Wall -Wextra -o wsload wsload.c -lsodium */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (512 * 1024)
#define MAX_EVENTS 2048
#define MARKER "fb1:"			/* content: fb1:<8 hex msg>:<16 hex ns>:xxx... */
#define CONTENT_LEN 64
#define MAX_PUBS 64
#define MAX_CPU_GROUPS 8

enum { T_CONN = 1, T_PUB, T_TIMER };
enum { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_SUBSCRIBING, C_LIVE, C_DEAD };

struct conn {
	int fd;
	uint8_t state;
	uint8_t retries;		/* subscribes refused as "unavailable" */
	bool want_out;
	uint32_t user;			/* user index */
	uint32_t got;			/* chat-message deliveries */
	uint32_t carry_len, carry_cap;
	char *carry;			/* an incomplete frame (or handshake answer) */
	uint32_t out_len;
	char *out;			/* bytes the socket did not take yet */
};

struct pub {
	int fd;
	bool busy, connected;
	uint32_t msg;
	uint64_t t_sent;
	int len;
	char buf[16384];
};

struct msg {
	uint64_t t_sent;
	uint32_t count;
	uint8_t ok;			/* the POST answered 2xx */
};

struct cpu_group {
	char name[32];
	int npids;
	int pids[64];
	unsigned long long t0, t1, s0, s1;	/* all, system only */
};

/* Latency histogram in ns: exact below 256, then 128 buckets per power of
 * two (under 1% error). */
#define H_SUB 128
#define H_BUCKETS (256 + 48 * H_SUB)
struct hist {
	uint64_t n, max;
	uint64_t b[H_BUCKETS];
};

static struct {
	/* options */
	int port;
	const char *key_path, *room, *prefix, *mode;
	int nsubs, first;
	double rate, warmup_s, duration_s, drain_s, settle_s, setup_timeout_s;
	int npubs, inflight, nsrc;
	int rss_pid;
	int ngroups;
	struct cpu_group groups[MAX_CPU_GROUPS];
	bool quiet;
	/* state */
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int ep;
	struct conn *conns;
	struct pub pubs[MAX_PUBS];
	int tfd;
	char *rbuf;
	struct msg *msgs;
	uint32_t nmsgs, warm_msgs, next_msg;
	uint64_t due;			/* messages whose time came, not yet sent */
	uint64_t late, skipped, t_sched0, interval, max_late;
	bool sending;
	struct hist lat, post_lat;
	uint64_t pub_reconnects;
	uint64_t sent_ok, post_err, received, measured_recv, unknown_msg, other_frames;
	uint64_t t_measure0, t_last_measured;
	int opened, hs_failed, live, sub_failed, closed_early, close_1013;
	int subscribing, sub_retries;
	struct retry { uint32_t idx; uint64_t t; } *retryq;
	int rq_head, rq_tail;
	char first_error[256];
	volatile sig_atomic_t stop;
} G;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("wsload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void
note(const char *fmt, ...)
{
	va_list ap;

	if (G.quiet)
		return;
	va_start(ap, fmt);
	fputs("wsload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
set_first_error(const char *fmt, ...)
{
	va_list ap;

	if (G.first_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(G.first_error, sizeof(G.first_error), fmt, ap);
	va_end(ap);
	for (char *p = G.first_error; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == ' ')
			*p = '_';
}

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ histogram */

static inline int
h_index(uint64_t v)
{
	int msb, shift;

	if (v < 256)
		return (int)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - 7;
	if (msb - 8 >= 48)
		return H_BUCKETS - 1;
	return 256 + (msb - 8) * H_SUB + (int)((v >> shift) - H_SUB);
}

static uint64_t
h_value(int i)			/* the middle of bucket i */
{
	int e, shift;

	if (i < 256)
		return (uint64_t)i;
	e = (i - 256) / H_SUB + 8;
	shift = e - 7;
	return (((uint64_t)((i - 256) % H_SUB + H_SUB)) << shift) + (1ull << shift) / 2;
}

static inline void
h_add(struct hist *h, uint64_t v)
{
	h->b[h_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static double
h_pct_ms(const struct hist *h, double pct)
{
	uint64_t want, acc = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0);
	if (want >= h->n)
		want = h->n - 1;
	for (int i = 0; i < H_BUCKETS; i++) {
		acc += h->b[i];
		if (acc > want) {
			uint64_t v = h_value(i);
			return (double)(v > h->max ? h->max : v) / 1e6;
		}
	}
	return (double)h->max / 1e6;
}

/* ------------------------------------------------------------ tokens */

static void
b64url(char *out, size_t outlen, const void *in, size_t len)
{
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
user_id(uint32_t idx, char out[37])
{
	snprintf(out, 37, "%.24s%012" PRIx32, G.prefix, idx);
}

/* An EdDSA JWT for user idx, valid for 4 hours, with a random session. */
static void
make_token(uint32_t idx, char *out, size_t outlen)
{
	char uid[37], payload[256], seg_h[64], seg_p[400], sig_b64[100];
	unsigned char sid[16], sig[crypto_sign_BYTES];
	long long now = (long long)time(NULL);
	static const char hdr[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
	int n;

	user_id(idx, uid);
	randombytes_buf(sid, sizeof(sid));
	sid[6] = (unsigned char)((sid[6] & 0x0f) | 0x40);
	sid[8] = (unsigned char)((sid[8] & 0x3f) | 0x80);
	n = snprintf(payload, sizeof(payload),
	    "{\"sub\":\"%s\",\"sid\":\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x\",\"adm\":false,\"iat\":%lld,\"exp\":%lld}",
	    uid, sid[0], sid[1], sid[2], sid[3], sid[4], sid[5], sid[6], sid[7], sid[8],
	    sid[9], sid[10], sid[11], sid[12], sid[13], sid[14], sid[15], now, now + 4 * 3600);
	b64url(seg_h, sizeof(seg_h), hdr, sizeof(hdr) - 1);
	b64url(seg_p, sizeof(seg_p), payload, (size_t)n);
	n = snprintf(out, outlen, "%s.%s", seg_h, seg_p);
	crypto_sign_detached(sig, NULL, (const unsigned char *)out, (unsigned long long)n, G.sk);
	b64url(sig_b64, sizeof(sig_b64), sig, sizeof(sig));
	snprintf(out + n, outlen - (size_t)n, ".%s", sig_b64);
}

static void
load_key(void)
{
	char text[256];
	size_t n, len;
	FILE *f = fopen(G.key_path, "r");

	if (f == NULL)
		die("cannot open %s: %s", G.key_path, strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	text[n] = '\0';
	if (sodium_base642bin(G.sk, sizeof(G.sk), text, n, NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != sizeof(G.sk))
		die("%s: not a base64 Ed25519 secret key (64 bytes)", G.key_path);
}

/* ------------------------------------------------------------ sockets */

static int
tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)G.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	static unsigned k;

	if (fd < 0)
		die("socket: %s (raise ulimit -n)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (G.nsrc > 0) {
		/* From 127.0.0.2 .. 127.0.0.(1 + nsrc), the port picked at
		 * connect: the ephemeral ports of 127.0.0.1 may all sit in
		 * TIME_WAIT of other programs' short connections. */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + k++ % (unsigned)G.nsrc);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("bind 127.0.0.x: %s", strerror(errno));
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die("connect 127.0.0.1:%d: %s", G.port, strerror(errno));
	return fd;
}

static void
ep_set(int fd, uint32_t events, uint32_t type, uint32_t idx, int op)
{
	struct epoll_event ev = { .events = events,
		.data.u64 = ((uint64_t)type << 32) | idx };

	if (epoll_ctl(G.ep, op, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* Closes without a TIME_WAIT (RST): the next run reuses the ports. */
static void
hard_close(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void
conn_dead(struct conn *c, const char *why)
{
	if (c->state == C_DEAD)
		return;
	if (c->state < C_OPEN)
		G.hs_failed++;
	else if (c->state == C_SUBSCRIBING) {
		G.sub_failed++;
		G.subscribing--;
	}
	else if (c->state == C_LIVE) {
		G.closed_early++;
		G.live--;
	}
	set_first_error("conn_%u:%s", c->user, why);
	c->state = C_DEAD;
	epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
	hard_close(c->fd);
	c->fd = -1;
	free(c->carry), c->carry = NULL, c->carry_len = c->carry_cap = 0;
	free(c->out), c->out = NULL, c->out_len = 0;
}

static void
conn_send(struct conn *c, const char *data, size_t len)
{
	ssize_t n = 0;

	if (c->state == C_DEAD)
		return;
	if (c->out_len == 0) {
		n = write(c->fd, data, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_dead(c, "write_failed");
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
		ep_set(c->fd, EPOLLIN | EPOLLOUT, T_CONN, (uint32_t)(c - G.conns), EPOLL_CTL_MOD);
	}
}

/* A masked client frame (text or pong). */
static void
conn_send_frame(struct conn *c, int opcode, const char *payload, size_t len)
{
	char f[256];
	unsigned char mask[4];
	size_t h = 2;

	if (len > sizeof(f) - 8)
		len = sizeof(f) - 8;	/* pings carry little; subscribe is short */
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
	conn_send(c, f, h + 4 + len);
}

static void
conn_handshake(struct conn *c)
{
	char token[512], req[1024];
	unsigned char key[16];
	char key_b64[32];
	int n;

	make_token(c->user, token, sizeof(token));
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(key_b64, sizeof(key_b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(req, sizeof(req),
	    "GET /api/ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    token, G.port, key_b64);
	c->state = C_HANDSHAKE;
	conn_send(c, req, (size_t)n);
}

static void
conn_subscribe(struct conn *c)
{
	char m[128];
	int n = snprintf(m, sizeof(m), "{\"type\":\"subscribe\",\"room_id\":\"%s\"}", G.room);

	c->state = C_SUBSCRIBING;
	G.subscribing++;
	conn_send_frame(c, 0x1, m, (size_t)n);
}

static inline uint64_t
hex_n(const char *p, int n, bool *ok)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		unsigned d = ch - '0' < 10 ? ch - '0' : (ch | 0x20) - 'a' < 6 ? (ch | 0x20) - 'a' + 10 : 99;
		if (d > 15) {
			*ok = false;
			return 0;
		}
		v = v << 4 | d;
	}
	return v;
}

static void
on_text(struct conn *c, const char *p, size_t n, uint64_t t)
{
	const char *m = memmem(p, n, MARKER, 4);

	if (m != NULL && (size_t)(p + n - m) >= 4 + 8 + 1 + 16) {
		bool ok = true;
		uint64_t idx = hex_n(m + 4, 8, &ok), ts = hex_n(m + 13, 16, &ok);

		if (!ok || idx >= G.nmsgs || G.msgs[idx].t_sent == 0) {
			G.unknown_msg++;
			return;
		}
		G.msgs[idx].count++;
		c->got++;
		G.received++;
		if (idx >= G.warm_msgs) {
			G.measured_recv++;
			G.t_last_measured = t;
			h_add(&G.lat, t > ts ? t - ts : 0);
		}
		return;
	}
	if (c->state == C_SUBSCRIBING) {
		if (memmem(p, n, "\"subscribed\"", 12) != NULL) {
			c->state = C_LIVE;
			G.live++;
			G.subscribing--;
			return;
		}
		if (memmem(p, n, "\"error\"", 7) != NULL && c->retries < 10 &&
		    memmem(p, n, "\"unavailable\"", 13) != NULL) {
			/* chatd did not answer in time (busy): again in 0.5 s */
			c->state = C_OPEN;
			c->retries++;
			G.subscribing--;
			G.sub_retries++;
			G.retryq[G.rq_tail++] = (struct retry){ (uint32_t)(c - G.conns),
			    t + 500000000ull };
			return;
		}
		if (memmem(p, n, "\"error\"", 7) != NULL) {
			set_first_error("subscribe:%.*s", (int)(n > 200 ? 200 : n), p);
			conn_dead(c, "subscribe_refused");	/* counts sub_failed */
			return;
		}
	}
	G.other_frames++;
}

/* Parses frames in p[0..len); returns the bytes consumed (a partial frame
 * at the end stays). */
static size_t
parse_frames(struct conn *c, const char *p, size_t len, uint64_t t)
{
	size_t off = 0;

	while (c->state != C_DEAD && len - off >= 2) {
		const unsigned char *h = (const unsigned char *)p + off;
		int opcode = h[0] & 0x0f;
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
			conn_dead(c, "huge_frame");
			return len;
		}
		if (len - off < hl + plen)
			break;
		const char *pl = p + off + hl;
		if (opcode == 0x1 || opcode == 0x0) {
			on_text(c, pl, (size_t)plen, t);
		} else if (opcode == 0x9) {
			conn_send_frame(c, 0xA, pl, (size_t)plen);
		} else if (opcode == 0x8) {
			int code = plen >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 0;
			if (code == 1013)
				G.close_1013++;
			char why[64];
			snprintf(why, sizeof(why), "close_%d", code);
			conn_dead(c, why);
			return len;
		}
		off += hl + (size_t)plen;
	}
	return off;
}

static void
conn_on_input(struct conn *c, char *data, size_t len, uint64_t t)
{
	size_t used = 0;

	if (c->state == C_HANDSHAKE) {
		char *end = memmem(data, len, "\r\n\r\n", 4);
		if (end == NULL) {
			if (len > 8192) {
				conn_dead(c, "handshake_too_long");
				return;
			}
			goto keep;
		}
		if (len < 12 || memcmp(data, "HTTP/1.1 101", 12) != 0) {
			char *body = end + 4;
			set_first_error("handshake:%.*s|%.*s", 12, data,
			    (int)(data + len - body > 160 ? 160 : data + len - body), body);
			conn_dead(c, "handshake_refused");
			return;
		}
		c->state = C_OPEN;
		G.opened++;
		used = (size_t)(end + 4 - data);
	}
	used += parse_frames(c, data + used, len - used, t);
	if (c->state == C_DEAD)
		return;
keep:
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

static void
conn_event(struct conn *c, uint32_t events)
{
	if (c->state == C_DEAD)
		return;
	if (events & EPOLLOUT) {
		if (c->state == C_CONNECTING) {
			int err = 0;
			socklen_t l = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err != 0) {
				conn_dead(c, "connect_failed");
				return;
			}
			c->want_out = false;
			ep_set(c->fd, EPOLLIN, T_CONN, (uint32_t)(c - G.conns), EPOLL_CTL_MOD);
			conn_handshake(c);
		} else if (c->out_len > 0) {
			ssize_t n = write(c->fd, c->out, c->out_len);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				conn_dead(c, "write_failed");
				return;
			}
			if (n > 0) {
				memmove(c->out, c->out + n, c->out_len - (size_t)n);
				c->out_len -= (uint32_t)n;
			}
		}
		if (c->out_len == 0 && c->want_out && c->state != C_CONNECTING) {
			c->want_out = false;
			ep_set(c->fd, EPOLLIN, T_CONN, (uint32_t)(c - G.conns), EPOLL_CTL_MOD);
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		size_t have = c->carry_len;
		ssize_t n;

		if (have > 0)
			memcpy(G.rbuf, c->carry, have);
		n = read(c->fd, G.rbuf + have, RBUF_SIZE - have);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_dead(c, n == 0 ? "eof" : "read_error");
			return;
		}
		if (n > 0)
			conn_on_input(c, G.rbuf, have + (size_t)n, now_ns());
	}
}

/* ------------------------------------------------------------ publisher */

static void
pub_open(int i)
{
	struct pub *p = &G.pubs[i];

	p->fd = tcp_connect();
	p->busy = true;			/* until connected */
	p->connected = false;
	p->len = 0;
	ep_set(p->fd, EPOLLIN | EPOLLOUT, T_PUB, (uint32_t)i, EPOLL_CTL_ADD);
}

static char pub_token[512];

static bool
pub_send(struct pub *p)
{
	char content[CONTENT_LEN + 1], body[256], req[1024];
	uint32_t idx;
	uint64_t t;
	int bl, n;

	if (G.next_msg >= G.nmsgs)
		return false;
	idx = G.next_msg++;
	t = now_ns();
	n = snprintf(content, sizeof(content), MARKER "%08" PRIx32 ":%016" PRIx64 ":", idx, t);
	memset(content + n, 'x', (size_t)(CONTENT_LEN - n));
	content[CONTENT_LEN] = '\0';
	bl = snprintf(body, sizeof(body), "{\"room_id\":\"%s\",\"content\":\"%s\"}", G.room, content);
	n = snprintf(req, sizeof(req),
	    "POST /api/message/send HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s", G.port, pub_token, bl, body);
	G.msgs[idx].t_sent = t;
	/* later than its schedule by over 2 ms: every publisher was busy */
	uint64_t sched = G.t_sched0 + (uint64_t)idx * G.interval;
	if (t > sched + 2000000)
		G.late++;
	if (t > sched && t - sched > G.max_late)
		G.max_late = t - sched;
	if (write(p->fd, req, (size_t)n) != n)	/* ~600 bytes into an idle socket */
		die("publisher write: %s", strerror(errno));
	p->busy = true;
	p->msg = idx;
	p->t_sent = t;
	p->len = 0;
	return true;
}

static void
pub_kick(void)
{
	static int rr;

	/* round robin: every connection stays warm (a server may close an
	 * idle keep-alive connection) */
	for (int k = 0; k < G.npubs && G.due > 0; k++) {
		struct pub *p = &G.pubs[rr++ % G.npubs];
		if (p->connected && !p->busy) {
			if (!pub_send(p)) {
				G.due = 0;
				return;
			}
			G.due--;
		}
	}
}

static void
pub_event(int i, uint32_t events)
{
	struct pub *p = &G.pubs[i];

	if (!p->connected && (events & EPOLLOUT)) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err != 0)
			die("publisher connect: %s", strerror(err));
		p->connected = true;
		p->busy = false;
		ep_set(p->fd, EPOLLIN, T_PUB, (uint32_t)i, EPOLL_CTL_MOD);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t n = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - (size_t)p->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* closed by the server: a message in flight is lost; reconnect */
		if (p->busy) {
			G.post_err++;
			set_first_error("publisher_%d:%s", i, n == 0 ? "EOF" : strerror(errno));
		}
		G.pub_reconnects++;
		epoll_ctl(G.ep, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
		pub_open(i);
		return;
	}
	p->len += (int)n;
	p->buf[p->len] = '\0';
	char *end = strstr(p->buf, "\r\n\r\n");
	if (end == NULL)
		return;
	int status = p->len > 12 ? atoi(p->buf + 9) : 0;
	long cl = -1;
	for (char *h = p->buf; h < end; h = strstr(h, "\r\n") + 2) {
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			cl = strtol(h + 15, NULL, 10);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0)
			die("publisher: chunked answers are not supported");
	}
	if (cl < 0)
		die("publisher: an answer without Content-Length");
	if (end + 4 + cl > p->buf + p->len)
		return;
	uint64_t t = now_ns();
	if (status >= 200 && status < 300) {
		G.msgs[p->msg].ok = 1;
		G.sent_ok++;
	} else {
		G.post_err++;
		set_first_error("post_%d:%.*s", status, (int)(cl > 160 ? 160 : cl), end + 4);
	}
	if (p->msg >= G.warm_msgs)
		h_add(&G.post_lat, t - p->t_sent);
	p->busy = false;
	p->len = 0;
	if (G.due > 0 && G.sending) {
		if (pub_send(p))
			G.due--;
		else
			G.due = 0;
	}
}

static bool
pubs_idle(void)
{
	for (int i = 0; i < G.npubs; i++)
		if (G.pubs[i].busy)
			return false;
	return true;
}

/* ------------------------------------------------------------ /proc */

static unsigned long long
proc_ticks(int pid, unsigned long long *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields 3.. after ") "; utime and stime are fields 14 and 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	*sys += st;
	return ut + st;
}

static void
cpu_sample(bool end)
{
	for (int g = 0; g < G.ngroups; g++) {
		unsigned long long t = 0, st = 0;
		for (int i = 0; i < G.groups[g].npids; i++)
			t += proc_ticks(G.groups[g].pids[i], &st);
		if (end)
			G.groups[g].t1 = t, G.groups[g].s1 = st;
		else
			G.groups[g].t0 = t, G.groups[g].s0 = st;
	}
}

static long
vm_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static double
cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------ loop */

static void
poll_once(int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(G.ep, evs, MAX_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		uint32_t type = (uint32_t)(evs[i].data.u64 >> 32), idx = (uint32_t)evs[i].data.u64;
		if (type == T_CONN) {
			conn_event(&G.conns[idx], evs[i].events);
		} else if (type == T_PUB) {
			pub_event((int)idx, evs[i].events);
		} else if (type == T_TIMER) {
			uint64_t exp;
			if (read(G.tfd, &exp, sizeof(exp)) == sizeof(exp) && G.sending) {
				G.due += exp;
				pub_kick();
			}
		}
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	G.stop = 1;
}

/* Opens and handshakes every socket (at most G.inflight at a time), then
 * subscribes them (as many at a time). Connect-all-then-subscribe keeps
 * the presence announcements of the connects (if any) out of the
 * subscribed sockets. */
static void
setup(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(G.setup_timeout_s * 1e9), t0 = now_ns();
	int next = 0, nsub = 0;

	for (;;) {
		int resolved = G.opened + G.hs_failed;
		while (next < G.nsubs && next - resolved < G.inflight) {
			struct conn *c = &G.conns[next];
			c->fd = tcp_connect();
			c->state = C_CONNECTING;
			c->want_out = true;
			ep_set(c->fd, EPOLLIN | EPOLLOUT, T_CONN, (uint32_t)next, EPOLL_CTL_ADD);
			next++;
		}
		if (G.opened + G.hs_failed >= G.nsubs)
			break;
		if (now_ns() > deadline || G.stop)
			die("setup: %d of %d sockets open after %.0f s (%d refused; first error %s)",
			    G.opened, G.nsubs, G.setup_timeout_s, G.hs_failed,
			    G.first_error[0] ? G.first_error : "none");
		poll_once(100);
	}
	note("%d sockets open in %.2f s (%d failed)", G.opened, (now_ns() - t0) / 1e9, G.hs_failed);
	t0 = now_ns();
	for (int i = 0;;) {
		while (i < G.nsubs && G.subscribing < G.inflight) {
			struct conn *c = &G.conns[i++];
			if (c->state == C_OPEN) {
				conn_subscribe(c);
				nsub++;
			}
		}
		while (G.rq_head < G.rq_tail && G.subscribing < G.inflight &&
		    G.retryq[G.rq_head].t <= now_ns()) {
			struct conn *c = &G.conns[G.retryq[G.rq_head++].idx];
			if (c->state == C_OPEN)
				conn_subscribe(c);
		}
		if (i >= G.nsubs && G.subscribing == 0 && G.rq_head == G.rq_tail)
			break;
		if (now_ns() > deadline || G.stop)
			die("setup: %d of %d sockets subscribed after %.0f s (first error %s)",
			    G.live, nsub, G.setup_timeout_s, G.first_error[0] ? G.first_error : "none");
		poll_once(100);
	}
	note("%d sockets subscribed in %.2f s (%d refused, %d retries after \"unavailable\")",
	    G.live, (now_ns() - t0) / 1e9, G.sub_failed, G.sub_retries);
	if (G.live == 0)
		die("no socket could subscribe (first error %s)", G.first_error);
}

static void
run_for(double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);

	while (!G.stop) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		poll_once((int)((end - t) / 1000000) + 1);
	}
}

static void
close_all(void)
{
	for (int i = 0; i < G.nsubs; i++)
		if (G.conns[i].fd >= 0)
			hard_close(G.conns[i].fd);
	for (int i = 0; i < G.npubs; i++)
		if (G.pubs[i].fd > 0)
			hard_close(G.pubs[i].fd);
}

static void
idle_mode(void)
{
	long rss0 = G.rss_pid > 0 ? vm_rss_kib(G.rss_pid) : -1, rss1;

	setup();
	run_for(G.settle_s);
	rss1 = G.rss_pid > 0 ? vm_rss_kib(G.rss_pid) : -1;
	printf("mode=idle subs=%d live=%d rss0_kib=%ld rss1_kib=%ld rss_per_socket_kib=%.3f"
	    " sub_retries=%d closed=%d first_error=%s\n", G.nsubs, G.live, rss0, rss1,
	    G.live > 0 && rss0 >= 0 ? (double)(rss1 - rss0) / G.live : 0.0,
	    G.sub_retries, G.closed_early, G.first_error[0] ? G.first_error : "none");
	fflush(stdout);
}

static void
fanout_mode(void)
{
	struct itimerspec its = { 0 };
	uint64_t interval = (uint64_t)(1e9 / G.rate), t_end_send, deadline, expected = 0;
	uint32_t min_got = UINT32_MAX;
	double cpu0, cpu1;
	int live0;

	G.nmsgs = (uint32_t)(G.rate * (G.warmup_s + G.duration_s) + 0.5);
	G.warm_msgs = (uint32_t)(G.rate * G.warmup_s + 0.5);
	if ((G.msgs = calloc(G.nmsgs + 1, sizeof(*G.msgs))) == NULL)
		die("out of memory");
	make_token(0, pub_token, sizeof(pub_token));
	for (int i = 0; i < G.npubs; i++)
		pub_open(i);
	setup();
	run_for(G.settle_s);		/* stray frames of the setup */
	live0 = G.live;
	G.other_frames = 0;
	for (int i = 0; i < G.npubs; i++)
		if (!G.pubs[i].connected)
			die("publisher %d did not connect", i);

	if ((G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
		die("timerfd_create: %s", strerror(errno));
	ep_set(G.tfd, EPOLLIN, T_TIMER, 0, EPOLL_CTL_ADD);
	its.it_interval.tv_sec = (time_t)(interval / 1000000000ull);
	its.it_interval.tv_nsec = (long)(interval % 1000000000ull);
	its.it_value.tv_nsec = 1000;
	G.sending = true;
	G.interval = interval;
	G.t_sched0 = now_ns();
	timerfd_settime(G.tfd, 0, &its, NULL);
	note("publishing %u messages at %.0f/s to %d subscribers (%u of warm-up)",
	    G.nmsgs, G.rate, G.live, G.warm_msgs);

	/* warm-up, then the measured part */
	while (!G.stop && G.next_msg < G.warm_msgs)
		poll_once(50);
	G.t_measure0 = now_ns();
	note("measuring for %.1f s", G.duration_s);
	cpu_sample(false);
	cpu0 = cpu_self_s();
	while (!G.stop && G.next_msg < G.nmsgs)
		poll_once(50);
	t_end_send = now_ns();
	G.sending = false;
	memset(&its, 0, sizeof(its));
	timerfd_settime(G.tfd, 0, &its, NULL);
	G.skipped = G.nmsgs - G.next_msg;

	/* drain: until every answered message reached every live socket */
	deadline = t_end_send + (uint64_t)(G.drain_s * 1e9);
	for (;;) {
		if (pubs_idle()) {
			expected = G.sent_ok * (uint64_t)live0;
			if (G.received >= expected)
				break;
		}
		if (G.stop || now_ns() > deadline)
			break;
		poll_once(20);
	}
	cpu_sample(true);
	cpu1 = cpu_self_s();
	uint64_t t_stop = now_ns();
	expected = G.sent_ok * (uint64_t)live0;

	uint64_t measured_expected = 0;
	for (uint32_t i = G.warm_msgs; i < G.nmsgs; i++)
		if (G.msgs[i].ok)
			measured_expected += (uint64_t)live0;
	for (int i = 0; i < G.nsubs; i++)
		if (G.conns[i].state == C_LIVE && G.conns[i].got < min_got)
			min_got = G.conns[i].got;
	if (min_got == UINT32_MAX)
		min_got = 0;

	double win_s = (double)((G.t_last_measured > G.t_measure0 ? G.t_last_measured : t_stop) -
	    G.t_measure0) / 1e9;
	double cpu_win_s = (double)(t_stop - G.t_measure0) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);
	long long loss = (long long)expected - (long long)G.received;

	printf("mode=fanout subs=%d live=%d rate=%.0f msgs=%u warm_msgs=%u sent_ok=%" PRIu64
	    " post_err=%" PRIu64 " pub_reconnects=%" PRIu64 " skipped=%" PRIu64 " late=%" PRIu64 " max_late_ms=%.3f expected=%" PRIu64
	    " received=%" PRIu64 " loss=%lld loss_pct=%.4f min_per_sub=%u"
	    " measured_expected=%" PRIu64 " measured_recv=%" PRIu64 " measured_s=%.3f"
	    " deliv_per_s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
	    " post_p50_ms=%.3f post_p99_ms=%.3f client_cpu_pct=%.1f cpu_window_s=%.3f"
	    " closed=%d close_1013=%d sub_retries=%d other_frames=%" PRIu64 " unknown=%" PRIu64,
	    G.nsubs, live0, G.rate, G.nmsgs, G.warm_msgs, G.sent_ok, G.post_err,
	    G.pub_reconnects, G.skipped,
	    G.late, (double)G.max_late / 1e6, expected, G.received, loss,
	    expected ? 100.0 * (double)loss / (double)expected : 0.0, min_got,
	    measured_expected, G.measured_recv, win_s,
	    win_s > 0 ? (double)G.measured_recv / win_s : 0.0,
	    h_pct_ms(&G.lat, 50), h_pct_ms(&G.lat, 99), h_pct_ms(&G.lat, 99.9),
	    (double)G.lat.max / 1e6, h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 99),
	    cpu_win_s > 0 ? 100.0 * (cpu1 - cpu0) / cpu_win_s : 0.0, cpu_win_s,
	    G.closed_early, G.close_1013, G.sub_retries, G.other_frames, G.unknown_msg);
	for (int g = 0; g < G.ngroups; g++) {
		double s = (double)(G.groups[g].t1 - G.groups[g].t0) / (double)hz;
		double sys = (double)(G.groups[g].s1 - G.groups[g].s0) / (double)hz;
		printf(" cpu_%s_s=%.2f cpu_%s_pct=%.1f cpu_%s_us=%.4f cpu_%s_sys_us=%.4f",
		    G.groups[g].name, s,
		    G.groups[g].name, cpu_win_s > 0 ? 100.0 * s / cpu_win_s : 0.0,
		    G.groups[g].name, G.measured_recv ? s * 1e6 / (double)G.measured_recv : 0.0,
		    G.groups[g].name, G.measured_recv ? sys * 1e6 / (double)G.measured_recv : 0.0);
	}
	printf(" first_error=%s\n", G.first_error[0] ? G.first_error : "none");
	fflush(stdout);
}

static void
add_group(const char *spec)
{
	struct cpu_group *g;
	const char *eq = strchr(spec, '=');
	char *list, *tok, *save;

	if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(g->name) ||
	    G.ngroups == MAX_CPU_GROUPS)
		die("bad -c %s (want NAME=PID[,PID...])", spec);
	g = &G.groups[G.ngroups++];
	memcpy(g->name, spec, (size_t)(eq - spec));
	list = strdup(eq + 1);
	for (tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
		if (g->npids < 64 && atoi(tok) > 0)
			g->pids[g->npids++] = atoi(tok);
	free(list);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wsload -p PORT -k TOKEN_KEY -u UID_PREFIX -T INDEX        (print a token)\n"
	    "       wsload -p PORT -k TOKEN_KEY -u UID_PREFIX -r ROOM -n SUBS [options]\n"
	    "  -m fanout|idle   mode [fanout]\n"
	    "  -f FIRST         index of the first subscriber [1]; the publisher is 0\n"
	    "  -R RATE          messages per second [50]\n"
	    "  -w SECONDS       warm-up (sent, not in the latency or CPU figures) [2]\n"
	    "  -d SECONDS       measured sending time [10]\n"
	    "  -D SECONDS       longest drain after the last send [5]\n"
	    "  -S SECONDS       settle time after setup [0.5; idle: 3]\n"
	    "  -t SECONDS       setup timeout [180]\n"
	    "  -P N             publisher connections [4]\n"
	    "  -i N             handshakes / subscribes in flight [256]\n"
	    "  -s N             source addresses 127.0.0.2 .. 127.0.0.(1+N); 0 = 127.0.0.1 [16]\n"
	    "  -c NAME=PID,...  a server process group whose CPU to report (repeatable)\n"
	    "  -M PID           idle mode: the process whose VmRSS to report\n"
	    "  -q               quiet\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long token_for = -1;
	int opt;
	bool settle_set = false;

	G.mode = "fanout";
	G.first = 1;
	G.rate = 50, G.warmup_s = 2, G.duration_s = 10, G.drain_s = 5, G.settle_s = 0.5;
	G.setup_timeout_s = 180, G.npubs = 4, G.inflight = 256, G.nsrc = 16;
	while ((opt = getopt(argc, argv, "p:k:u:r:n:m:f:R:w:d:D:S:t:P:i:s:c:M:T:q")) != -1) {
		switch (opt) {
		case 'p': G.port = atoi(optarg); break;
		case 'k': G.key_path = optarg; break;
		case 'u': G.prefix = optarg; break;
		case 'r': G.room = optarg; break;
		case 'n': G.nsubs = atoi(optarg); break;
		case 'm': G.mode = optarg; break;
		case 'f': G.first = atoi(optarg); break;
		case 'R': G.rate = atof(optarg); break;
		case 'w': G.warmup_s = atof(optarg); break;
		case 'd': G.duration_s = atof(optarg); break;
		case 'D': G.drain_s = atof(optarg); break;
		case 'S': G.settle_s = atof(optarg); settle_set = true; break;
		case 't': G.setup_timeout_s = atof(optarg); break;
		case 'P': G.npubs = atoi(optarg); break;
		case 'i': G.inflight = atoi(optarg); break;
		case 's': G.nsrc = atoi(optarg); break;
		case 'c': add_group(optarg); break;
		case 'M': G.rss_pid = atoi(optarg); break;
		case 'T': token_for = atol(optarg); break;
		case 'q': G.quiet = true; break;
		default: usage();
		}
	}
	if (sodium_init() < 0)
		die("sodium_init failed");
	if (G.key_path == NULL || G.prefix == NULL || strlen(G.prefix) != 24 || G.prefix[14] != '4')
		usage();
	load_key();
	if (token_for >= 0) {
		char tok[512];
		make_token((uint32_t)token_for, tok, sizeof(tok));
		puts(tok);
		return 0;
	}
	if (G.port <= 0 || G.room == NULL || strlen(G.room) != 36 || G.nsubs <= 0 ||
	    G.rate <= 0 || G.npubs < 1 || G.npubs > MAX_PUBS || G.inflight < 1 || G.nsrc < 0 ||
	    G.nsrc > 250)
		usage();
	if (strcmp(G.mode, "idle") == 0 && !settle_set)
		G.settle_s = 3;

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)G.nsubs + (rlim_t)G.npubs + 16 > rl.rlim_cur)
		die("%d sockets do not fit in RLIMIT_NOFILE %llu", G.nsubs,
		    (unsigned long long)rl.rlim_cur);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((G.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((G.rbuf = malloc(RBUF_SIZE)) == NULL ||
	    (G.conns = calloc((size_t)G.nsubs, sizeof(*G.conns))) == NULL ||
	    (G.retryq = calloc((size_t)G.nsubs * 11, sizeof(*G.retryq))) == NULL)
		die("out of memory");
	for (int i = 0; i < G.nsubs; i++) {
		G.conns[i].fd = -1;
		G.conns[i].user = (uint32_t)(G.first + i);
	}
	if (strcmp(G.mode, "idle") == 0)
		idle_mode();
	else if (strcmp(G.mode, "fanout") == 0)
		fanout_mode();
	else
		usage();
	close_all();
	return G.stop ? 130 : 0;
}
