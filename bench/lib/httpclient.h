/* httpclient: keep-alive HTTP/1.1 client connections of the benchmarks'
 * C load clients, one request at a time each: the POSTs of the
 * publishers and senders, the GETs of dmload's get mode.
 *
 * A client keeps them in structs of its own that begin with a struct
 * http_conn, registered as (EV_HTTP, index), and reads what each event
 * brought from http_event(): the connect done, a complete answer, the
 * server's close. Which connection sends what, and what counts, is the
 * client's. Answers need a Content-Length (no chunked encoding). At exit
 * every connection is closed with a RST (no TIME_WAIT left behind). */
#ifndef BENCH_HTTPCLIENT_H
#define BENCH_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_MAX (256 * 1024)
#define HTTP_MAX 1024			/* connections of a client */

enum { H_CONNECTING, H_IDLE, H_BUSY };

struct http_conn {
	int fd;
	uint8_t state;
	bool close_after;		/* the answer said Connection: close */
	uint32_t idx;			/* its index in the client's array */
	const char *who;		/* names it in errors: "pool", "publisher" */
	uint64_t t_write;		/* the request's write */
	uint32_t len;
	char *buf;			/* the answer so far */
	uint32_t out_off, out_len;
	char out[2048];			/* a request the socket did not take at once */
};

/* A complete answer. */
struct http_answer {
	int status;
	const char *body;
	long cl;
	uint64_t t;			/* when its last byte was read */
};

/* What an event brought. HTTP_CLOSED (the server's close, a request in
 * flight or not) and HTTP_STRAY (bytes with no request) also go to the
 * first error, "who_idx:why". */
enum { HTTP_NOTHING, HTTP_CONNECTED, HTTP_ANSWER, HTTP_CLOSED, HTTP_STRAY };

/* Connections busy with a request now, and the most at once so far. */
extern int http_busy, http_busy_max;

void http_open(struct http_conn *x, uint32_t idx, const char *who);
void http_reopen(struct http_conn *x);
void http_write(struct http_conn *x, const char *req, size_t n);
void http_idle(struct http_conn *x);
int http_event(struct http_conn *x, uint32_t events, struct http_answer *a);

#endif
