/* The metrics exporter: a tiny HTTP/1.1 server on a loopback address that
 * answers GET /metrics with metrics_render() (text/plain; version=0.0.4)
 * and everything else with 404 (405 for a method other than GET or HEAD).
 * It runs on the event loop (libevent's evhttp, non-blocking), bounds
 * headers and bodies, and closes idle connections after a few seconds. */
#ifndef ENCLAVR_METRICS_HTTP_H
#define ENCLAVR_METRICS_HTTP_H

#include <event2/event.h>

struct metrics_http;

/* NULL when addr is "IPV4:PORT" or "[IPV6]:PORT" on a loopback address
 * (127.0.0.0/8, ::1); otherwise why it is refused. Port 0 picks a free
 * port (logged). Empty means off and is not checked here. */
const char *metrics_listen_check(const char *addr);
/* Listens on addr (already checked); fatal when it cannot. */
struct metrics_http *metrics_http_open(struct event_base *base, const char *addr);
/* The port it listens on. */
int metrics_http_port(const struct metrics_http *h);
/* Closes the listener and every open connection. NULL is a no-op. */
void metrics_http_close(struct metrics_http *h);

#endif
