/* Forwarding a request to the daemon that owns its route, and relaying the
 * daemon's answer. The envelope is documented in docs/ipc.md. */
#include "gatewayd.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "utf8.h"

/* Headers a daemon may set on its response. */
static const char *gw_fwd_headers[] = { "Content-Type", "Cache-Control",
	"Location", "Content-Disposition", "Retry-After", "ETag",
	"Last-Modified", "WWW-Authenticate", NULL };

static bool
gw_fwd_header_ok(const char *name, const char *value)
{
	for (int i = 0; gw_fwd_headers[i] != NULL; i++)
		if (strcmp(gw_fwd_headers[i], name) == 0)
			return strpbrk(value, "\r\n") == NULL;
	return false;
}

static void
gw_forward_relay(struct gw_request *r, const cJSON *resp)
{
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(resp, "headers"), *h;
	const char *body = json_str(resp, "body");
	double status = json_num(resp, "status", 0);

	if (body == NULL || status < 100 || status > 599) {
		gw_respond_error(r, 502, "bad_gateway", "The service answered badly");
		return;
	}
	gw_response_start(r, (int)status);
	cJSON_ArrayForEach(h, hdrs) {
		if (cJSON_IsString(h) && gw_fwd_header_ok(h->string, h->valuestring))
			gw_response_header(r, h->string, h->valuestring);
	}
	/* API answers are private unless the daemon says otherwise. */
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(hdrs, "Cache-Control")))
		gw_response_header(r, "Cache-Control", "no-store");
	gw_response_body(r, body, strlen(body));
}

static void
gw_forward_reply(enum ipc_call_result res, int type, cJSON *body, void *arg)
{
	struct gw_request *r = arg;
	const struct gw_upstream *up = r->work;
	char msg[128];

	r->ncalls = 0;		/* the call frees itself */
	if (res == IPC_CALL_TIMEOUT) {
		snprintf(msg, sizeof(msg), "%s did not answer in time", up->name);
		gw_respond_error(r, 504, "upstream_timeout", msg);
	} else if (res != IPC_CALL_OK || type != IPC_HTTP_RESPONSE) {
		snprintf(msg, sizeof(msg), "%s could not handle the request", up->name);
		gw_respond_error(r, 502, "bad_gateway", msg);
	} else {
		gw_forward_relay(r, body);
	}
}

static cJSON *
gw_forward_principal(const struct gw_request *r)
{
	const struct token_claims *c = &r->principal.claims;
	cJSON *p;

	if (!r->principal.present)
		return cJSON_CreateNull();
	if ((p = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(p, "user_id", c->sub);
		cJSON_AddStringToObject(p, "session_id", c->sid);
		cJSON_AddBoolToObject(p, "admin", c->adm);
	}
	return p;
}

/* Every route takes JSON bodies: an empty one, or exactly one valid value. */
static bool
gw_forward_body_ok(const char *body, size_t len)
{
	cJSON *check;

	if (len == 0)
		return true;
	if (memchr(body, '\0', len) != NULL || !utf8_valid(body, len) ||
	    (check = json_parse_exact(body, len)) == NULL)
		return false;
	cJSON_Delete(check);
	return true;
}

/* r's query without the access token when it authenticated the request:
 * the daemons get the verified principal instead, and never see the
 * credential. Any other token= (a reset link's, say) is the daemon's.
 * NULL when out of memory. */
static char *
gw_forward_query(const struct gw_request *r)
{
	const char *query = r->query;
	size_t len = strlen(query), n = 0;
	char *out = malloc(len + 1);

	if (out == NULL)
		return NULL;
	for (const char *p = query; *p != '\0';) {
		size_t seg = strcspn(p, "&");
		bool credential = r->token_in_query && strncmp(p, "token=", 6) == 0;
		if (!credential && seg > 0) {
			if (n > 0)
				out[n++] = '&';
			memcpy(out + n, p, seg);
			n += seg;
		}
		p += seg + (p[seg] == '&');
	}
	out[n] = '\0';
	return out;
}

/* The envelope for r; NULL when out of memory. */
static char *
gw_forward_envelope(struct gw_request *r, const char *body)
{
	const char *ua = gw_request_header(r, "User-Agent");
	char *query = gw_forward_query(r);
	cJSON *env;
	char *text;

	if (query == NULL)
		return NULL;

	if ((env = cJSON_CreateObject()) == NULL) {
		free(query);
		return NULL;
	}
	cJSON_AddStringToObject(env, "method", r->head ? "GET" : r->method);
	cJSON_AddStringToObject(env, "route", r->route->path);
	cJSON_AddStringToObject(env, "path", r->path);
	cJSON_AddStringToObject(env, "query", query);
	free(query);
	cJSON_AddStringToObject(env, "body", body);
	cJSON_AddStringToObject(env, "request_id", r->request_id);
	cJSON_AddStringToObject(env, "client_addr", r->client);
	cJSON_AddStringToObject(env, "user_agent", ua && utf8_valid(ua, strlen(ua)) ? ua : "");
	cJSON_AddItemToObject(env, "principal", gw_forward_principal(r));
	text = cJSON_PrintUnformatted(env);
	cJSON_Delete(env);
	return text;
}

void
gw_forward(struct gw_request *r)
{
	struct gw_upstream *up = r->route->owner;
	size_t len = evbuffer_get_length(r->body);
	char *body, *env;
	struct ipc_call *call;

	if (evbuffer_add(r->body, "", 1) < 0 ||
	    (body = (char *)evbuffer_pullup(r->body, -1)) == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	if (!gw_forward_body_ok(body, len)) {
		gw_respond_error(r, 400, "invalid_json", "The request body is not valid JSON");
		return;
	}
	if ((env = gw_forward_envelope(r, body)) == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	r->work = up;
	call = ipc_call_start(up->cli, IPC_HTTP_REQUEST, env, strlen(env), (int)r->conn->gw->conf->upstream_timeout_ms,
	    gw_forward_reply, r);
	free(env);
	if (call == NULL) {
		gw_respond_error(r, 503, "service_unavailable", "Cannot reach the service");
		return;
	}
	gw_request_track_call(r, call);
}
