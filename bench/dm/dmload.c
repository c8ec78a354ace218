/* dmload: the direct-message load client of bench/dm (README.md).
 *
 * One process, one thread, epoll, non-blocking sockets, everything to
 * 127.0.0.1 (the wire code is bench/fanout/wsload.c's, cut down). Modes:
 *
 *   dm mode    N conversations, each a pair of synthetic users: a receiver
 *              with one WebSocket on GET /api/ws?token=... (never
 *              subscribes: DM events come to every socket of both users)
 *              and a sender that posts POST /api/dm/send {receiver_id,
 *              content} through a pool of keep-alive HTTP/1.1 connections,
 *              one request at a time per connection. Sending is open-loop:
 *              message j is due at t0 + j / (N * RATE) and goes to
 *              conversation j % N, so every conversation gets RATE evenly
 *              spaced messages a second whatever the server does; a
 *              message due while every pool connection waits for an answer
 *              waits for one, and its latency still counts from its due
 *              time (no coordinated omission). The 64-byte content carries
 *              the message number and its due time; each dm-message frame
 *              found on a receiver's socket is matched to its message
 *              (right conversation, once) and its latency is receive time
 *              minus due time. Prints one line of key=value results.
 *   get mode   GET PATH (-G) with user INDEX's token (-U), one request at a
 *              time on one keep-alive connection, W warm-up requests then
 *              COUNT measured: latency percentiles and statuses.
 *   token mode (-T INDEX) prints a token for that user and exits.
 *
 * Users: "PREFIX" + 12 hex digits of the user's index (PREFIX is the first
 * 24 characters of a v4 UUID). Conversation k (0-based) is sender 2k+1 and
 * receiver 2k+2. Tokens are EdDSA JWTs signed with the stack's token.key
 * (libsodium secret key, base64: seed || public key), as authd signs them.
 *
 * Build: cc -std=c17 -O2 -Wall -Wextra -o dmload dmload.c -lsodium */
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
#define MARKER "dm1:"			/* content: dm1:<8 hex msg>:<16 hex ns due>:xxx... */
#define CONTENT_LEN 64
#define MAX_POOL 1024
#define MAX_CPU_GROUPS 8
#define TOKEN_MAX 512
#define RESP_MAX (256 * 1024)

enum { T_RX = 1, T_TX, T_TIMER };
enum { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };
enum { X_CONNECTING, X_IDLE, X_BUSY };

/* A receiver's WebSocket. */
struct rx {
	int fd;
	uint8_t state;
	bool want_out;
	uint32_t user;			/* user index */
	uint32_t conv;			/* its conversation */
	uint32_t got;			/* dm-message deliveries */
	int64_t last_msg;		/* the last message delivered here (order check) */
	uint32_t carry_len, carry_cap;
	char *carry;
	uint32_t out_len;
	char *out;
};

/* A pool connection for POSTs (or the GETs of get mode). */
struct tx {
	int fd;
	uint8_t state;
	bool close_after;		/* the answer said Connection: close */
	int64_t msg;			/* the message in flight, -1 */
	uint64_t t_write;
	uint32_t len;
	char *buf;			/* the answer so far */
	uint32_t out_off, out_len;
	char out[2048];			/* a request the socket did not take at once */
};

struct msg {
	uint64_t t_write;		/* 0: not written yet */
	uint64_t t_answer;		/* the POST's answer came; 0: not yet */
	uint16_t status;		/* the POST's answer; 0: none */
	uint8_t delivered;
};

struct cpu_group {
	char name[32];
	int npids;
	int pids[64];
	unsigned long long t0, t1, s0, s1;
};

/* Latency histogram in ns: exact below 256, then 128 buckets per power of
 * two (under 1% error). */
#define H_SUB 128
#define H_BUCKETS (256 + 48 * H_SUB)
struct hist {
	uint64_t n, max, sum;
	uint64_t b[H_BUCKETS];
};

static struct {
	/* options */
	int port, nsrc;
	const char *key_path, *prefix, *mode, *get_path;
	uint32_t nconv;
	double rate, warmup_s, duration_s, drain_s, settle_s, setup_timeout_s, late_wait_s;
	int npool, inflight;
	long get_user, get_count, get_warm;
	bool quickack;			/* TCP_QUICKACK before every read (get mode) */
	int ngroups;
	struct cpu_group groups[MAX_CPU_GROUPS];
	bool quiet;
	/* state */
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int ep, tfd;
	char *rbuf;
	struct rx *rxs;
	struct tx txs[MAX_POOL];
	int *idle;			/* stack of idle pool connections */
	int nidle, nready, nbusy, max_busy;
	char (*tokens)[TOKEN_MAX];	/* the senders' tokens */
	char (*receivers)[37];		/* the receivers' ids */
	struct msg *msgs;
	uint32_t nmsgs, warm_msgs, next_msg, due_upto;
	double total_rate;
	uint64_t t0;			/* message 0's due time */
	bool sending;
	struct hist lat, lat_w, post_lat;
	uint64_t late, max_late, written, ok, non200, conn_err, reconnects;
	uint64_t st_4xx, st_5xx, st_other;
	uint64_t delivered, measured_delivered, dup, misrouted, out_of_order, unknown;
	uint64_t other_frames, t_measure0, t_last_measured;
	uint64_t win_delivered, t_last_win;	/* deliveries from t_measure0 on */
	uint64_t after_answer_slow, after_answer_max;	/* delivered > 100 ms after the 200 */
	uint64_t arrived_late;		/* lost ones that came in the extra wait */
	bool counting_late;
	int opened, hs_failed, live, closed_early;
	char first_error[256];
	volatile sig_atomic_t stop;
} G;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dmload: ", stderr);
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
	fputs("dmload: ", stderr);
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
	h->sum += v;
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

