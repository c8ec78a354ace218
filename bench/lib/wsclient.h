/* wsclient: WebSocket client connections of the benchmarks' C load
 * clients: GET /api/ws?token=... (RFC 6455, masked client frames) for one
 * synthetic user each, frames parsed as they come, pings answered.
 *
 * A client keeps its connections in an array of its own structs that
 * begin with a struct ws_conn, registered as (EV_WS, index) on the epoll
 * set, hands their events to ws_event(), and learns of handshakes, text
 * frames and deaths through the struct ws_ops it gives ws_setup(). At
 * exit the sockets still open are closed with a RST (no TIME_WAIT). */
#ifndef BENCH_WSCLIENT_H
#define BENCH_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection's states; a client's own ones lie in WS_APP .. WS_DEAD. */
enum { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_APP, WS_DEAD = 255 };

struct ws_conn {
	int fd;
	uint8_t state;
	bool want_out;
	uint32_t user;			/* user index: whose token */
	uint32_t idx;			/* its index in the client's array */
	uint32_t carry_len, carry_cap;
	char *carry;			/* an incomplete frame (or handshake answer) */
	uint32_t out_len;
	char *out;			/* bytes the socket did not take yet */
};

/* What a client does with its WebSockets' news (opened may be NULL). */
struct ws_ops {
	void (*opened)(struct ws_conn *c);	/* the handshake got its 101 */
	void (*text)(struct ws_conn *c, const char *p, size_t n, uint64_t t);
	void (*dead)(struct ws_conn *c, const char *why);	/* state still the old one */
};

void ws_setup(const struct ws_ops *ops);
void ws_open_all(void *conns, size_t stride, uint32_t n, const char *what);
void ws_event(struct ws_conn *c, uint32_t events);
void ws_send_frame(struct ws_conn *c, int opcode, const char *payload, size_t len);
void ws_dead(struct ws_conn *c, const char *why);

#endif
