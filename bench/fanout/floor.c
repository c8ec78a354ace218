/* floor: the least a WebSocket broadcast server can do per delivery, to
 * measure what the kernel alone costs on this machine (bench/fanout).
 *
 *   floor PORT [THREADS]
 *
 * It speaks what wsload needs and nothing more, like peer.js: GET /api/ws
 * (any token) is upgraded; {"type":"subscribe"} is answered "subscribed";
 * POST /api/message/send builds a chat-message envelope shaped like
 * Enclavr's and peer.js's (same fields, same size) once, then write()s it
 * to every subscribed socket: one system call per delivery, no queue, no
 * allocation, no JSON parser, no authentication, no database. THREADS
 * (default 1) split those writes into equal slices, the first on the loop's
 * thread. A write the socket does not take whole is counted ("short") and
 * the socket closed: wsload then reports the loss.
 *
 * Whatever CPU per delivery floor spends, any server that writes each
 * message to each socket spends at least that much. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536
#define BUF_MAX 8192
#define FRAME_MAX 1024
#define MAX_THREADS 16
#define USER_ID "00000000-0000-4000-8000-00000000f100"

enum kind { K_HTTP, K_WS };

struct conn {
	enum kind kind;
	int sub;			/* index in subs[], or -1 */
	size_t len;
	char buf[BUF_MAX];
};

static struct conn *conns[MAX_FD];
static int subs[MAX_FD], nsubs;
static long long seq, shorts;

/* ------------------------------------------------------------ fan-out */

static struct {
	pthread_barrier_t go, done;
	int nthreads;
	const unsigned char *frame;
	size_t len;
	int short_fds[MAX_FD];		/* by slice: fds not taking the frame whole */
	int nshort[MAX_THREADS];
} F;

static void
write_slice(int t)
{
	int from = (int)((long long)nsubs * t / F.nthreads);
	int to = (int)((long long)nsubs * (t + 1) / F.nthreads);

	F.nshort[t] = 0;
	for (int i = from; i < to; i++)
		if (send(subs[i], F.frame, F.len, MSG_NOSIGNAL) != (ssize_t)F.len)
			F.short_fds[from + F.nshort[t]++] = subs[i];
}

static void *
writer(void *arg)
{
	int t = (int)(long)arg;

	for (;;) {
		pthread_barrier_wait(&F.go);
		write_slice(t);
		pthread_barrier_wait(&F.done);
	}
	return NULL;
}

static void close_conn(int fd);

static void
broadcast(const unsigned char *frame, size_t len)
{
	int n = 0;

	F.frame = frame;
	F.len = len;
	if (F.nthreads > 1)
		pthread_barrier_wait(&F.go);
	write_slice(0);
	if (F.nthreads > 1)
		pthread_barrier_wait(&F.done);
	static int gone[MAX_FD];

	for (int t = 0; t < F.nthreads; t++) {
		int from = (int)((long long)nsubs * t / F.nthreads);
		for (int i = 0; i < F.nshort[t]; i++)
			gone[n++] = F.short_fds[from + i];
	}
	shorts += n;
	for (int i = 0; i < n; i++)
		close_conn(gone[i]);
}

/* ------------------------------------------------------------ connections */

static void
close_conn(int fd)
{
	struct conn *c = conns[fd];

	if (c == NULL)
		return;
	if (c->sub >= 0) {
		subs[c->sub] = subs[--nsubs];
		conns[subs[c->sub]]->sub = c->sub;	/* c itself when it was the last */
	}
	free(c);
	conns[fd] = NULL;
	close(fd);
}

static void
send_all(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		close_conn(fd);
}

/* A server text frame: header and payload in out; its length. */
static size_t
frame_text(unsigned char *out, const char *text, size_t n)
{
	size_t h = 2;

	out[0] = 0x81;
	if (n < 126) {
		out[1] = (unsigned char)n;
	} else {
		out[1] = 126;
		out[2] = (unsigned char)(n >> 8);
		out[3] = (unsigned char)n;
		h = 4;
	}
	memcpy(out + h, text, n);
	return h + n;
}

static void
send_text(int fd, const char *text)
{
	unsigned char f[FRAME_MAX];

	send_all(fd, f, frame_text(f, text, strlen(text)));
}

/* The 36 characters after "key":" in s, or "". */
static void
field(const char *s, const char *key, char *out, size_t max)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	out[0] = '\0';
	if ((p = strstr(s, pat)) == NULL)
		return;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= max)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static void
upgrade(int fd, struct conn *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char key[128], acc[64], resp[256];
	unsigned char md[SHA_DIGEST_LENGTH];
	const char *k = strcasestr(c->buf, "Sec-WebSocket-Key:");
	int n;

	if (k == NULL || sscanf(k + 18, " %60s", key) != 1) {
		close_conn(fd);
		return;
	}
	strcat(key, guid);
	SHA1((unsigned char *)key, strlen(key), md);
	EVP_EncodeBlock((unsigned char *)acc, md, sizeof(md));
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
	c->kind = K_WS;
	send_all(fd, resp, (size_t)n);
}

static void
timestamp(char *out, size_t max)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, max, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* POST /api/message/send with body: the envelope to every subscriber, then
 * the message object as the answer. */