static double
h_mean_ms(const struct hist *h)
{
	return h->n ? (double)h->sum / (double)h->n / 1e6 : 0.0;
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

/* Closes without a TIME_WAIT (RST). */
static void
hard_close(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* ------------------------------------------------------------ receivers */

static void
rx_dead(struct rx *c, const char *why)
{
	if (c->state == C_DEAD)
		return;
	if (c->state < C_OPEN)
		G.hs_failed++;
	else {
		G.closed_early++;
		G.live--;
	}
	set_first_error("rx_%u:%s", c->conv, why);
	c->state = C_DEAD;
	epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
	hard_close(c->fd);
	c->fd = -1;
	free(c->carry), c->carry = NULL, c->carry_len = c->carry_cap = 0;
	free(c->out), c->out = NULL, c->out_len = 0;
}

static void
rx_send(struct rx *c, const char *data, size_t len)
{
	ssize_t n = 0;

	if (c->state == C_DEAD)
		return;
	if (c->out_len == 0) {
		n = write(c->fd, data, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				rx_dead(c, "write_failed");
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
		ep_set(c->fd, EPOLLIN | EPOLLOUT, T_RX, (uint32_t)(c - G.rxs), EPOLL_CTL_MOD);
	}
}

/* A masked client frame (a pong). */
static void
rx_send_frame(struct rx *c, int opcode, const char *payload, size_t len)
{
	char f[256];
	unsigned char mask[4];

	if (len > 125)
		len = 125;
	randombytes_buf(mask, 4);
	f[0] = (char)(0x80 | opcode);
	f[1] = (char)(0x80 | len);
	memcpy(f + 2, mask, 4);
	for (size_t i = 0; i < len; i++)
		f[6 + i] = (char)(payload[i] ^ mask[i & 3]);
	rx_send(c, f, 6 + len);
}

static void
rx_handshake(struct rx *c)
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
	    token, G.port, key_b64);
	c->state = C_HANDSHAKE;
	rx_send(c, req, (size_t)n);
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

static inline uint64_t
due_of(uint32_t j)
{
	return G.t0 + (uint64_t)((double)j * 1e9 / G.total_rate);
}

static void
on_text(struct rx *c, const char *p, size_t n, uint64_t t)
{
	const char *m;

	if (memmem(p, n, "\"dm-message\"", 12) == NULL ||
	    (m = memmem(p, n, MARKER, 4)) == NULL || (size_t)(p + n - m) < 4 + 8 + 1 + 16) {
		G.other_frames++;
		return;
	}
	bool ok = true;
	uint64_t idx = hex_n(m + 4, 8, &ok), due = hex_n(m + 13, 16, &ok);

	if (!ok || idx >= G.nmsgs || G.msgs[idx].t_write == 0 || due != due_of((uint32_t)idx)) {
		G.unknown++;
		return;
	}
	if (idx % G.nconv != c->conv) {
		G.misrouted++;
		return;
	}
	struct msg *mm = &G.msgs[idx];
	if (mm->delivered) {
		G.dup++;
		return;
	}
	if (G.counting_late) {
		/* after the report: a "lost" DM that came after all */
		mm->delivered = 2;
		G.arrived_late++;
		return;
	}
	mm->delivered = 1;
	if (mm->t_answer != 0 && t > mm->t_answer) {
		uint64_t d = t - mm->t_answer;
		if (d > 100000000ull)
			G.after_answer_slow++;
		if (d > G.after_answer_max)
			G.after_answer_max = d;
	}
	c->got++;
	if ((int64_t)idx < c->last_msg)
		G.out_of_order++;
	else
		c->last_msg = (int64_t)idx;
	G.delivered++;
	if (G.t_measure0 != 0 && t >= G.t_measure0) {
		G.win_delivered++;
		G.t_last_win = t;
	}
	if (idx >= G.warm_msgs) {
		G.measured_delivered++;
		G.t_last_measured = t;
		h_add(&G.lat, t > due ? t - due : 0);
		h_add(&G.lat_w, t > mm->t_write ? t - mm->t_write : 0);
	}
}

/* Parses frames in p[0..len); returns the bytes consumed. */
static size_t
parse_frames(struct rx *c, const char *p, size_t len, uint64_t t)
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
			hl += 4;
		if (plen > (64u << 20)) {
			rx_dead(c, "huge_frame");
			return len;
		}
		if (len - off < hl + plen)
			break;
		const char *pl = p + off + hl;
		if (opcode == 0x1 || opcode == 0x0) {
			on_text(c, pl, (size_t)plen, t);
		} else if (opcode == 0x9) {
			rx_send_frame(c, 0xA, pl, (size_t)plen);
		} else if (opcode == 0x8) {
			int code = plen >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 0;
			char why[64];
			snprintf(why, sizeof(why), "close_%d", code);
			rx_dead(c, why);
			return len;
		}
		off += hl + (size_t)plen;
	}
	return off;
}

