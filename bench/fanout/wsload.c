/* wsload: the WebSocket fan-out load client of bench/fanout (README.md).
 *
 * One process, one thread, epoll, non-blocking sockets, everything to
 * 127.0.0.1 (bench/lib: client.c, wsclient.c, httpclient.c, stats.c). It
 * opens N WebSocket connections to GET /api/ws?token=..., one synthetic
 * user each, then subscribes every one of them to one room, and then:
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
 * Users (bench/lib/client.h): subscribers are indexes FIRST .. FIRST+N-1
 * and the publisher is index 0.
 *
 * Build: cc -std=c17 -O2 -Wall -Wextra -I../lib -o wsload wsload.c
 *        ../lib/client.c ../lib/wsclient.c ../lib/httpclient.c ../lib/stats.c -lsodium */
#define _GNU_SOURCE
#include "client.h"
#include "httpclient.h"
#include "stats.h"
#include "wsclient.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MARKER "fb1:"			/* content: fb1:<8 hex msg>:<16 hex ns>:xxx... */
#define CONTENT_LEN 64
#define MAX_PUBS 64

/* A subscriber's states past the handshake. */
enum { C_SUBSCRIBING = WS_APP, C_LIVE };

/* A subscriber's socket. */
struct conn {
	struct ws_conn ws;
	uint8_t retries;		/* subscribes refused as "unavailable" */
	uint32_t got;			/* chat-message deliveries */
};

/* A publisher's keep-alive connection. */
struct pub {
	struct http_conn h;
	uint32_t msg;			/* the message in flight */
	uint64_t t_sent;
};

struct msg {
	uint64_t t_sent;
	uint32_t count;
	uint8_t ok;			/* the POST answered 2xx */
};

static struct {
	/* options */
	const char *room;
	int nsubs, first;
	int rss_pid;
	/* state */
	struct conn *conns;
	struct pub pubs[MAX_PUBS];
	char pub_token[TOKEN_MAX];
	struct msg *msgs;
	uint32_t nmsgs, warm_msgs, next_msg;
	uint64_t due;			/* messages whose time came, not yet sent */
	uint64_t late, skipped, t_sched0, interval, max_late;
	bool sending;
	struct hist lat, post_lat;
	struct hist first_lat, last_lat;	/* per message: its first and last delivery */
	uint32_t fan;			/* sockets live when publishing started */
	uint64_t pub_reconnects;
	uint64_t sent_ok, post_err, received, measured_recv, unknown_msg, other_frames;
	uint64_t t_measure0, t_last_measured;
	int live, sub_failed, closed_early, close_1013;
	int subscribing, sub_retries;
	struct retry { uint32_t idx; uint64_t t; } *retryq;
	int rq_head, rq_tail;
} G;

/* ------------------------------------------------------------ subscribers */

/* A subscriber's socket closed: what it was counts. */
static void
conn_dead(struct ws_conn *w, const char *why)
{
	if (w->state == C_SUBSCRIBING) {
		G.sub_failed++;
		G.subscribing--;
	} else if (w->state == C_LIVE) {
		G.closed_early++;
		G.live--;
	}
	if (strcmp(why, "close_1013") == 0)
		G.close_1013++;
	set_first_error("conn_%u:%s", w->user, why);
}

/* Subscribes c's socket to the room. */
static void
conn_subscribe(struct conn *c)
{
	char m[128];
	int n = snprintf(m, sizeof(m), "{\"type\":\"subscribe\",\"room_id\":\"%s\"}", G.room);

	c->ws.state = C_SUBSCRIBING;
	G.subscribing++;
	ws_send_frame(&c->ws, 0x1, m, (size_t)n);
}

/* A delivery: counted per message and socket, its latency measured. */
static void
on_delivery(struct conn *c, const char *m, uint64_t t)
{
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
		if (G.msgs[idx].count == 1)
			h_add(&G.first_lat, t > ts ? t - ts : 0);
		if (G.msgs[idx].count == G.fan)
			h_add(&G.last_lat, t > ts ? t - ts : 0);
	}
}

