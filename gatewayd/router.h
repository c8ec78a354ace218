/* gatewayd's router, built from the routes the daemons announce. A path is
 * exact, a subtree (ends in '/'), or has "{name}" segments. Precedence:
 * exact, then pattern, then the longest subtree. HEAD uses GET's route. */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include <stddef.h>

#include "route.h"

struct gw_route {
	char *path;
	char method[8];
	enum route_auth auth;
	size_t body_limit;
	char *rate_class;
	void *owner;		/* the upstream that announced it */
	int kind;		/* GW_ROUTE_EXACT, _PATTERN or _SUBTREE */
};

enum { GW_ROUTE_EXACT, GW_ROUTE_PATTERN, GW_ROUTE_SUBTREE };

enum gw_match {
	GW_MATCH_NONE,		/* no route has this path */
	GW_MATCH_FOUND,
	GW_MATCH_METHOD,	/* the path exists with other methods */
};

struct gw_router {
	struct gw_route *routes;
	size_t n, cap;
};

void gw_router_init(struct gw_router *r);
void gw_router_free(struct gw_router *r);
/* Adds d for owner. Returns 0, or -1 when the method and path are already
 * owned by another owner (the first announcement keeps them) or on OOM. */
int gw_router_add(struct gw_router *r, const struct route_decl *d, void *owner);
/* Forgets every route of owner (before its new announcement). */
void gw_router_remove_owner(struct gw_router *r, void *owner);
/* Looks path up for method. On GW_MATCH_METHOD, allow (if not NULL) gets
 * the path's methods, comma separated, e.g. "GET, HEAD, POST, OPTIONS". */
enum gw_match gw_router_match(const struct gw_router *r, const char *method,
    const char *path, const struct gw_route **out, char *allow, size_t allowlen);

#endif