static void
rx_on_input(struct rx *c, char *data, size_t len, uint64_t t)
{
	size_t used = 0;

	if (c->state == C_HANDSHAKE) {
		char *end = memmem(data, len, "\r\n\r\n", 4);
		if (end == NULL) {
			if (len > 8192) {
				rx_dead(c, "handshake_too_long");
				return;
			}
			goto keep;
		}
		if (len < 12 || memcmp(data, "HTTP/1.1 101", 12) != 0) {
			char *body = end + 4;
			set_first_error("handshake:%.*s|%.*s", 12, data,
			    (int)(data + len - body > 160 ? 160 : data + len - body), body);
			rx_dead(c, "handshake_refused");
			return;
		}
		c->state = C_OPEN;
		G.opened++;
		G.live++;
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
rx_event(struct rx *c, uint32_t events)
{
	if (c->state == C_DEAD)
		return;
	if (events & EPOLLOUT) {
		if (c->state == C_CONNECTING) {
			int err = 0;
			socklen_t l = sizeof(err);
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err != 0) {
				rx_dead(c, "connect_failed");
				return;
			}
			c->want_out = false;
			ep_set(c->fd, EPOLLIN, T_RX, (uint32_t)(c - G.rxs), EPOLL_CTL_MOD);
			rx_handshake(c);
		} else if (c->out_len > 0) {
			ssize_t n = write(c->fd, c->out, c->out_len);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				rx_dead(c, "write_failed");
				return;
			}
			if (n > 0) {
				memmove(c->out, c->out + n, c->out_len - (size_t)n);
				c->out_len -= (uint32_t)n;
			}
		}
		if (c->out_len == 0 && c->want_out && c->state != C_CONNECTING) {
			c->want_out = false;
			ep_set(c->fd, EPOLLIN, T_RX, (uint32_t)(c - G.rxs), EPOLL_CTL_MOD);
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		size_t have = c->carry_len;
		ssize_t n;

		if (have > 0)
			memcpy(G.rbuf, c->carry, have);
		n = read(c->fd, G.rbuf + have, RBUF_SIZE - have);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			rx_dead(c, n == 0 ? "eof" : "read_error");
			return;
		}
		if (n > 0)
			rx_on_input(c, G.rbuf, have + (size_t)n, now_ns());
	}
}

/* ------------------------------------------------------------ HTTP pool */

static void
tx_open(int i)
{
	struct tx *x = &G.txs[i];

	x->fd = tcp_connect();
	x->state = X_CONNECTING;
	x->msg = -1;
	x->len = 0;
	x->out_len = x->out_off = 0;
	x->close_after = false;
	if (x->buf == NULL && (x->buf = malloc(RESP_MAX + 1)) == NULL)
		die("out of memory");
	ep_set(x->fd, EPOLLIN | EPOLLOUT, T_TX, (uint32_t)i, EPOLL_CTL_ADD);
}

static void
tx_idle(int i)
{
	if (G.txs[i].state == X_BUSY)
		G.nbusy--;
	G.txs[i].state = X_IDLE;
	G.idle[G.nidle++] = i;
}

/* Writes request req (n bytes) on idle connection i. */
static void
tx_write(int i, const char *req, size_t n)
{
	struct tx *x = &G.txs[i];
	ssize_t w = write(x->fd, req, n);

	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			w = -2;
		else
			w = 0;
	}
	x->state = X_BUSY;
	x->len = 0;
	x->t_write = now_ns();
	if (++G.nbusy > G.max_busy)
		G.max_busy = G.nbusy;
	if (w == -2)
		return;		/* the EPOLLIN/EPOLLHUP that follows counts it */
	if ((size_t)w < n) {
		if (n - (size_t)w > sizeof(x->out))
			die("request too long");
		memcpy(x->out, req + w, n - (size_t)w);
		x->out_off = 0;
		x->out_len = (uint32_t)(n - (size_t)w);
		ep_set(x->fd, EPOLLIN | EPOLLOUT, T_TX, (uint32_t)i, EPOLL_CTL_MOD);
	}
}