/* The answer to a subscribe: live, again in 0.5 s ("unavailable": chatd
 * did not answer in time), or refused. False for another frame. */
static bool
on_subscribe_answer(struct conn *c, const char *p, size_t n, uint64_t t)
{
	if (memmem(p, n, "\"subscribed\"", 12) != NULL) {
		c->ws.state = C_LIVE;
		G.live++;
		G.subscribing--;
		return true;
	}
	if (memmem(p, n, "\"error\"", 7) == NULL)
		return false;
	if (c->retries < 10 && memmem(p, n, "\"unavailable\"", 13) != NULL) {
		c->ws.state = WS_OPEN;
		c->retries++;
		G.subscribing--;
		G.sub_retries++;
		G.retryq[G.rq_tail++] = (struct retry){ c->ws.idx, t + 500000000ull };
		return true;
	}
	set_first_error("subscribe:%.*s", (int)(n > 200 ? 200 : n), p);
	ws_dead(&c->ws, "subscribe_refused");	/* counts sub_failed */
	return true;
}

/* A text frame on a subscriber's socket. */
static void
on_text(struct ws_conn *w, const char *p, size_t n, uint64_t t)
{
	struct conn *c = (struct conn *)w;
	const char *m = memmem(p, n, MARKER, 4);

	if (m != NULL && (size_t)(p + n - m) >= 4 + 8 + 1 + 16) {
		on_delivery(c, m, t);
		return;
	}
	if (w->state == C_SUBSCRIBING && on_subscribe_answer(c, p, n, t))
		return;
	G.other_frames++;
}

static const struct ws_ops conn_ops = { NULL, on_text, conn_dead };

/* ------------------------------------------------------------ publisher */

/* Writes the next message on idle publisher p; false when all are sent. */
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
	    "Content-Length: %d\r\n\r\n%s", C.port, G.pub_token, bl, body);
	G.msgs[idx].t_sent = t;
	/* later than its schedule by over 2 ms: every publisher was busy */
	uint64_t sched = G.t_sched0 + (uint64_t)idx * G.interval;
	if (t > sched + 2000000)
		G.late++;
	if (t > sched && t - sched > G.max_late)
		G.max_late = t - sched;
	http_write(&p->h, req, (size_t)n);	/* ~600 bytes into an idle socket */
	p->msg = idx;
	p->t_sent = t;
	return true;
}

/* Sends what is due on the idle publishers. */
static void
pub_kick(void)
{
	static int rr;

	/* round robin: every connection stays warm (a server may close an
	 * idle keep-alive connection) */
	for (int k = 0; k < C.npool && G.due > 0; k++) {
		struct pub *p = &G.pubs[rr++ % C.npool];
		if (p->h.state == H_IDLE) {
			if (!pub_send(p)) {
				G.due = 0;
				return;
			}
			G.due--;
		}
	}
}

/* The POST's answer: counted; the publisher takes the next due message. */
static void
pub_answer(struct pub *p, const struct http_answer *a)
{
	if (a->status >= 200 && a->status < 300) {
		G.msgs[p->msg].ok = 1;
		G.sent_ok++;
	} else {
		G.post_err++;
		set_first_error("post_%d:%.*s", a->status, (int)(a->cl > 160 ? 160 : a->cl), a->body);
	}
	if (p->msg >= G.warm_msgs)
		h_add(&G.post_lat, a->t - p->t_sent);
	http_idle(&p->h);
	if (G.due > 0 && G.sending) {
		if (pub_send(p))
			G.due--;
		else
			G.due = 0;
	}
}

/* An event of publisher i. */
static void
pub_event(int i, uint32_t events)
{
	struct pub *p = &G.pubs[i];
	struct http_answer a;

	switch (http_event(&p->h, events, &a)) {
	case HTTP_ANSWER:
		pub_answer(p, &a);
		break;
	case HTTP_CLOSED:
		/* closed by the server: a message in flight is lost; reconnect */
		if (p->h.state == H_BUSY)
			G.post_err++;
		G.pub_reconnects++;
		http_reopen(&p->h);
		break;
	case HTTP_STRAY:
		G.post_err++;
		break;
	}
}

