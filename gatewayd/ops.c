/* The operational endpoints: GET /health asks every daemon over IPC and
 * answers 200 only when all answer; /status and /info keep the reference's
 * public shapes. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "uuid.h"
#include "version.h"

#define GW_HEALTH_TIMEOUT_MS 1000

struct gw_health;

struct gw_health_slot {
	struct gw_health *h;
	int idx;
	struct ipc_call *call;
};

/* A /health request in progress; owned by its request (work). */
struct gw_health {
	struct gw_request *r;
	int pending;
	cJSON *daemons;
	const char *missing;
	struct gw_health_slot slots[GW_NUPSTREAMS];
};

static void
gw_health_free(void *work)
{
	struct gw_health *h = work;
	cJSON_Delete(h->daemons);
	free(h);
}

static void
gw_respond_cjson(struct gw_request *r, int status, cJSON *o)
{
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;

	if (text == NULL)
		gw_respond_error(r, 500, "internal", "Out of memory");
	else
		gw_respond_json(r, status, text, strlen(text));
	free(text);
	cJSON_Delete(o);
}

static void
gw_health_finish(struct gw_health *h)
{
	struct gw_request *r = h->r;
	struct gw *gw = r->conn->gw;
	cJSON *o = cJSON_CreateObject(), *g;
	char msg[96];

	if (o == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	if (h->missing != NULL) {
		snprintf(msg, sizeof(msg), "%s is not answering", h->missing);
		cJSON_AddStringToObject(o, "error", "unavailable");
		cJSON_AddStringToObject(o, "message", msg);
	}
	cJSON_AddStringToObject(o, "status", h->missing ? "degraded" : "ok");
	cJSON_AddItemToObject(o, "daemons", h->daemons);
	h->daemons = NULL;
	g = cJSON_AddObjectToObject(o, "gatewayd");
	cJSON_AddStringToObject(g, "status", "up");
	cJSON_AddNumberToObject(g, "uptime_ms", (double)(time_mono_ms() - gw->started_ms));
	cJSON_AddNumberToObject(g, "connections", gw->nconns);
	cJSON_AddBoolToObject(g, "redis", redis_up(gw->redis));
	gw_respond_cjson(r, h->missing ? 503 : 200, o);
}

static void
gw_health_reply(enum ipc_call_result res, int type, cJSON *body, void *arg)
{
	struct gw_health_slot *s = arg;
	struct gw_health *h = s->h;
	const struct gw_upstream *u = &h->r->conn->gw->up[s->idx];
	cJSON *d;

	gw_request_untrack_call(h->r, s->call);
	if (res == IPC_CALL_OK && type == IPC_PONG && cJSON_IsObject(body) &&
	    u->routes_loaded) {
		d = cJSON_Duplicate(body, 1);
		cJSON_AddStringToObject(d, "status", "up");
		cJSON_AddNumberToObject(d, "routes", u->nroutes);
	} else {
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "status", "down");
		cJSON_AddStringToObject(d, "reason", res == IPC_CALL_TIMEOUT ?
		    "no answer in time" : res == IPC_CALL_OK ? "routes not announced yet" :
		    "unreachable");
		if (h->missing == NULL)
			h->missing = u->name;
	}
	cJSON_AddItemToObject(h->daemons, u->name, d);
	if (--h->pending == 0)
		gw_health_finish(h);
}

static void
gw_ops_health(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	struct gw_health *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->daemons = cJSON_CreateObject()) == NULL) {
		free(h);
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	h->r = r;
	r->work = h;
	r->work_free = gw_health_free;
	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		struct gw_health_slot *s = &h->slots[i];
		s->h = h, s->idx = i;
		h->pending++;
		s->call = ipc_call_start(gw->up[i].cli, IPC_PING, "{}", 2,
		    GW_HEALTH_TIMEOUT_MS, gw_health_reply, s);
		if (s->call != NULL)
			gw_request_track_call(r, s->call);
	}
	/* Daemons that cannot be asked now are down; the last one answers. */
	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		if (h->slots[i].call == NULL)
			gw_health_reply(IPC_CALL_FAILED, 0, NULL, &h->slots[i]);
	}
}

/* Go's time.Duration text ("1h2m3.5s", "250ms"), as the reference prints. */
static void
gw_go_duration(long long ms, char *out, size_t len)
{
	long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
	char secs[32];
	size_t n;

	if (ms < 1000) {
		snprintf(out, len, "%lldms", ms);
		return;
	}
	snprintf(secs, sizeof(secs), "%lld.%03lld", s, frac);
	n = strlen(secs);
	while (secs[n - 1] == '0')
		secs[--n] = '\0';
	if (secs[n - 1] == '.')
		secs[--n] = '\0';
	if (h > 0)
		snprintf(out, len, "%lldh%lldm%ss", h, m, secs);
	else if (m > 0)
		snprintf(out, len, "%lldm%ss", m, secs);
	else
		snprintf(out, len, "%ss", secs);
}

static void
gw_ops_status(struct gw_request *r, bool info)
{
	struct gw *gw = r->conn->gw;
	cJSON *o = cJSON_CreateObject();
	char up[64], now[RFC3339_STRLEN];

	gw_go_duration(time_mono_ms() - gw->started_ms, up, sizeof(up));
	if (o == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	cJSON_AddBoolToObject(o, "redis_enabled", redis_up(gw->redis));
	cJSON_AddStringToObject(o, "uptime", up);
	if (info) {
		time_now_rfc3339(now, sizeof(now));
		cJSON_AddStringToObject(o, "server_time", now);
		cJSON_AddStringToObject(o, "version", ENCLAVR_VERSION);
		cJSON_AddNumberToObject(o, "ws_clients", gw->nws);
		cJSON_AddNumberToObject(o, "ws_rooms", gw_hub_rooms());
	} else {
		cJSON_AddNumberToObject(o, "active_clients", gw->nws);
		cJSON_AddNumberToObject(o, "dm_clients", gw_ws_dm_clients(gw));
		cJSON_AddNumberToObject(o, "room_count", gw_hub_rooms());
	}
	gw_respond_cjson(r, 200, o);
}

bool
gw_ops_handle(struct gw_request *r)
{
	int which = strcmp(r->path, "/health") == 0 ? 1 :
	    strcmp(r->path, "/status") == 0 ? 2 :
	    strcmp(r->path, "/info") == 0 ? 3 : 0;

	if (which == 0)
		return false;
	if (strcmp(r->method, "GET") != 0 && !r->head) {
		gw_respond_405(r, "GET, HEAD, OPTIONS");
		return true;
	}
	if (which == 1)
		gw_ops_health(r);
	else
		gw_ops_status(r, which == 3);
	return true;
}