/* Sends message j on idle connection i. */
static void
send_msg(int i, uint32_t j)
{
	char content[CONTENT_LEN + 1], body[256], req[2048];
	uint32_t k = j % G.nconv;
	uint64_t due = due_of(j), t;
	int bl, n;

	n = snprintf(content, sizeof(content), MARKER "%08" PRIx32 ":%016" PRIx64 ":", j, due);
	memset(content + n, 'x', (size_t)(CONTENT_LEN - n));
	content[CONTENT_LEN] = '\0';
	bl = snprintf(body, sizeof(body), "{\"receiver_id\":\"%s\",\"content\":\"%s\"}",
	    G.receivers[k], content);
	n = snprintf(req, sizeof(req),
	    "POST /api/dm/send HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s", G.port, G.tokens[k], bl, body);
	G.txs[i].msg = j;
	tx_write(i, req, (size_t)n);
	t = G.txs[i].t_write;
	G.msgs[j].t_write = t;
	G.written++;
	if (t > due + 2000000)
		G.late++;
	if (t > due && t - due > G.max_late)
		G.max_late = t - due;
}

/* Sends what is due on the idle connections, oldest first. */
static void
pump(void)
{
	if (!G.sending)
		return;
	uint64_t t = now_ns();
	if (t >= G.t0) {
		uint64_t upto = (uint64_t)((double)(t - G.t0) * G.total_rate / 1e9) + 1;
		G.due_upto = upto > G.nmsgs ? G.nmsgs : (uint32_t)upto;
	}
	while (G.next_msg < G.due_upto && G.nidle > 0)
		send_msg(G.idle[--G.nidle], G.next_msg++);
}

static void get_next(int i);

/* The answer on connection i is complete: status, body. */
static void
tx_done(int i, int status, const char *body, long cl, uint64_t t)
{
	struct tx *x = &G.txs[i];

	if (x->msg >= 0 && G.msgs != NULL) {
		struct msg *m = &G.msgs[x->msg];
		m->status = (uint16_t)status;
		m->t_answer = t;
		if ((uint32_t)x->msg >= G.warm_msgs)
			h_add(&G.post_lat, t - x->t_write);
	} else {
		h_add(&G.post_lat, t - x->t_write);
	}
	if (status == 200) {
		G.ok++;
	} else {
		G.non200++;
		if (status >= 400 && status < 500)
			G.st_4xx++;
		else if (status >= 500 && status < 600)
			G.st_5xx++;
		else
			G.st_other++;
		set_first_error("http_%d:%.*s", status, (int)(cl > 160 ? 160 : cl), body);
	}
	x->msg = -1;
	x->len = 0;
	if (x->close_after) {
		G.nbusy--;
		G.reconnects++;
		epoll_ctl(G.ep, EPOLL_CTL_DEL, x->fd, NULL);
		close(x->fd);
		tx_open(i);
		return;
	}
	tx_idle(i);
}

static void
tx_event(int i, uint32_t events)
{
	struct tx *x = &G.txs[i];

	if (x->state == X_CONNECTING && (events & EPOLLOUT)) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err != 0)
			die("pool connect: %s", strerror(err));
		ep_set(x->fd, EPOLLIN, T_TX, (uint32_t)i, EPOLL_CTL_MOD);
		tx_idle(i);
		G.nready++;
		if (strcmp(G.mode, "get") == 0)
			get_next(i);
		else
			pump();
		return;
	}
	if ((events & EPOLLOUT) && x->out_len > 0) {
		ssize_t w = write(x->fd, x->out + x->out_off, x->out_len);
		if (w > 0) {
			x->out_off += (uint32_t)w;
			x->out_len -= (uint32_t)w;
		}
		if (x->out_len == 0)
			ep_set(x->fd, EPOLLIN, T_TX, (uint32_t)i, EPOLL_CTL_MOD);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (G.quickack) {
		/* ACK at once what arrives: a server that writes a response in
		 * several pieces without TCP_NODELAY then does not wait for our
		 * delayed ACK (Nagle) before its last piece */
		int one = 1;
		setsockopt(x->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	ssize_t n = read(x->fd, x->buf + x->len, RESP_MAX - x->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* closed by the server: a request in flight has no answer */
		if (x->state == X_BUSY) {
			G.nbusy--;
			G.conn_err++;
			set_first_error("pool_%d:%s", i, n == 0 ? "EOF" : strerror(errno));
		} else {
			/* an idle connection: take it off the idle stack */
			for (int k = 0; k < G.nidle; k++)
				if (G.idle[k] == i) {
					G.idle[k] = G.idle[--G.nidle];
					break;
				}
		}
		G.reconnects++;
		epoll_ctl(G.ep, EPOLL_CTL_DEL, x->fd, NULL);
		close(x->fd);
		tx_open(i);
		return;
	}
	if (x->state != X_BUSY) {
		G.st_other++;
		set_first_error("pool_%d:unexpected_bytes", i);
		return;
	}
	uint64_t t = now_ns();
	x->len += (uint32_t)n;
	x->buf[x->len] = '\0';
	char *end = strstr(x->buf, "\r\n\r\n");
	if (end == NULL) {
		if (x->len >= RESP_MAX)
			die("an answer's headers over %d bytes", RESP_MAX);
		return;
	}
	int status = x->len > 12 ? atoi(x->buf + 9) : 0;
	long cl = -1;
	x->close_after = false;
	for (char *h = strstr(x->buf, "\r\n") + 2; h < end; h = strstr(h, "\r\n") + 2) {
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			cl = strtol(h + 15, NULL, 10);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0)
			die("chunked answers are not supported");
		else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h, "close") != NULL &&
		    strcasestr(h, "close") < strstr(h, "\r\n"))
			x->close_after = true;
	}
	if (cl < 0)
		die("an answer without Content-Length");
	if (end + 4 + cl > x->buf + x->len) {
		if ((long)(end + 4 - x->buf) + cl > RESP_MAX)
			die("an answer over %d bytes", RESP_MAX);
		return;
	}
	tx_done(i, status, end + 4, cl, t);
	if (strcmp(G.mode, "get") == 0)
		get_next(i);
	else
		pump();
}

