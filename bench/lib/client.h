/* client: the common base of the benchmarks' C load clients (wsload,
 * dmload): messages, the clock, the options every client takes, EdDSA
 * tokens for synthetic users, and non-blocking sockets to 127.0.0.1 on
 * one epoll loop of one thread.
 *
 * Users: "PREFIX" + 12 hex digits of the user's index (PREFIX is the first
 * 24 characters of a v4 UUID, "xxxxxxxx-xxxx-4xxx-8xxx-"). Tokens are
 * EdDSA JWTs signed with the stack's token.key (libsodium secret key,
 * base64: seed || public key), as authd signs them.
 *
 * A client sets C.prog and its defaults, hands the getopt letters of
 * CLIENT_OPTS to client_option(), calls client_keys() and client_init(),
 * sets C.on_event for the loop (client_poll, run_for), and runs its mode
 * with client_run(). */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RBUF_SIZE (512 * 1024)
#define TOKEN_MAX 512
/* getopt letters of the options client_option() takes */
#define CLIENT_OPTS "p:k:u:m:R:w:d:D:S:t:P:i:s:c:T:q"

/* The kinds of epoll sources (the upper half of an event's data). */
enum { EV_WS = 1, EV_HTTP, EV_TIMER };

/* A client's mode (-m): its name and what runs it. */
struct client_mode {
	const char *name;
	void (*run)(void);
};

/* The state every client has (one process, one thread). */
struct client {
	/* options */
	const char *prog;		/* the name in messages */
	const char *key_path, *prefix, *mode;
	int port, nsrc, inflight, npool;
	double rate, warmup_s, duration_s, drain_s, settle_s, setup_timeout_s;
	long token_for;			/* -T: print this user's token; -1 */
	bool quiet, quickack;
	/* state */
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int ep, tfd;
	char *rbuf;			/* every WebSocket's reads */
	int opened, hs_failed;		/* WebSockets open, refused before */
	void (*on_event)(uint32_t kind, uint32_t idx, uint32_t events);
	char first_error[256];
	volatile sig_atomic_t stop;
};

extern struct client C;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void set_first_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *first_error(void);

bool client_option(int opt, const char *arg);
bool client_keys(void);
void client_init(unsigned long nsockets, int npool);
bool client_run(const struct client_mode *modes);

void user_id(uint32_t idx, char out[37]);
void make_token(uint32_t idx, char *out, size_t outlen);

int tcp_connect(void);
void ep_set(int fd, uint32_t events, uint32_t kind, uint32_t idx, int op);
void hard_close(int fd);

void client_poll(int timeout_ms);
void run_for(double seconds);
void timer_start(uint64_t interval_ns);
void timer_stop(void);
uint64_t timer_read(void);

/* CLOCK_MONOTONIC in ns. */
static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The value of n hex digits at p; *ok = false on a digit that is not hex. */
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

#endif
