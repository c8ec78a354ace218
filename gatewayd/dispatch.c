/* Where a complete request goes: CORS preflight, the operational endpoints,
 * a daemon's route (after its rate limit and auth), or the static web
 * client. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

#define GW_UNROUTED_BODY_MAX (64 * 1024)

static bool
gw_is_api_path(const char *path)
{
	return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

void
gw_dispatch_prepare(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	const struct gw_route *route;

	r->body_limit = 0;
	if (r->conn->redirect) {	/* answered without reading it */
		r->body_limit = GW_UNROUTED_BODY_MAX;
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0)
		return;
	/* The route is looked up again at dispatch: the table may change
	 * while the body arrives. A request no route takes may still carry a
	 * small body, so that it gets its real answer (404, 405, 503). */
	if (gw_router_match(&gw->router, r->method, r->path, &route, NULL, 0) ==
	    GW_MATCH_FOUND)
		r->body_limit = route->body_limit;
	else
		r->body_limit = GW_UNROUTED_BODY_MAX;
}

static void
gw_dispatch_route(struct gw_request *r)
{
	const struct gw_upstream *up = r->route->owner;
	char msg[128];

	/* A check that waits for Redis dispatches r again when it is done. */
	if (!r->rate_checked) {
		r->rate_checked = true;
		if (!gw_ratelimit(r, gw_dispatch))
			return;
	}
	if (gw_auth_check(r, r->route->auth) < 0)
		return;
	if (!gw_upstream_up(up)) {
		snprintf(msg, sizeof(msg), "%s is not available", up->name);
		gw_respond_error(r, 503, "service_unavailable", msg);
		return;
	}
	gw_forward(r);
}

/* An API path no route matches. While a daemon has never announced its
 * routes, the path may be one of its own: that is 503, not 404. */
static void
gw_respond_unrouted(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;
	char msg[128];

	for (int i = 0; i < GW_NUPSTREAMS; i++) {
		if (!gw->up[i].routes_loaded) {
			snprintf(msg, sizeof(msg), "%s is not available", gw->up[i].name);
			gw_respond_error(r, 503, "service_unavailable", msg);
			return;
		}
	}
	gw_respond_error(r, 404, "not_found", "No such route");
}

void
gw_dispatch(struct gw_request *r)
{
	struct gw *gw = r->conn->gw;

	gw_client_resolve(r);
	if (r->conn->redirect) {
		gw_tls_redirect(r);
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		gw_respond_preflight(r);
		return;
	}
	/* The route's pattern labels its metrics: never the raw path. */
	if (strcmp(r->path, "/api/ws") == 0 || strcmp(r->path, "/api/voice/ws") == 0 ||
	    strcmp(r->path, "/api/dm/ws") == 0 || strcmp(r->path, "/health") == 0 ||
	    strcmp(r->path, "/status") == 0 || strcmp(r->path, "/info") == 0)
		snprintf(r->route_label, sizeof(r->route_label), "%s", r->path);
	if (strcmp(r->path, "/api/ws") == 0) {
		gw_ws_upgrade(r);
		return;
	}
	if (strcmp(r->path, "/api/voice/ws") == 0) {
		gw_compat_upgrade(r);
		return;
	}
	if (strcmp(r->path, "/api/dm/ws") == 0) {
		gw_compat_dm_upgrade(r);
		return;
	}
	if (gw_ops_handle(r))
		return;
	switch (gw_router_match(&gw->router, r->method, r->path, &r->route,
	    r->allow, sizeof(r->allow))) {
	case GW_MATCH_FOUND:
		snprintf(r->route_label, sizeof(r->route_label), "%s", r->route->path);
		gw_dispatch_route(r);
		return;
	case GW_MATCH_METHOD:
		gw_respond_405(r, r->allow);
		return;
	case GW_MATCH_NONE:
		break;
	}
	if (gw_is_api_path(r->path))
		gw_respond_unrouted(r);
	else if (strcmp(r->method, "GET") == 0 || r->head) {
		snprintf(r->route_label, sizeof(r->route_label), "static");
		gw_static_serve(r);
	}
	else
		gw_respond_405(r, "GET, HEAD, OPTIONS");
}