static bool
pool_busy(void)
{
	for (int i = 0; i < G.npool; i++)
		if (G.txs[i].state == X_BUSY)
			return true;
	return false;
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

/* The whole machine's busy and total jiffies (all CPUs, /proc/stat). */
static void
machine_ticks(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)	/* guest time is in user already */
			*total += v[i];
		*busy = *total - v[3] - v[4];	/* minus idle and iowait */
	}
	fclose(f);
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
		if (type == T_RX) {
			rx_event(&G.rxs[idx], evs[i].events);
		} else if (type == T_TX) {
			tx_event((int)idx, evs[i].events);
		} else if (type == T_TIMER) {
			uint64_t exp;
			if (read(G.tfd, &exp, sizeof(exp)) == sizeof(exp))
				pump();
		}
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	G.stop = 1;
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
pool_open(void)
{
	uint64_t deadline = now_ns() + 10000000000ull;

	if ((G.idle = calloc((size_t)G.npool, sizeof(*G.idle))) == NULL)
		die("out of memory");
	for (int i = 0; i < G.npool; i++)
		tx_open(i);
	while (G.nready < G.npool) {
		if (now_ns() > deadline || G.stop)
			die("%d of %d pool connections open after 10 s", G.nready, G.npool);
		poll_once(100);
	}
}

/* Opens and handshakes every receiver socket, at most G.inflight at once. */
static void
rx_setup(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(G.setup_timeout_s * 1e9), t0 = now_ns();
	uint32_t next = 0;

	for (;;) {
		int resolved = G.opened + G.hs_failed;
		while (next < G.nconv && (int)next - resolved < G.inflight) {
			struct rx *c = &G.rxs[next];
			c->fd = tcp_connect();
			c->state = C_CONNECTING;
			c->want_out = true;
			ep_set(c->fd, EPOLLIN | EPOLLOUT, T_RX, next, EPOLL_CTL_ADD);
			next++;
		}
		if ((uint32_t)(G.opened + G.hs_failed) >= G.nconv)
			break;
		if (now_ns() > deadline || G.stop)
			die("setup: %d of %u sockets open after %.0f s (%d refused; first error %s)",
			    G.opened, G.nconv, G.setup_timeout_s, G.hs_failed,
			    G.first_error[0] ? G.first_error : "none");
		poll_once(100);
	}
	note("%d receiver sockets open in %.2f s (%d failed)", G.opened, (now_ns() - t0) / 1e9,
	    G.hs_failed);
	if (G.hs_failed > 0)
		die("%d receiver sockets failed (first error %s)", G.hs_failed, G.first_error);
}

static void
close_all(void)
{
	if (G.rxs != NULL)
		for (uint32_t i = 0; i < G.nconv; i++)
			if (G.rxs[i].fd >= 0)
				hard_close(G.rxs[i].fd);
	for (int i = 0; i < G.npool; i++)
		if (G.txs[i].fd > 0)
			hard_close(G.txs[i].fd);
}

