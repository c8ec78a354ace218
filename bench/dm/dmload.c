/* dmload: the direct-message load client of bench/dm (README.md).
 *
 * One process, one thread, epoll, non-blocking sockets, everything to
 * 127.0.0.1 (bench/lib: client.c, wsclient.c, httpclient.c, stats.c, the
 * wire code it shares with bench/fanout/wsload.c). Modes:
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
 * Users (bench/lib/client.h): conversation k (0-based) is sender 2k+1 and
 * receiver 2k+2.
 *
 * Build: cc -std=c17 -O2 -Wall -Wextra -I../lib -o dmload dmload.c
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

#define MARKER "dm1:"			/* content: dm1:<8 hex msg>:<16 hex ns due>:xxx... */
#define CONTENT_LEN 64
#define MAX_POOL 1024

/* A receiver's WebSocket. */
struct rx {
	struct ws_conn ws;
	uint32_t conv;			/* its conversation */
	uint32_t got;			/* dm-message deliveries */
	int64_t last_msg;		/* the last message delivered here (order check) */
};

/* A pool connection for POSTs (or the GETs of get mode). */
struct tx {
	struct http_conn h;
	int64_t msg;			/* the message in flight, -1 */
};

struct msg {
	uint64_t t_write;		/* 0: not written yet */
	uint64_t t_answer;		/* the POST's answer came; 0: not yet */
	uint16_t status;		/* the POST's answer; 0: none */
	uint8_t delivered;
};

/* What dm mode measures around its window. */
struct window {
	int live0;
	double cpu0, cpu1;
	unsigned long long mb0, mt0, mb1, mt1;
	uint64_t t_end_send, t_stop;
};

/* The DMs answered 200 and not delivered, and other tallies of the end. */
struct losses {
	uint64_t lost, lost_measured, lost_mid, unanswered, delivered_not_ok, measured_ok;
	char examples[256];
};

static struct {
	/* options */
	const char *get_path;
	uint32_t nconv;
	double late_wait_s;
	long get_user, get_count, get_warm;
	/* state */
	struct rx *rxs;
	struct tx txs[MAX_POOL];
	int *idle;			/* stack of idle pool connections */
	int nidle, nready;
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
	int live, closed_early;
} G;

/* ------------------------------------------------------------ receivers */

/* A receiver's handshake done: live. */
static void
rx_opened(struct ws_conn *w)
{
	(void)w;
	G.live++;
}

/* A receiver's socket closed. */
static void
rx_dead(struct ws_conn *w, const char *why)
{
	if (w->state >= WS_OPEN) {
		G.closed_early++;
		G.live--;
	}
	set_first_error("rx_%u:%s", ((struct rx *)w)->conv, why);
}

/* Message j's due time. */
static inline uint64_t
due_of(uint32_t j)
{
	return G.t0 + (uint64_t)((double)j * 1e9 / G.total_rate);
}

/* A delivery of message mm at t on c: its latency, order and timing
 * after the POST's answer. */
