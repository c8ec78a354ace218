/* client: the common base of the benchmarks' C load clients (client.h):
 * messages, options, tokens, sockets, the epoll loop and its timer. */
#define _GNU_SOURCE
#include "client.h"
#include "stats.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_EVENTS 2048

struct client C = {
	.nsrc = 16, .inflight = 256, .setup_timeout_s = 180, .token_for = -1, .tfd = -1,
};

/* ------------------------------------------------------------ messages */

/* "PROG: message" on stderr. */
static void
vmessage(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", C.prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A message, then exit 1. */
void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(1);
}

/* A message, unless quiet (-q). */
void
note(const char *fmt, ...)
{
	va_list ap;

	if (C.quiet)
		return;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

/* Keeps the first error of the run, in one word (for a key=value line). */
void
set_first_error(const char *fmt, ...)
{
	va_list ap;

	if (C.first_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(C.first_error, sizeof(C.first_error), fmt, ap);
	va_end(ap);
	for (char *p = C.first_error; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == ' ')
			*p = '_';
}

/* The first error, or "none". */
const char *
first_error(void)
{
	return C.first_error[0] ? C.first_error : "none";
}

/* ------------------------------------------------------------ options */

/* Takes one of the options every client has (CLIENT_OPTS); false for
 * another letter. */
bool
client_option(int opt, const char *arg)
{
	switch (opt) {
	case 'p': C.port = atoi(arg); break;
	case 'k': C.key_path = arg; break;
	case 'u': C.prefix = arg; break;
	case 'm': C.mode = arg; break;
	case 'R': C.rate = atof(arg); break;
	case 'w': C.warmup_s = atof(arg); break;
	case 'd': C.duration_s = atof(arg); break;
	case 'D': C.drain_s = atof(arg); break;
	case 'S': C.settle_s = atof(arg); break;
	case 't': C.setup_timeout_s = atof(arg); break;
	case 'P': C.npool = atoi(arg); break;
	case 'i': C.inflight = atoi(arg); break;
	case 's': C.nsrc = atoi(arg); break;
	case 'c': cpu_group_add(arg); break;
	case 'T': C.token_for = atol(arg); break;
	case 'q': C.quiet = true; break;
	default: return false;
	}
	return true;
}

/* ------------------------------------------------------------ tokens */

/* Base64url without padding, as JWTs want it. */
static void
b64url(char *out, size_t outlen, const void *in, size_t len)
{
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* User idx's id: PREFIX + 12 hex digits. */
void
user_id(uint32_t idx, char out[37])
{
	snprintf(out, 37, "%.24s%012" PRIx32, C.prefix, idx);
}

/* An EdDSA JWT for user idx, valid for 4 hours, with a random session. */
void
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
	crypto_sign_detached(sig, NULL, (const unsigned char *)out, (unsigned long long)n, C.sk);
	b64url(sig_b64, sizeof(sig_b64), sig, sizeof(sig));
	snprintf(out + n, outlen - (size_t)n, ".%s", sig_b64);
}

/* Reads the signing key (-k) into C.sk. */
static void
load_key(void)
{
	char text[256];
	size_t n, len;
	FILE *f = fopen(C.key_path, "r");

	if (f == NULL)
		die("cannot open %s: %s", C.key_path, strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	text[n] = '\0';
	if (sodium_base642bin(C.sk, sizeof(C.sk), text, n, NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != sizeof(C.sk))
		die("%s: not a base64 Ed25519 secret key (64 bytes)", C.key_path);
}

/* After the options: libsodium and the key; with -T, prints that user's
 * token and exits. False when -k or -u is missing or not a v4 prefix. */
bool
client_keys(void)
{
	if (sodium_init() < 0)
		die("sodium_init failed");
	if (C.key_path == NULL || C.prefix == NULL || strlen(C.prefix) != 24 || C.prefix[14] != '4')
		return false;
	load_key();
	if (C.token_for >= 0) {
		char tok[TOKEN_MAX];
		make_token((uint32_t)C.token_for, tok, sizeof(tok));
		puts(tok);
		exit(0);
	}
	return true;
}

/* ------------------------------------------------------------ sockets */

/* A non-blocking TCP connect to 127.0.0.1:C.port (in progress). */
int
tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)C.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	static unsigned k;

	if (fd < 0)
		die("socket: %s (raise ulimit -n)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (C.nsrc > 0) {
		/* From 127.0.0.2 .. 127.0.0.(1 + nsrc), the port picked at
		 * connect: the ephemeral ports of 127.0.0.1 may all sit in
		 * TIME_WAIT of other programs' short connections. */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + k++ % (unsigned)C.nsrc);
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("bind 127.0.0.x: %s", strerror(errno));
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die("connect 127.0.0.1:%d: %s", C.port, strerror(errno));
	return fd;
}

/* Adds or modifies fd on the epoll set, its events tagged (kind, idx). */
void
ep_set(int fd, uint32_t events, uint32_t kind, uint32_t idx, int op)
{
	struct epoll_event ev = { .events = events,
		.data.u64 = ((uint64_t)kind << 32) | idx };

	if (epoll_ctl(C.ep, op, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* Closes without a TIME_WAIT (RST): the next run reuses the ports. */
void
hard_close(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* ------------------------------------------------------------ loop */

/* SIGINT, SIGTERM: the loops end, the client reports what it has. */
static void
on_signal(int sig)
{
	(void)sig;
	C.stop = 1;
}

/* RLIMIT_NOFILE up to the hard limit, room for nsockets + npool sockets,
 * SIGINT/SIGTERM to C.stop, the epoll set and the read buffer. */
void
client_init(unsigned long nsockets, int npool)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)nsockets + (rlim_t)npool + 16 > rl.rlim_cur)
		die("%lu + %d sockets do not fit in RLIMIT_NOFILE %llu", nsockets, npool,
		    (unsigned long long)rl.rlim_cur);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if ((C.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((C.rbuf = malloc(RBUF_SIZE)) == NULL)
		die("out of memory");
}

/* Runs the mode named C.mode out of modes (a NULL name ends them); false
 * when none has that name. */
bool
client_run(const struct client_mode *modes)
{
	for (; modes->name != NULL; modes++)
		if (strcmp(modes->name, C.mode) == 0) {
			modes->run();
			return true;
		}
	return false;
}

/* Waits at most timeout_ms for events and hands each to C.on_event. */
void
client_poll(int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(C.ep, evs, MAX_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++)
		C.on_event((uint32_t)(evs[i].data.u64 >> 32), (uint32_t)evs[i].data.u64,
		    evs[i].events);
}

/* Runs the loop for that long (or until a signal). */
void
run_for(double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);

	while (!C.stop) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		client_poll((int)((end - t) / 1000000) + 1);
	}
}

/* A tick every interval_ns from now on (EV_TIMER events). */
void
timer_start(uint64_t interval_ns)
{
	struct itimerspec its = { 0 };

	if (C.tfd < 0) {
		if ((C.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
			die("timerfd_create: %s", strerror(errno));
		ep_set(C.tfd, EPOLLIN, EV_TIMER, 0, EPOLL_CTL_ADD);
	}
	its.it_interval.tv_sec = (time_t)(interval_ns / 1000000000ull);
	its.it_interval.tv_nsec = (long)(interval_ns % 1000000000ull);
	its.it_value.tv_nsec = 1000;
	timerfd_settime(C.tfd, 0, &its, NULL);
}

/* No more ticks. */
void
timer_stop(void)
{
	struct itimerspec its = { 0 };

	timerfd_settime(C.tfd, 0, &its, NULL);
}

/* The ticks since the last read (0: none, a stale event). */
uint64_t
timer_read(void)
{
	uint64_t exp;

	return read(C.tfd, &exp, sizeof(exp)) == sizeof(exp) ? exp : 0;
}