/* ------------------------------------------------------------ loop */

/* Subscribes every open socket (at most C.inflight at a time), retrying
 * the ones refused as "unavailable", until the deadline. */
static void
subscribe_all(uint64_t deadline)
{
	uint64_t t0 = now_ns();
	int nsub = 0;

	for (int i = 0;;) {
		while (i < G.nsubs && G.subscribing < C.inflight) {
			struct conn *c = &G.conns[i++];
			if (c->ws.state == WS_OPEN) {
				conn_subscribe(c);
				nsub++;
			}
		}
		while (G.rq_head < G.rq_tail && G.subscribing < C.inflight &&
		    G.retryq[G.rq_head].t <= now_ns()) {
			struct conn *c = &G.conns[G.retryq[G.rq_head++].idx];
			if (c->ws.state == WS_OPEN)
				conn_subscribe(c);
		}
		if (i >= G.nsubs && G.subscribing == 0 && G.rq_head == G.rq_tail)
			break;
		if (now_ns() > deadline || C.stop)
			die("setup: %d of %d sockets subscribed after %.0f s (first error %s)",
			    G.live, nsub, C.setup_timeout_s, first_error());
		client_poll(100);
	}
	note("%d sockets subscribed in %.2f s (%d refused, %d retries after \"unavailable\")",
	    G.live, (now_ns() - t0) / 1e9, G.sub_failed, G.sub_retries);
	if (G.live == 0)
		die("no socket could subscribe (first error %s)", C.first_error);
}

/* Opens and handshakes every socket, then subscribes them. Connect-all-
 * then-subscribe keeps the presence announcements of the connects (if
 * any) out of the subscribed sockets. */
static void
setup(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(C.setup_timeout_s * 1e9);

	ws_open_all(G.conns, sizeof(*G.conns), (uint32_t)G.nsubs, "sockets");
	subscribe_all(deadline);
}

/* An epoll event: a subscriber's, a publisher's, or the timer's tick. */
static void
on_event(uint32_t kind, uint32_t idx, uint32_t events)
{
	if (kind == EV_WS) {
		ws_event(&G.conns[idx].ws, events);
	} else if (kind == EV_HTTP) {
		pub_event((int)idx, events);
	} else if (kind == EV_TIMER) {
		uint64_t exp = timer_read();
		if (exp > 0 && G.sending) {
			G.due += exp;
			pub_kick();
		}
	}
}

/* ------------------------------------------------------------ modes */

/* idle mode: subscribed sockets held, the server's VmRSS before and after. */
static void
idle_mode(void)
{
	long rss0 = G.rss_pid > 0 ? vm_rss_kib(G.rss_pid) : -1, rss1;

	setup();
	run_for(C.settle_s);
	rss1 = G.rss_pid > 0 ? vm_rss_kib(G.rss_pid) : -1;
	printf("mode=idle subs=%d live=%d rss0_kib=%ld rss1_kib=%ld rss_per_socket_kib=%.3f"
	    " sub_retries=%d closed=%d first_error=%s\n", G.nsubs, G.live, rss0, rss1,
	    G.live > 0 && rss0 >= 0 ? (double)(rss1 - rss0) / G.live : 0.0,
	    G.sub_retries, G.closed_early, first_error());
	fflush(stdout);
}

/* The messages, the publishers and the subscribed sockets; returns the
 * sockets live after the settle time. */
static int
fanout_setup(void)
{
	int live0;

	G.nmsgs = (uint32_t)(C.rate * (C.warmup_s + C.duration_s) + 0.5);
	G.warm_msgs = (uint32_t)(C.rate * C.warmup_s + 0.5);
	if ((G.msgs = calloc(G.nmsgs + 1, sizeof(*G.msgs))) == NULL)
		die("out of memory");
	make_token(0, G.pub_token, sizeof(G.pub_token));
	for (int i = 0; i < C.npool; i++)
		http_open(&G.pubs[i].h, (uint32_t)i, "publisher");
	setup();
	run_for(C.settle_s);		/* stray frames of the setup */
	live0 = G.live;
	G.fan = (uint32_t)live0;
	G.other_frames = 0;
	for (int i = 0; i < C.npool; i++)
		if (G.pubs[i].h.state == H_CONNECTING)
			die("publisher %d did not connect", i);
	return live0;
}