static void
on_delivery(struct rx *c, struct msg *mm, uint64_t idx, uint64_t due, uint64_t t)
{
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

/* A text frame on a receiver's socket: a dm-message of ours, checked. */
static void
on_text(struct ws_conn *w, const char *p, size_t n, uint64_t t)
{
	struct rx *c = (struct rx *)w;
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
	on_delivery(c, mm, idx, due, t);
}

static const struct ws_ops rx_ops = { rx_opened, on_text, rx_dead };

/* ------------------------------------------------------------ HTTP pool */

/* Connection i on the idle stack. */
static void
tx_idle(int i)
{
	http_idle(&G.txs[i].h);
	G.idle[G.nidle++] = i;
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
	    "Content-Length: %d\r\n\r\n%s", C.port, G.tokens[k], bl, body);
	G.txs[i].msg = j;
	http_write(&G.txs[i].h, req, (size_t)n);
	t = G.txs[i].h.t_write;
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

/* Connection i is idle again: the next request of the mode. */
static void
tx_next(int i)
{
	if (strcmp(C.mode, "get") == 0)
		get_next(i);
	else
		pump();
}

/* The answer on connection i is complete. */
static void
tx_done(int i, const struct http_answer *a)
{
	struct tx *x = &G.txs[i];
	int status = a->status;

	if (x->msg >= 0 && G.msgs != NULL) {
		struct msg *m = &G.msgs[x->msg];
		m->status = (uint16_t)status;
		m->t_answer = a->t;
		if ((uint32_t)x->msg >= G.warm_msgs)
			h_add(&G.post_lat, a->t - x->h.t_write);
	} else {
		h_add(&G.post_lat, a->t - x->h.t_write);
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
		set_first_error("http_%d:%.*s", status, (int)(a->cl > 160 ? 160 : a->cl), a->body);
	}
	x->msg = -1;
	if (x->h.close_after) {
		G.reconnects++;
		http_reopen(&x->h);
		return;
	}
	tx_idle(i);
}

/* The server closed connection i: a request in flight has no answer. */
static void
tx_closed(int i)
{
	struct tx *x = &G.txs[i];

	if (x->h.state == H_BUSY) {
		G.conn_err++;
	} else {
		/* an idle connection: take it off the idle stack */
		for (int k = 0; k < G.nidle; k++)
			if (G.idle[k] == i) {
				G.idle[k] = G.idle[--G.nidle];
				break;
			}
	}
	G.reconnects++;
	x->msg = -1;
	http_reopen(&x->h);
}

/* An event of pool connection i. */
static void
tx_event(int i, uint32_t events)
{
	struct http_answer a;

	switch (http_event(&G.txs[i].h, events, &a)) {
	case HTTP_CONNECTED:
		tx_idle(i);
		G.nready++;
		tx_next(i);
		break;
	case HTTP_ANSWER:
		tx_done(i, &a);
		tx_next(i);
		break;
	case HTTP_CLOSED:
		tx_closed(i);
		break;
	case HTTP_STRAY:
		G.st_other++;
		break;
	}
}

/* ------------------------------------------------------------ loop */

/* An epoll event: a receiver's, a pool connection's, or the timer's tick. */
static void
on_event(uint32_t kind, uint32_t idx, uint32_t events)
{
	if (kind == EV_WS)
		ws_event(&G.rxs[idx].ws, events);
	else if (kind == EV_HTTP)
		tx_event((int)idx, events);
	else if (kind == EV_TIMER && timer_read() > 0)
		pump();
}

/* Opens the pool and waits (10 s at most) until every connection is. */
static void
pool_open(void)
{
	uint64_t deadline = now_ns() + 10000000000ull;

	if ((G.idle = calloc((size_t)C.npool, sizeof(*G.idle))) == NULL)
		die("out of memory");
	for (int i = 0; i < C.npool; i++) {
		G.txs[i].msg = -1;
		http_open(&G.txs[i].h, (uint32_t)i, "pool");
	}
	while (G.nready < C.npool) {
		if (now_ns() > deadline || C.stop)
			die("%d of %d pool connections open after 10 s", G.nready, C.npool);
		client_poll(100);
	}
}

/* ------------------------------------------------------------ dm mode */

/* The messages, the senders' tokens, the pool and the receivers' sockets;
 * returns the sockets live after the settle time. */
static int
dm_setup(void)
{
	int live0;

	G.total_rate = C.rate * G.nconv;
	G.nmsgs = (uint32_t)(G.total_rate * (C.warmup_s + C.duration_s) + 0.5);
	G.warm_msgs = (uint32_t)(G.total_rate * C.warmup_s + 0.5);
	if ((G.msgs = calloc(G.nmsgs + 1, sizeof(*G.msgs))) == NULL ||
	    (G.rxs = calloc(G.nconv, sizeof(*G.rxs))) == NULL ||
	    (G.tokens = calloc(G.nconv, sizeof(*G.tokens))) == NULL ||
	    (G.receivers = calloc(G.nconv, sizeof(*G.receivers))) == NULL)
		die("out of memory");
	for (uint32_t k = 0; k < G.nconv; k++) {
		make_token(2 * k + 1, G.tokens[k], TOKEN_MAX);
		user_id(2 * k + 2, G.receivers[k]);
		G.rxs[k].ws.fd = -1;
		G.rxs[k].ws.user = 2 * k + 2;
		G.rxs[k].conv = k;
		G.rxs[k].last_msg = -1;
	}
	pool_open();
	ws_open_all(G.rxs, sizeof(*G.rxs), G.nconv, "receiver sockets");
	if (C.hs_failed > 0)
		die("%d receiver sockets failed (first error %s)", C.hs_failed, C.first_error);
	run_for(C.settle_s);		/* stray frames of the setup */
	live0 = G.live;
	G.other_frames = 0;
	return live0;
}

/* Sends every DM on schedule, a tick per message (at most 10k ticks a
 * second): warm-up, then the measured part (CPU sampled from its start).
 * A server that cannot keep up gets at most DRAIN seconds past the
 * schedule to take the last messages; what is left is not_written. */
static void
dm_send(struct window *w)
{
	uint64_t tick = (uint64_t)(1e9 / G.total_rate), deadline;

	if (tick < 100000)
		tick = 100000;
	G.t0 = now_ns();
	G.sending = true;
	timer_start(tick);
	note("sending %u DMs at %.0f/s over %u conversations (%u of warm-up), pool of %d",
	    G.nmsgs, G.total_rate, G.nconv, G.warm_msgs, C.npool);
	G.t_measure0 = due_of(G.warm_msgs);
	while (!C.stop && now_ns() < G.t_measure0)
		client_poll(50);
	note("measuring for %.1f s", C.duration_s);
	cpu_sample(false);
	w->cpu0 = cpu_self_s();
	machine_ticks(&w->mb0, &w->mt0);
	deadline = due_of(G.nmsgs) + (uint64_t)(C.drain_s * 1e9);
	while (!C.stop && G.next_msg < G.nmsgs && now_ns() < deadline)
		client_poll(50);
	w->t_end_send = now_ns();
	G.sending = false;
	timer_stop();
}

/* Until every message answered 200 reached its receiver, at most DRAIN
 * seconds after the last write; then the end of the window. */
static void
dm_drain(struct window *w)
{
	uint64_t deadline = w->t_end_send + (uint64_t)(C.drain_s * 1e9);

	for (;;) {
		if (http_busy == 0 && G.delivered >= G.ok)
			break;
		if (C.stop || now_ns() > deadline)
			break;
		client_poll(20);
	}
	cpu_sample(true);
	w->cpu1 = cpu_self_s();
	machine_ticks(&w->mb1, &w->mt1);
	w->t_stop = now_ns();
}

/* Lost DM j: the last of its conversation, or one a later DM of the same
 * conversation got past ("mid")? Counted, and among the first examples. */
static void
count_lost(struct losses *l, uint32_t j)
{
	bool later = false;
	size_t len = strlen(l->examples);

	l->lost++;
	if (j >= G.warm_msgs)
		l->lost_measured++;
	for (uint64_t k = (uint64_t)j + G.nconv; k < G.nmsgs; k += G.nconv)
		if (G.msgs[k].delivered)
			later = true;
	if (later)
		l->lost_mid++;
	if (l->lost <= 5)
		snprintf(l->examples + len, sizeof(l->examples) - len, "%s%u/c%u/%s",
		    len ? "," : "", j, j % G.nconv, later ? "mid" : "last");
}

/* Every message's fate: unanswered, lost, delivered without a 200. */
static void
dm_losses(struct losses *l)
{
	memset(l, 0, sizeof(*l));
	for (uint32_t j = 0; j < G.nmsgs; j++) {
		struct msg *m = &G.msgs[j];
		if (m->t_write != 0 && m->status == 0)
			l->unanswered++;
		if (m->status == 200 && !m->delivered)
			count_lost(l, j);
		if (m->status != 200 && m->delivered)
			l->delivered_not_ok++;
		if (j >= G.warm_msgs && m->status == 200)
			l->measured_ok++;
	}
}

/* The server groups' CPU over the window, per DM delivered in it. */
static void
print_cpu_groups(double cpu_win_s)
{
	for (int g = 0; g < ncpu_groups; g++) {
		struct cpu_figures f = cpu_figures(&cpu_groups[g], cpu_win_s, G.win_delivered);
		printf(" cpu_%s_pct=%.1f cpu_%s_sys_pct=%.1f cpu_%s_us_per_dm=%.1f",
		    f.name, f.pct, f.name, f.sys_pct, f.name, f.us);
	}
}

/* The result line (but its end: the late arrivals). */
static void
dm_report(const struct window *w, const struct losses *l)
{
	uint32_t measured_msgs = G.nmsgs - G.warm_msgs;
	/* throughput: every delivery from the start of the measured part to
	 * the last one (a backlog of warm-up DMs counts: the server did it) */
	double win_s = (double)((G.t_last_win > G.t_measure0 ? G.t_last_win : w->t_stop) -
	    G.t_measure0) / 1e9;
	double cpu_win_s = (double)(w->t_stop - G.t_measure0) / 1e9;

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
	    G.nconv, C.rate, G.total_rate, G.nmsgs, G.warm_msgs, measured_msgs, C.npool, w->live0,
	    G.written, G.nmsgs - G.next_msg, G.ok, G.non200, G.st_4xx, G.st_5xx, G.st_other,
	    G.conn_err, l->unanswered, G.reconnects, G.delivered, l->lost, l->lost_measured,
	    l->lost_mid, l->examples[0] ? l->examples : "none", G.after_answer_slow,
	    (double)G.after_answer_max / 1e6, G.dup,
	    G.misrouted, G.out_of_order, G.unknown, l->delivered_not_ok, l->measured_ok,
	    G.measured_delivered, G.win_delivered, win_s,
	    win_s > 0 ? (double)G.win_delivered / win_s : 0.0,
	    G.late, (double)G.max_late / 1e6, http_busy_max,
	    h_pct_ms(&G.lat, 50), h_pct_ms(&G.lat, 90), h_pct_ms(&G.lat, 99),
	    h_pct_ms(&G.lat, 99.9), (double)G.lat.max / 1e6, h_mean_ms(&G.lat),
	    h_pct_ms(&G.lat_w, 50), h_pct_ms(&G.lat_w, 99), (double)G.lat_w.max / 1e6,
	    h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 99), (double)G.post_lat.max / 1e6,
	    cpu_win_s > 0 ? 100.0 * (w->cpu1 - w->cpu0) / cpu_win_s : 0.0,
	    w->mt1 > w->mt0 ? 100.0 * (double)(w->mb1 - w->mb0) / (double)(w->mt1 - w->mt0) : 0.0,
	    cpu_win_s, (double)(w->t_stop - w->t_end_send) / 1e9, G.closed_early, G.other_frames);
	print_cpu_groups(cpu_win_s);
	printf(" first_error=%s", first_error());
}

