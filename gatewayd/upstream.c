/* The back-end daemons as gatewayd sees them: an IPC client and an event
 * subscription each, liveness from their heartbeats, and their route tables,
 * fetched again whenever a new instance shows up. */
#include "gatewayd.h"

#include <string.h>

#include "json.h"
#include "log.h"
#include "uuid.h"

#define GW_ROUTES_TIMEOUT_MS 2000
#define GW_TICK_MS 200

static const char *gw_upstream_names[GW_NUPSTREAMS] = { "authd", "chatd", "voiced" };

bool
gw_upstream_up(const struct gw_upstream *u)
{
	return u->routes_loaded && ipc_client_connected(u->cli) &&
	    time_mono_ms() - u->last_heartbeat_ms <= u->gw->conf->heartbeat_timeout_ms;
}

/* Reads one announced route into d; NULL or why it is refused. */
static const char *
gw_route_read(const cJSON *o, struct route_decl *d)
{
	const char *auth = json_str(o, "auth");
	double limit = json_num(o, "body_limit", -1);
	int level;

	d->method = json_str(o, "method");
	d->path = json_str(o, "path");
	d->rate_class = json_str(o, "rate_class");
	if (d->method == NULL || d->path == NULL || auth == NULL ||
	    (level = route_auth_parse(auth)) < 0 || limit < 0)
		return "incomplete declaration";
	d->auth = (enum route_auth)level;
	d->body_limit = (size_t)limit;
	return route_decl_check(d);
}

static void
gw_upstream_load_routes(struct gw_upstream *u, const cJSON *body)
{
	const cJSON *routes = cJSON_GetObjectItemCaseSensitive(body, "routes"), *o;
	const char *instance = json_str(body, "instance");
	struct route_decl d;
	const char *why;
	int n = 0;

	if (!cJSON_IsArray(routes) || instance == NULL || !uuid_valid(instance)) {
		log_warnx("%s: unreadable route announcement", u->name);
		return;
	}
	gw_router_remove_owner(&u->gw->router, u);
	cJSON_ArrayForEach(o, routes) {
		if ((why = gw_route_read(o, &d)) != NULL)
			log_warnx("%s: route refused: %s", u->name, why);
		else if (d.auth == ROUTE_INTERNAL)
			continue;	/* called by gatewayd itself, never routed */
		else if (gw_router_add(&u->gw->router, &d, u) < 0)
			log_warnx("%s: %s %s is owned by another daemon", u->name,
			    d.method, d.path);
		else
			n++;
	}
	memcpy(u->instance, instance, sizeof(u->instance));
	u->routes_loaded = true;
	u->nroutes = n;
	u->last_heartbeat_ms = time_mono_ms();
	log_info("%s: %d route(s) from instance %s", u->name, n, u->instance);
}

static void
gw_upstream_routes_cb(enum ipc_call_result res, int type, cJSON *body, void *arg)
{
	struct gw_upstream *u = arg;

	u->fetching = false;
	if (res != IPC_CALL_OK || type != IPC_ROUTES) {
		log_debug("%s: no route table yet", u->name);
		return;
	}
	gw_upstream_load_routes(u, body);
}

static void
gw_upstream_fetch_routes(struct gw_upstream *u)
{
	if (u->fetching || u->gw->draining)
		return;
	u->fetching = ipc_call_start(u->cli, IPC_ROUTES_GET, "{}", 2, GW_ROUTES_TIMEOUT_MS, gw_upstream_routes_cb, u) != NULL;
}

static void
gw_upstream_event(const char *topic, cJSON *body, void *arg)
{
	struct gw_upstream *u = arg;
	const char *instance = json_str(body, "instance");

	if (strncmp(topic, "session.", 8) == 0) {
		gw_revoked_event(body);
		if (json_str(body, "session_id") != NULL)
			gw_ws_revoke(u->gw, json_str(body, "session_id"));
		return;
	}
	if (strncmp(topic, "room.", 5) == 0) {
		gw_hub_event(topic, body);
		return;
	}
	if (strncmp(topic, "dm.", 3) == 0) {
		gw_hub_dm_event(u->gw, topic, body);
		return;
	}
	if (strncmp(topic, "user.", 5) == 0) {
		gw_voice_user_event(topic, body);
		return;
	}
	if (strncmp(topic, "heartbeat.", 10) != 0)
		return;
	if (instance == NULL || !uuid_valid(instance)) {
		log_warnx("%s: heartbeat without an instance", u->name);
		return;
	}
	u->last_heartbeat_ms = time_mono_ms();
	memcpy(u->seen_instance, instance, sizeof(u->seen_instance));
	if (strcmp(u->instance, instance) != 0)
		gw_upstream_fetch_routes(u);
}

/* Until a daemon's table is in, and whenever a new instance was seen, ask. */
static void
gw_upstream_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	(void)fd, (void)what;

	gw_revoked_purge();
	gw_presence_tick(gw);
	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		struct gw_upstream *u = &gw->up[i];
		unsigned connects = ipc_sub_connects(u->sub);

		/* chatd's reads go through its REQ socket: resync once it is up. */
		if (connects != u->sub_connects && (i != GW_CHATD || gw_upstream_up(u))) {
			u->sub_connects = connects;
			if (i == GW_CHATD)
				gw_hub_resync();
		}
		if (!u->routes_loaded || (*u->seen_instance != '\0' &&
		    strcmp(u->seen_instance, u->instance) != 0))
			gw_upstream_fetch_routes(u);
	}
}

void
gw_upstreams_start(struct gw *gw)
{
	struct timeval tv = { 0, GW_TICK_MS * 1000 };

	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		struct gw_upstream *u = &gw->up[i];
		u->gw = gw;
		u->name = gw_upstream_names[i];
		u->cli = ipc_client_open(gw->base, gw->conf->up_url[i]);
		u->sub = ipc_sub_open(gw->base, gw->conf->up_events[i], gw_upstream_event, u);
		if (ipc_sub_subscribe(u->sub, "heartbeat.") < 0 ||
		    (i == GW_AUTHD && ipc_sub_subscribe(u->sub, "session.") < 0) ||
		    (i == GW_CHATD && (ipc_sub_subscribe(u->sub, "room.") < 0 ||
		    ipc_sub_subscribe(u->sub, "dm.") < 0)) ||
		    (i == GW_VOICED && (ipc_sub_subscribe(u->sub, "room.") < 0 ||
		    ipc_sub_subscribe(u->sub, "user.") < 0)))
			fatalx("%s: cannot subscribe to its events", u->name);
		gw_upstream_fetch_routes(u);
	}
	gw->tick = event_new(gw->base, -1, EV_PERSIST, gw_upstream_tick_cb, gw);
	event_add(gw->tick, &tv);
}

void
gw_upstreams_stop(struct gw *gw)
{
	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		ipc_sub_close(gw->up[i].sub);
		ipc_client_close(gw->up[i].cli);
		gw->up[i].sub = NULL;
		gw->up[i].cli = NULL;
	}
	if (gw->tick != NULL)
		event_free(gw->tick);
	gw->tick = NULL;
}