/* Publishes every message on the timer: warm-up, then the measured part
 * (CPU sampled from its start); returns when the last one is sent. */
static uint64_t
fanout_send(double *cpu0)
{
	uint64_t t_end_send;

	G.interval = (uint64_t)(1e9 / C.rate);
	G.sending = true;
	G.t_sched0 = now_ns();
	timer_start(G.interval);
	note("publishing %u messages at %.0f/s to %d subscribers (%u of warm-up)",
	    G.nmsgs, C.rate, G.live, G.warm_msgs);
	while (!C.stop && G.next_msg < G.warm_msgs)
		client_poll(50);
	G.t_measure0 = now_ns();
	note("measuring for %.1f s", C.duration_s);
	cpu_sample(false);
	*cpu0 = cpu_self_s();
	while (!C.stop && G.next_msg < G.nmsgs)
		client_poll(50);
	t_end_send = now_ns();
	G.sending = false;
	timer_stop();
	G.skipped = G.nmsgs - G.next_msg;
	return t_end_send;
}

/* Until every answered message reached every live socket, at most
 * C.drain_s after the last send. */
static void
fanout_drain(uint64_t t_end_send, int live0)
{
	uint64_t deadline = t_end_send + (uint64_t)(C.drain_s * 1e9);

	for (;;) {
		if (http_busy == 0 && G.received >= G.sent_ok * (uint64_t)live0)
			break;
		if (C.stop || now_ns() > deadline)
			break;
		client_poll(20);
	}
}

/* The fewest deliveries a live socket had. */
static uint32_t
min_per_sub(void)
{
	uint32_t min_got = UINT32_MAX;

	for (int i = 0; i < G.nsubs; i++)
		if (G.conns[i].ws.state == C_LIVE && G.conns[i].got < min_got)
			min_got = G.conns[i].got;
	return min_got == UINT32_MAX ? 0 : min_got;
}

/* The server groups' CPU over the window, per measured delivery. */
static void
print_cpu_groups(double cpu_win_s)
{
	for (int g = 0; g < ncpu_groups; g++) {
		struct cpu_figures f = cpu_figures(&cpu_groups[g], cpu_win_s, G.measured_recv);
		printf(" cpu_%s_s=%.2f cpu_%s_pct=%.1f cpu_%s_us=%.4f cpu_%s_sys_us=%.4f",
		    f.name, f.s, f.name, f.pct, f.name, f.us, f.name, f.sys_us);
	}
}