/* dm mode: setup, open-loop sending, drain, the result line. */
static void
dm_mode(void)
{
	struct window w = { 0 };
	struct losses l;

	w.live0 = dm_setup();
	dm_send(&w);
	dm_drain(&w);
	dm_losses(&l);
	dm_report(&w, &l);
	/* Lost ones: listen LATE_WAIT more seconds to tell late from never. */
	if (l.lost > 0 && G.late_wait_s > 0) {
		G.counting_late = true;
		run_for(G.late_wait_s);
	}
	printf(" late_wait_s=%.1f arrived_late=%" PRIu64 "\n", l.lost > 0 ? G.late_wait_s : 0.0,
	    G.arrived_late);
	fflush(stdout);
}

/* ------------------------------------------------------------ get mode */

static char get_req[2048];
static int get_req_len;
static long get_sent;

/* The next GET on idle connection i (the stats reset after the warm-up). */
static void
get_next(int i)
{
	if (C.stop || get_sent >= G.get_warm + G.get_count || G.nidle == 0)
		return;
	G.nidle--;
	if (get_sent == G.get_warm) {
		memset(&G.post_lat, 0, sizeof(G.post_lat));
		G.ok = G.non200 = G.st_4xx = G.st_5xx = G.st_other = 0;
	}
	get_sent++;
	G.txs[i].msg = -1;
	http_write(&G.txs[i].h, get_req, (size_t)get_req_len);
}

