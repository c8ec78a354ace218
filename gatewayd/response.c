/* Writing responses: the status line, the headers every response carries
 * (request id, security headers, CORS), the body, and the one JSON error
 * shape. Every response ends in gw_request_done. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "uuid.h"

#define GW_CSP "default-src 'self'; script-src 'self'; style-src 'self' " \
	"'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; " \
	"media-src 'self' blob:; font-src 'self'; object-src 'none'; " \
	"base-uri 'self'; frame-ancestors 'none'"

const char *
gw_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

/* "Date: ...\r\n", formatted at most once a second. */
static const char *
gw_date_line(size_t *len)
{
	static char buf[64];
	static size_t n;
	static time_t last;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		n = strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		last = now;
	}
	*len = n;
	return buf;
}

/* Writing to r's output without printf, which dominated the cost of
 * writing headers. */
static void
gw_out(struct gw_request *r, const char *s, size_t n)
{
	evbuffer_add(bufferevent_get_output(r->conn->bev), s, n);
}

#define GW_OUT_LIT(r, lit) gw_out(r, lit, sizeof(lit) - 1)

static void
gw_out_str(struct gw_request *r, const char *s)
{
	gw_out(r, s, strlen(s));
}

static void
gw_out_num(struct gw_request *r, size_t v)
{
	char digits[24];
	int n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	gw_out(r, digits + sizeof(digits) - n, (size_t)n);
}

bool
gw_origin_allowed(const char *list, const char *origin)
{
	size_t olen = strlen(origin);

	for (const char *p = list; *p != '\0';) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 1 && *p == '*')
			return true;
		if (n > 0 && n == olen && strncasecmp(p, origin, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static void
gw_response_cors(struct gw_request *r)
{
	const char *origin = gw_request_header(r, "Origin");

	if (origin == NULL)
		return;
	if (gw_origin_allowed(r->conn->gw->conf->cors_origins, origin)) {
		gw_response_header(r, "Access-Control-Allow-Origin", origin);
		gw_response_header(r, "Access-Control-Expose-Headers",
		    "Content-Length, Content-Type, X-Request-ID, Retry-After");
	}
	GW_OUT_LIT(r, "Vary: Origin\r\n");
}

void
gw_response_start(struct gw_request *r, int status)
{
	bool close = !r->keep_alive || r->conn->close_after || r->conn->gw->draining;
	const char *date;
	size_t datelen;

	r->status = status;
	if (r->request_id[0] == '\0')	/* refused before its headers ended */
		uuid_v4_seq(r->request_id);
	GW_OUT_LIT(r, "HTTP/1.1 ");
	gw_out_num(r, (size_t)status);
	GW_OUT_LIT(r, " ");
	gw_out_str(r, gw_status_text(status));
	GW_OUT_LIT(r, "\r\n");
	date = gw_date_line(&datelen);
	gw_out(r, date, datelen);
	GW_OUT_LIT(r, "Server: enclavr\r\nX-Request-ID: ");
	gw_out_str(r, r->request_id);
	GW_OUT_LIT(r, "\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
	    "Referrer-Policy: strict-origin-when-cross-origin\r\n"
	    "Permissions-Policy: camera=(self), microphone=(self), geolocation=()\r\n"
	    "Content-Security-Policy: " GW_CSP "\r\n");
	if (close)
		GW_OUT_LIT(r, "Connection: close\r\n");
	gw_response_cors(r);
}

void
gw_response_header(struct gw_request *r, const char *name, const char *value)
{
	gw_out_str(r, name);
	GW_OUT_LIT(r, ": ");
	gw_out_str(r, value);
	GW_OUT_LIT(r, "\r\n");
}

static void
gw_response_length(struct gw_request *r, size_t len)
{
	GW_OUT_LIT(r, "Content-Length: ");
	gw_out_num(r, len);
	GW_OUT_LIT(r, "\r\n");
}

void
gw_response_body(struct gw_request *r, const void *body, size_t len)
{
	if (r->status != 204 && r->status != 304)
		gw_response_length(r, len);
	GW_OUT_LIT(r, "\r\n");
	if (!r->head && len > 0 && r->status != 204 && r->status != 304)
		gw_out(r, body, len);
	gw_request_done(r);
}

void
gw_response_body_ref(struct gw_request *r, const void *data, size_t len,
    void (*cleanup)(const void *, size_t, void *), void *arg)
{
	struct evbuffer *out = bufferevent_get_output(r->conn->bev);

	gw_response_length(r, len);
	GW_OUT_LIT(r, "\r\n");
	if (r->head || len == 0 || evbuffer_add_reference(out, data, len, cleanup, arg) < 0)
		cleanup(data, len, arg);
	gw_request_done(r);
}

void
gw_respond_json(struct gw_request *r, int status, const char *json, size_t len)
{
	gw_response_start(r, status);
	gw_response_header(r, "Content-Type", "application/json");
	gw_response_header(r, "Cache-Control", "no-store");
	gw_response_body(r, json, len);
}

void
gw_respond_error(struct gw_request *r, int status, const char *code,
    const char *message)
{
	char *body = json_error_body(code, message);

	if (body == NULL) {
		gw_respond_json(r, status, "{\"error\":\"internal\"}", 19);
		return;
	}
	gw_respond_json(r, status, body, strlen(body));
	free(body);
}

void
gw_respond_error_with(struct gw_request *r, int status, const char *code,
    const char *message, const char *hname, const char *hvalue)
{
	char *body = json_error_body(code, message);

	gw_response_start(r, status);
	gw_response_header(r, hname, hvalue);
	gw_response_header(r, "Content-Type", "application/json");
	gw_response_header(r, "Cache-Control", "no-store");
	gw_response_body(r, body ? body : "", body ? strlen(body) : 0);
	free(body);
}

void
gw_respond_405(struct gw_request *r, const char *allow)
{
	gw_respond_error_with(r, 405, "method_not_allowed",
	    "This method is not allowed here", "Allow", allow);
}

void
gw_response_start_upgrade(struct gw_request *r, const char *accept)
{
	r->status = 101;
	GW_OUT_LIT(r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nServer: enclavr\r\nSec-WebSocket-Accept: ");
	gw_out_str(r, accept);
	GW_OUT_LIT(r, "\r\nX-Request-ID: ");
	gw_out_str(r, r->request_id);
	GW_OUT_LIT(r, "\r\n\r\n");
}

void
gw_respond_preflight(struct gw_request *r)
{
	gw_response_start(r, 204);
	gw_response_header(r, "Access-Control-Allow-Methods",
	    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
	gw_response_header(r, "Access-Control-Allow-Headers",
	    "Accept, Authorization, Content-Type, X-Requested-With, X-Request-ID");
	gw_response_header(r, "Access-Control-Max-Age", "86400");
	gw_response_body(r, NULL, 0);
}