/* fanout mode: setup, publishing, drain, the result line. */
static void
fanout_mode(void)
{
	uint64_t t_end_send, t_stop, expected, measured_expected = 0;
	double cpu0, cpu1;
	int live0 = fanout_setup();

	t_end_send = fanout_send(&cpu0);
	fanout_drain(t_end_send, live0);
	cpu_sample(true);
	cpu1 = cpu_self_s();
	t_stop = now_ns();
	expected = G.sent_ok * (uint64_t)live0;
	for (uint32_t i = G.warm_msgs; i < G.nmsgs; i++)
		if (G.msgs[i].ok)
			measured_expected += (uint64_t)live0;

	double win_s = (double)((G.t_last_measured > G.t_measure0 ? G.t_last_measured : t_stop) -
	    G.t_measure0) / 1e9;
	double cpu_win_s = (double)(t_stop - G.t_measure0) / 1e9;
	long long loss = (long long)expected - (long long)G.received;

	printf("mode=fanout subs=%d live=%d rate=%.0f msgs=%u warm_msgs=%u sent_ok=%" PRIu64
	    " post_err=%" PRIu64 " pub_reconnects=%" PRIu64 " skipped=%" PRIu64 " late=%" PRIu64 " max_late_ms=%.3f expected=%" PRIu64
	    " received=%" PRIu64 " loss=%lld loss_pct=%.4f min_per_sub=%u"
	    " measured_expected=%" PRIu64 " measured_recv=%" PRIu64 " measured_s=%.3f"
	    " deliv_per_s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f"
	    " post_p50_ms=%.3f post_p99_ms=%.3f client_cpu_pct=%.1f cpu_window_s=%.3f"
	    " first_p50_ms=%.3f first_p99_ms=%.3f last_p50_ms=%.3f last_p99_ms=%.3f"
	    " closed=%d close_1013=%d sub_retries=%d other_frames=%" PRIu64 " unknown=%" PRIu64,
	    G.nsubs, live0, C.rate, G.nmsgs, G.warm_msgs, G.sent_ok, G.post_err,
	    G.pub_reconnects, G.skipped,
	    G.late, (double)G.max_late / 1e6, expected, G.received, loss,
	    expected ? 100.0 * (double)loss / (double)expected : 0.0, min_per_sub(),
	    measured_expected, G.measured_recv, win_s,
	    win_s > 0 ? (double)G.measured_recv / win_s : 0.0,
	    h_pct_ms(&G.lat, 50), h_pct_ms(&G.lat, 99), h_pct_ms(&G.lat, 99.9),
	    (double)G.lat.max / 1e6, h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 99),
	    cpu_win_s > 0 ? 100.0 * (cpu1 - cpu0) / cpu_win_s : 0.0, cpu_win_s,
	    h_pct_ms(&G.first_lat, 50), h_pct_ms(&G.first_lat, 99),
	    h_pct_ms(&G.last_lat, 50), h_pct_ms(&G.last_lat, 99),
	    G.closed_early, G.close_1013, G.sub_retries, G.other_frames, G.unknown_msg);
	print_cpu_groups(cpu_win_s);
	printf(" first_error=%s\n", first_error());
	fflush(stdout);
}

/* ------------------------------------------------------------ main */

/* The options, on stderr; exit 2. */
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

/* The options; usage() when they do not add up. */
static void
options(int argc, char **argv)
{
	int opt;

	G.first = 1;
	C.prog = "wsload", C.mode = "fanout";
	C.rate = 50, C.warmup_s = 2, C.duration_s = 10, C.drain_s = 5, C.settle_s = -1, C.npool = 4;
	while ((opt = getopt(argc, argv, CLIENT_OPTS "r:n:f:M:")) != -1) {
		switch (opt) {
		case 'r': G.room = optarg; break;
		case 'n': G.nsubs = atoi(optarg); break;
		case 'f': G.first = atoi(optarg); break;
		case 'M': G.rss_pid = atoi(optarg); break;
		default: if (!client_option(opt, optarg)) usage();
		}
	}
	if (!client_keys())
		usage();
	if (C.port <= 0 || G.room == NULL || strlen(G.room) != 36 || G.nsubs <= 0 ||
	    C.rate <= 0 || C.npool < 1 || C.npool > MAX_PUBS || C.inflight < 1 || C.nsrc < 0 ||
	    C.nsrc > 250)
		usage();
	if (C.settle_s < 0)
		C.settle_s = strcmp(C.mode, "idle") == 0 ? 3 : 0.5;
}

/* wsload [options]: see usage() and the top of this file. */
int
main(int argc, char **argv)
{
	static const struct client_mode modes[] = {
		{ "fanout", fanout_mode }, { "idle", idle_mode }, { NULL, NULL },
	};

	options(argc, argv);
	client_init((unsigned long)G.nsubs, C.npool);
	C.on_event = on_event;
	ws_setup(&conn_ops);
	if ((G.conns = calloc((size_t)G.nsubs, sizeof(*G.conns))) == NULL ||
	    (G.retryq = calloc((size_t)G.nsubs * 11, sizeof(*G.retryq))) == NULL)
		die("out of memory");
	for (int i = 0; i < G.nsubs; i++) {
		G.conns[i].ws.fd = -1;
		G.conns[i].ws.user = (uint32_t)(G.first + i);
	}
	if (!client_run(modes))
		usage();
	return C.stop ? 130 : 0;
}