/* get mode: the GETs one at a time, then the result line. */
static void
get_mode(void)
{
	char token[TOKEN_MAX];
	uint64_t t0, deadline;

	make_token((uint32_t)G.get_user, token, sizeof(token));
	get_req_len = snprintf(get_req, sizeof(get_req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n",
	    G.get_path, C.port, token);
	C.npool = 1;
	G.warm_msgs = 0;
	t0 = now_ns();
	pool_open();
	get_next(0);
	deadline = now_ns() + 600000000000ull;
	while (!C.stop && (get_sent < G.get_warm + G.get_count || http_busy > 0)) {
		if (now_ns() > deadline)
			die("get: still running after 600 s");
		client_poll(100);
	}
	printf("mode=get quickack=%d requests=%" PRIu64 " ok=%" PRIu64 " non200=%" PRIu64 " warm=%ld"
	    " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f seconds=%.3f"
	    " first_error=%s\n", C.quickack, G.post_lat.n, G.ok, G.non200, G.get_warm,
	    h_pct_ms(&G.post_lat, 50), h_pct_ms(&G.post_lat, 90), h_pct_ms(&G.post_lat, 99),
	    (double)G.post_lat.max / 1e6, h_mean_ms(&G.post_lat), (now_ns() - t0) / 1e9,
	    first_error());
	fflush(stdout);
}

/* ------------------------------------------------------------ main */

/* The options, on stderr; exit 2. */
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

/* The options; usage() when they do not add up. */
static void
options(int argc, char **argv)
{
	int opt;

	G.late_wait_s = 10, G.get_user = -1, G.get_count = 300, G.get_warm = 20;
	C.prog = "dmload", C.mode = "dm";
	C.rate = 2, C.warmup_s = 3, C.duration_s = 60, C.drain_s = 5, C.settle_s = 1, C.npool = 128;
	while ((opt = getopt(argc, argv, CLIENT_OPTS "n:L:G:U:N:W:Q")) != -1) {
		switch (opt) {
		case 'n': G.nconv = (uint32_t)atol(optarg); break;
		case 'L': G.late_wait_s = atof(optarg); break;
		case 'G': G.get_path = optarg; break;
		case 'U': G.get_user = atol(optarg); break;
		case 'N': G.get_count = atol(optarg); break;
		case 'W': G.get_warm = atol(optarg); break;
		case 'Q': C.quickack = true; break;
		default: if (!client_option(opt, optarg)) usage();
		}
	}
	if (!client_keys())
		usage();
	if (C.port <= 0 || C.nsrc < 0 || C.nsrc > 250 || C.npool < 1 || C.npool > MAX_POOL)
		usage();
	if (strcmp(C.mode, "dm") == 0 &&
	    (G.nconv == 0 || G.nconv > 1000000 || C.rate <= 0 || C.inflight < 1))
		usage();
	if (strcmp(C.mode, "get") == 0 &&
	    (G.get_path == NULL || G.get_user < 0 || G.get_count < 1 || G.get_warm < 0))
		usage();
}

/* dmload [options]: see usage() and the top of this file. */
int
main(int argc, char **argv)
{
	static const struct client_mode modes[] = {
		{ "dm", dm_mode }, { "get", get_mode }, { NULL, NULL },
	};

	options(argc, argv);
	client_init(G.nconv, C.npool);
	C.on_event = on_event;
	ws_setup(&rx_ops);
	if (!client_run(modes))
		usage();
	return C.stop ? 130 : 0;
}