static void
dm_mode(void)
{
	struct itimerspec its = { 0 };
	uint64_t tick, t_end_send, deadline;
	double cpu0, cpu1;
	unsigned long long mb0, mt0, mb1, mt1;
	int live0;

	G.total_rate = G.rate * G.nconv;
	G.nmsgs = (uint32_t)(G.total_rate * (G.warmup_s + G.duration_s) + 0.5);
	G.warm_msgs = (uint32_t)(G.total_rate * G.warmup_s + 0.5);
	if ((G.msgs = calloc(G.nmsgs + 1, sizeof(*G.msgs))) == NULL ||
	    (G.rxs = calloc(G.nconv, sizeof(*G.rxs))) == NULL ||
	    (G.tokens = calloc(G.nconv, sizeof(*G.tokens))) == NULL ||
	    (G.receivers = calloc(G.nconv, sizeof(*G.receivers))) == NULL)
		die("out of memory");
	for (uint32_t k = 0; k < G.nconv; k++) {
		make_token(2 * k + 1, G.tokens[k], TOKEN_MAX);
		user_id(2 * k + 2, G.receivers[k]);
		G.rxs[k].fd = -1;
		G.rxs[k].user = 2 * k + 2;
		G.rxs[k].conv = k;
		G.rxs[k].last_msg = -1;
	}
	pool_open();
	rx_setup();
	run_for(G.settle_s);		/* stray frames of the setup */
	live0 = G.live;
	G.other_frames = 0;

	if ((G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
		die("timerfd_create: %s", strerror(errno));
	ep_set(G.tfd, EPOLLIN, T_TIMER, 0, EPOLL_CTL_ADD);
	/* a tick per message, at most 10k ticks a second */
	tick = (uint64_t)(1e9 / G.total_rate);
	if (tick < 100000)
		tick = 100000;
	its.it_interval.tv_sec = (time_t)(tick / 1000000000ull);
	its.it_interval.tv_nsec = (long)(tick % 1000000000ull);
	its.it_value.tv_nsec = 1000;
	G.t0 = now_ns();
	G.sending = true;
	timerfd_settime(G.tfd, 0, &its, NULL);
	note("sending %u DMs at %.0f/s over %u conversations (%u of warm-up), pool of %d",
	    G.nmsgs, G.total_rate, G.nconv, G.warm_msgs, G.npool);

	G.t_measure0 = due_of(G.warm_msgs);
	while (!G.stop && now_ns() < G.t_measure0)
		poll_once(50);
	note("measuring for %.1f s", G.duration_s);
	cpu_sample(false);
	cpu0 = cpu_self_s();
	machine_ticks(&mb0, &mt0);
	/* A server that cannot keep up gets at most DRAIN seconds past the
	 * schedule to take the last messages; what is left is not_written. */
	deadline = due_of(G.nmsgs) + (uint64_t)(G.drain_s * 1e9);
	while (!G.stop && G.next_msg < G.nmsgs && now_ns() < deadline)
		poll_once(50);
	t_end_send = now_ns();
	G.sending = false;
	memset(&its, 0, sizeof(its));
	timerfd_settime(G.tfd, 0, &its, NULL);

	/* drain: until every message answered 200 reached its receiver, at
	 * most DRAIN seconds after the last write */
	deadline = t_end_send + (uint64_t)(G.drain_s * 1e9);
	for (;;) {
		if (!pool_busy() && G.delivered >= G.ok)
			break;
		if (G.stop || now_ns() > deadline)
			break;
		poll_once(20);
	}
	cpu_sample(true);
	cpu1 = cpu_self_s();
	machine_ticks(&mb1, &mt1);
	uint64_t t_stop = now_ns();

	uint64_t lost = 0, lost_measured = 0, unanswered = 0, delivered_not_ok = 0, measured_ok = 0;
	uint64_t lost_mid = 0;
	char lost_ex[256] = "";
	int nlost_ex = 0;
	for (uint32_t j = 0; j < G.nmsgs; j++) {
		struct msg *m = &G.msgs[j];
		if (m->t_write != 0 && m->status == 0)
			unanswered++;
		if (m->status == 200 && !m->delivered) {
			bool later = false;
			lost++;
			if (j >= G.warm_msgs)
				lost_measured++;
			/* the last DM of its conversation, or one a later DM of
			 * the same conversation got past? */
			for (uint64_t l = (uint64_t)j + G.nconv; l < G.nmsgs; l += G.nconv)
				if (G.msgs[l].delivered)
					later = true;
			if (later)
				lost_mid++;
			if (nlost_ex < 5)
				nlost_ex += snprintf(lost_ex + strlen(lost_ex), sizeof(lost_ex) - strlen(lost_ex),
				    "%s%u/c%u/%s", nlost_ex ? "," : "", j, j % G.nconv,
				    later ? "mid" : "last") > 0;
		}
		if (m->status != 200 && m->delivered)
			delivered_not_ok++;
		if (j >= G.warm_msgs && m->status == 200)
			measured_ok++;
	}
	uint32_t measured_msgs = G.nmsgs - G.warm_msgs;
	/* throughput: every delivery from the start of the measured part to
	 * the last one (a backlog of warm-up DMs counts: the server did it) */
	double win_s = (double)((G.t_last_win > G.t_measure0 ? G.t_last_win : t_stop) -
	    G.t_measure0) / 1e9;
	double cpu_win_s = (double)(t_stop - G.t_measure0) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);

	printf("mode=dm convs=%u rate_per_conv=%.3f offered_per_s=%.0f msgs=%u warm_msgs=%u"
	    " measured_msgs=%u pool=%d live=%d written=%" PRIu64 " not_written=%u ok=%" PRIu64
	    " non200=%" PRIu64 " st_4xx=%" PRIu64 " st_5xx=%" PRIu64 " st_other=%" PRIu64
	    " conn_err=%" PRIu64 " unanswered=%" PRIu64 " reconnects=%" PRIu64
	    " delivered=%" PRIu64 " lost=%" PRIu64 " lost_measured=%" PRIu64 " lost_mid=%" PRIu64
	    " lost_examples=%s after_answer_slow=%" PRIu64 " after_answer_max_ms=%.3f dup=%" PRIu64
	    " misrouted=%" PRIu64 " out_of_order=%" PRIu64 " unknown=%" PRIu64
	    " delivered_not_ok=%" PRIu64 " measured_ok=%" PRIu64 " measured_delivered=%" PRIu64
	    " win_delivered=%" PRIu64 " measured_s=%.3f dms_per_s=%.1f late=%" PRIu64 " max_late_ms=%.3f max_busy=%d"
	    " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f"
	    " w_p50_ms=%.3f w_p99_ms=%.3f w_max_ms=%.3f"
	    " post_p50_ms=%.3f post_p99_ms=%.3f post_max_ms=%.3f"
	    " client_cpu_pct=%.1f machine_busy_pct=%.1f cpu_window_s=%.3f drain_s=%.3f closed=%d"
	    " other_frames=%" PRIu64,
	    G.nconv, G.rate, G.total_rate, G.nmsgs, G.warm_msgs, measured_msgs, G.npool, live0,
	    G.written, G.nmsgs - G.next_msg, G.ok, G.non200, G.st_4xx, G.st_5xx, G.st_other,
	    G.conn_err, unanswered, G.reconnects, G.delivered, lost, lost_measured, lost_mid,
	    lost_ex[0] ? lost_ex : "none", G.after_answer_slow, (double)G.after_answer_max / 1e6, G.dup,
	    G.misrouted, G.out_of_order, G.unknown, delivered_not_ok, measured_ok,
	    G.measured_delivered, G.win_delivered, win_s,
	    win_s > 0 ? (double)G.win_delivered / win_s : 0.0,
	    G.late, (double)G.max_late / 1e6, G.max_busy,
	    h_pct_ms(&G.lat, 50), h_pct_ms(&G.lat, 90), h_pct_ms(&G.lat, 99),
	    h_pct_ms(&G.lat, 99.9), (double)G.lat.max / 1e6, h_mean_ms(&G.lat),
	    h_pct_ms(&G.lat_w, 50), h_pct_ms(&G.lat_w, 99), (double)G.lat_w.max / 1e6,
	    h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 99), (double)G.post_lat.max / 1e6,
	    cpu_win_s > 0 ? 100.0 * (cpu1 - cpu0) / cpu_win_s : 0.0,
	    mt1 > mt0 ? 100.0 * (double)(mb1 - mb0) / (double)(mt1 - mt0) : 0.0, cpu_win_s,
	    (double)(t_stop - t_end_send) / 1e9, G.closed_early, G.other_frames);
	for (int g = 0; g < G.ngroups; g++) {
		double s = (double)(G.groups[g].t1 - G.groups[g].t0) / (double)hz;
		double sys = (double)(G.groups[g].s1 - G.groups[g].s0) / (double)hz;
		printf(" cpu_%s_pct=%.1f cpu_%s_sys_pct=%.1f cpu_%s_us_per_dm=%.1f",
		    G.groups[g].name, cpu_win_s > 0 ? 100.0 * s / cpu_win_s : 0.0,
		    G.groups[g].name, cpu_win_s > 0 ? 100.0 * sys / cpu_win_s : 0.0,
		    G.groups[g].name, G.win_delivered ? s * 1e6 / (double)G.win_delivered : 0.0);
	}
	printf(" first_error=%s", G.first_error[0] ? G.first_error : "none");
	/* Lost ones: listen LATE_WAIT more seconds to tell late from never. */
	if (lost > 0 && G.late_wait_s > 0) {
		G.counting_late = true;
		run_for(G.late_wait_s);
	}
	printf(" late_wait_s=%.1f arrived_late=%" PRIu64 "\n", lost > 0 ? G.late_wait_s : 0.0,
	    G.arrived_late);
	fflush(stdout);
}

