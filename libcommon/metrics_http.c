#include "metrics_http.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define METRICS_HTTP_MAX_HEADERS 8192
#define METRICS_HTTP_TIMEOUT_S 5
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Owned by the daemon that opened it; freed by metrics_http_close. */
struct metrics_http {
	struct evhttp *http;
	int port;
};

/* "IPV4:PORT" or "[IPV6]:PORT", numeric only, port 0 to 65535. */
static bool
metrics_addr_parse(const char *addr, struct sockaddr_storage *ss, int *len)
{
	const char *colon = strrchr(addr, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen = colon ? (size_t)(colon - addr) : 0;
	long port = 0;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5 ||
	    hlen == 0 || hlen >= sizeof(host))
		return false;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		return false;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = (int)sizeof(*sin6);
		return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = (int)sizeof(*sin);
		return inet_pton(AF_INET, host, &sin->sin_addr) == 1;
	}
}

const char *
metrics_listen_check(const char *addr)
{
	struct sockaddr_storage ss;
	int len;

	if (!metrics_addr_parse(addr, &ss, &len))
		return "must be IPV4:PORT or [IPV6]:PORT";
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			return NULL;
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return NULL;
	}
	return "must be a loopback address (127.0.0.0/8 or [::1])";
}

static void
metrics_text_free(const void *data, size_t len, void *extra)
{
	(void)len, (void)extra;
	free((void *)data);
}

static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body;
	char *text;
	size_t len;
	(void)arg;

	evhttp_add_header(out, "Cache-Control", "no-store");
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
		if ((body = evbuffer_new()) != NULL)
			evbuffer_add_printf(body, "not found; try /metrics\n");
		evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", body);
		if (body != NULL)
			evbuffer_free(body);
		return;
	}
	if ((text = metrics_render(&len)) == NULL || (body = evbuffer_new()) == NULL) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(out, "Content-Type", METRICS_CONTENT_TYPE);
	evbuffer_add_reference(body, text, len, metrics_text_free, NULL);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* A non-blocking listening socket on ss; -1 with errno set. */
static evutil_socket_t
metrics_http_socket(const struct sockaddr_storage *ss, int len)
{
	evutil_socket_t fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, (socklen_t)len) < 0 ||
	    listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
metrics_sock_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct metrics_http *
metrics_http_open(struct event_base *base, const char *addr)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	evutil_socket_t fd;
	int len;

	if (h == NULL || (h->http = evhttp_new(base)) == NULL)
		fatalx("metrics: out of memory");
	if (metrics_listen_check(addr) != NULL || !metrics_addr_parse(addr, &ss, &len))
		fatalx("metrics: bad listen address %s", addr);
	if ((fd = metrics_http_socket(&ss, len)) < 0)
		fatal("metrics: cannot listen on %s", addr);
	if (evhttp_accept_socket(h->http, fd) < 0)
		fatalx("metrics: cannot serve on %s", addr);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, METRICS_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, METRICS_HTTP_TIMEOUT_S);
	evhttp_set_gencb(h->http, metrics_http_cb, h);
	h->port = metrics_sock_port(fd);
	log_info("metrics: serving /metrics on %s (port %d)", addr, h->port);
	return h;
}

int
metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

void
metrics_http_close(struct metrics_http *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->http);	/* closes the listener and its connections */
	free(h);
}