static void
publish(int fd, const char *body)
{
	char room[64], content[512], now[64], msg[FRAME_MAX], env[FRAME_MAX], head[128];
	unsigned char frame[FRAME_MAX + 4];
	int mn, en, hn;

	field(body, "room_id", room, sizeof(room));
	field(body, "content", content, sizeof(content));
	timestamp(now, sizeof(now));
	seq++;
	mn = snprintf(msg, sizeof(msg), "{\"id\":\"00000000-0000-4000-8000-%012llx\",\"room_id\":\"%s\","
	    "\"user_id\":\"" USER_ID "\",\"username\":\"\",\"type\":\"text\",\"content\":\"%s\","
	    "\"is_edited\":false,\"is_deleted\":false,\"created_at\":\"%s\",\"updated_at\":\"%s\","
	    "\"seq\":%lld}", seq, room, content, now, now, seq);
	en = snprintf(env, sizeof(env), "{\"type\":\"chat-message\",\"room_id\":\"%s\",\"user_id\":\""
	    USER_ID "\",\"payload\":%s,\"timestamp\":\"%s\",\"seq\":%lld}", room, msg, now, seq);
	broadcast(frame, frame_text(frame, env, (size_t)en));
	hn = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n", mn);
	struct iovec iov[2] = { { head, (size_t)hn }, { msg, (size_t)mn } };
	if (conns[fd] != NULL && writev(fd, iov, 2) != hn + mn)
		close_conn(fd);
}

/* One request from the start of c->buf; its length, 0 while incomplete. */
static size_t
http_request(int fd, struct conn *c)
{
	char *end = strstr(c->buf, "\r\n\r\n");
	const char *cl;
	long body = 0;

	if (end == NULL)
		return 0;
	if (strncmp(c->buf, "GET ", 4) == 0) {
		upgrade(fd, c);
		return (size_t)(end + 4 - c->buf);
	}
	if ((cl = strcasestr(c->buf, "Content-Length:")) != NULL && cl < end)
		body = strtol(cl + 15, NULL, 10);
	if (end + 4 + body > c->buf + c->len)
		return 0;
	char save = end[4 + body];
	end[4 + body] = '\0';
	publish(fd, end + 4);
	if (conns[fd] != NULL)
		end[4 + body] = save;
	return (size_t)(end + 4 + body - c->buf);
}

/* One client frame from the start of c->buf; its length, 0 while
 * incomplete. */
static size_t
ws_frame(int fd, struct conn *c)
{
	unsigned char *b = (unsigned char *)c->buf;
	size_t n = b[1] & 0x7f, h = 6;
	char room[64], out[160];

	if (c->len < 2)
		return 0;
	if (n == 126) {
		if (c->len < 4)
			return 0;
		n = (size_t)b[2] << 8 | b[3];
		h = 8;
	}
	if (c->len < h + n)
		return 0;
	for (size_t i = 0; i < n; i++)
		b[h + i] ^= b[h - 4 + (i & 3)];
	if ((b[0] & 0x0f) == 8) {
		close_conn(fd);
		return 0;
	}
	char save = (char)b[h + n];
	b[h + n] = '\0';
	if ((b[0] & 0x0f) == 1 && strstr((char *)b + h, "\"subscribe\"") != NULL && c->sub < 0) {
		field((char *)b + h, "room_id", room, sizeof(room));
		c->sub = nsubs;
		subs[nsubs++] = fd;
		snprintf(out, sizeof(out), "{\"type\":\"subscribed\",\"room_id\":\"%s\","
		    "\"payload\":{\"seq\":%lld}}", room, seq);
		send_text(fd, out);
	}
	if (conns[fd] != NULL)
		b[h + n] = (unsigned char)save;
	return h + n;
}

static void
on_readable(int fd)
{
	struct conn *c = conns[fd];
	ssize_t r = read(fd, c->buf + c->len, BUF_MAX - 1 - c->len);
	size_t used;

	if (r <= 0) {
		if (r == 0 || errno != EAGAIN)
			close_conn(fd);
		return;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	do {
		used = c->kind == K_HTTP ? http_request(fd, c) : ws_frame(fd, c);
		if ((c = conns[fd]) == NULL)
			return;
		memmove(c->buf, c->buf + used, c->len - used + 1);
		c->len -= used;
	} while (used > 0 && c->len > 0);
	if (c->len >= BUF_MAX - 1)
		close_conn(fd);
}

/* ------------------------------------------------------------ main */

static int
listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		perror("floor: listen");
		exit(1);
	}
	return fd;
}

static void
accept_all(int lfd, int ep)
{
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

		if (fd >= MAX_FD || (conns[fd] = calloc(1, sizeof(struct conn))) == NULL) {
			close(fd);
			continue;
		}
		conns[fd]->sub = -1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	int lfd, ep;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: floor PORT [THREADS]\n");
		return 2;
	}
	F.nthreads = argc == 3 ? atoi(argv[2]) : 1;
	if (F.nthreads < 1 || F.nthreads > MAX_THREADS) {
		fprintf(stderr, "floor: THREADS is 1..%d\n", MAX_THREADS);
		return 2;
	}
	pthread_barrier_init(&F.go, NULL, (unsigned)F.nthreads);
	pthread_barrier_init(&F.done, NULL, (unsigned)F.nthreads);
	for (long t = 1; t < F.nthreads; t++) {
		pthread_t th;
		pthread_create(&th, NULL, writer, (void *)t);
	}
	lfd = listen_on(atoi(argv[1]));
	ep = epoll_create1(0);
	struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(lfd, ep);
			else if (conns[evs[i].data.fd] != NULL)
				on_readable(evs[i].data.fd);
		}
	}
}