/* ------------------------------------------------------------ get mode */

static char get_req[2048];
static int get_req_len;
static long get_sent;

static void
get_next(int i)
{
	if (G.stop || get_sent >= G.get_warm + G.get_count || G.nidle == 0)
		return;
	G.nidle--;
	if (get_sent == G.get_warm) {
		memset(&G.post_lat, 0, sizeof(G.post_lat));
		G.ok = G.non200 = G.st_4xx = G.st_5xx = G.st_other = 0;
	}
	get_sent++;
	G.txs[i].msg = -1;
	tx_write(i, get_req, (size_t)get_req_len);
}

static void
get_mode(void)
{
	char token[TOKEN_MAX];
	uint64_t t0, deadline;

	make_token((uint32_t)G.get_user, token, sizeof(token));
	get_req_len = snprintf(get_req, sizeof(get_req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n",
	    G.get_path, G.port, token);
	G.npool = 1;
	G.warm_msgs = 0;
	t0 = now_ns();
	pool_open();
	get_next(0);
	deadline = now_ns() + 600000000000ull;
	while (!G.stop && (get_sent < G.get_warm + G.get_count || pool_busy())) {
		if (now_ns() > deadline)
			die("get: still running after 600 s");
		poll_once(100);
	}
	printf("mode=get quickack=%d requests=%" PRIu64 " ok=%" PRIu64 " non200=%" PRIu64 " warm=%ld"
	    " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f seconds=%.3f"
	    " first_error=%s\n", G.quickack, G.post_lat.n, G.ok, G.non200, G.get_warm,
	    h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 90), h_pct_ms(&G.post_lat, 99),
	    (double)G.post_lat.max / 1e6, h_mean_ms(&G.post_lat), (now_ns() - t0) / 1e9,
	    G.first_error[0] ? G.first_error : "none");
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
	    "usage: dmload -k TOKEN_KEY -u UID_PREFIX -T INDEX              (print a token)\n"
	    "       dmload -p PORT -k TOKEN_KEY -u UID_PREFIX -n CONVS [options]   (dm mode)\n"
	    "       dmload -m get -p PORT -k TOKEN_KEY -u UID_PREFIX -G PATH -U INDEX [-N COUNT -W WARM]\n"
	    "  -R RATE          DMs per second per conversation [2]\n"
	    "  -w SECONDS       warm-up (sent, counted for loss, not for latency) [3]\n"
	    "  -d SECONDS       measured sending time [60]\n"
	    "  -D SECONDS       longest wait after the last write for the deliveries [5]\n"
	    "  -L SECONDS       then, when some are lost, how long to listen for them still [10]\n"
	    "  -S SECONDS       settle time after setup [1]\n"
	    "  -t SECONDS       setup timeout [180]\n"
	    "  -P N             HTTP keep-alive connections for the POSTs [128]\n"
	    "  -i N             handshakes in flight [256]\n"
	    "  -s N             source addresses 127.0.0.2 .. 127.0.0.(1+N); 0 = 127.0.0.1 [16]\n"
	    "  -c NAME=PID,...  a server process group whose CPU to report (repeatable)\n"
	    "  -N COUNT, -W N   get mode: measured and warm-up requests [300, 20]\n"
	    "  -Q               get mode: TCP_QUICKACK before every read (no delayed ACKs)\n"
	    "  -q               quiet\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long token_for = -1;
	int opt;

	G.mode = "dm";
	G.rate = 2, G.warmup_s = 3, G.duration_s = 60, G.drain_s = 5, G.settle_s = 1;
	G.late_wait_s = 10;
	G.setup_timeout_s = 180, G.npool = 128, G.inflight = 256, G.nsrc = 16;
	G.get_user = -1, G.get_count = 300, G.get_warm = 20;
	while ((opt = getopt(argc, argv, "p:k:u:n:m:R:w:d:D:L:S:t:P:i:s:c:T:G:U:N:W:Qq")) != -1) {
		switch (opt) {
		case 'p': G.port = atoi(optarg); break;
		case 'k': G.key_path = optarg; break;
		case 'u': G.prefix = optarg; break;
		case 'n': G.nconv = (uint32_t)atol(optarg); break;
		case 'm': G.mode = optarg; break;
		case 'R': G.rate = atof(optarg); break;
		case 'w': G.warmup_s = atof(optarg); break;
		case 'd': G.duration_s = atof(optarg); break;
		case 'D': G.drain_s = atof(optarg); break;
		case 'L': G.late_wait_s = atof(optarg); break;
		case 'S': G.settle_s = atof(optarg); break;
		case 't': G.setup_timeout_s = atof(optarg); break;
		case 'P': G.npool = atoi(optarg); break;
		case 'i': G.inflight = atoi(optarg); break;
		case 's': G.nsrc = atoi(optarg); break;
		case 'c': add_group(optarg); break;
		case 'T': token_for = atol(optarg); break;
		case 'G': G.get_path = optarg; break;
		case 'U': G.get_user = atol(optarg); break;
		case 'N': G.get_count = atol(optarg); break;
		case 'W': G.get_warm = atol(optarg); break;
		case 'Q': G.quickack = true; break;
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
		char tok[TOKEN_MAX];
		make_token((uint32_t)token_for, tok, sizeof(tok));
		puts(tok);
		return 0;
	}
	if (G.port <= 0 || G.nsrc < 0 || G.nsrc > 250 || G.npool < 1 || G.npool > MAX_POOL)
		usage();
	if (strcmp(G.mode, "dm") == 0 &&
	    (G.nconv == 0 || G.nconv > 1000000 || G.rate <= 0 || G.inflight < 1))
		usage();
	if (strcmp(G.mode, "get") == 0 &&
	    (G.get_path == NULL || G.get_user < 0 || G.get_count < 1 || G.get_warm < 0))
		usage();

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)G.nconv + (rlim_t)G.npool + 16 > rl.rlim_cur)
		die("%u + %d sockets do not fit in RLIMIT_NOFILE %llu", G.nconv, G.npool,
		    (unsigned long long)rl.rlim_cur);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((G.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((G.rbuf = malloc(RBUF_SIZE)) == NULL)
		die("out of memory");
	if (strcmp(G.mode, "dm") == 0)
		dm_mode();
	else if (strcmp(G.mode, "get") == 0)
		get_mode();
	else
		usage();
	close_all();
	return G.stop ? 130 : 0;
}
