#include "router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int
gw_route_kind(const char *path)
{
	size_t len = strlen(path);

	if (strchr(path, '{') != NULL)
		return GW_ROUTE_PATTERN;
	if (len > 1 && path[len - 1] == '/')
		return GW_ROUTE_SUBTREE;
	return GW_ROUTE_EXACT;
}

void
gw_router_init(struct gw_router *r)
{
	memset(r, 0, sizeof(*r));
}

static void
gw_route_clear(struct gw_route *rt)
{
	free(rt->path);
	free(rt->rate_class);
}

void
gw_router_free(struct gw_router *r)
{
	for (size_t i = 0; i < r->n; i++)
		gw_route_clear(&r->routes[i]);
	free(r->routes);
	gw_router_init(r);
}

int
gw_router_add(struct gw_router *r, const struct route_decl *d, void *owner)
{
	struct gw_route *rt;

	if (strlen(d->method) >= sizeof(rt->method))
		return -1;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->routes[i].path, d->path) == 0 &&
		    strcmp(r->routes[i].method, d->method) == 0)
			return r->routes[i].owner == owner ? 0 : -1;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct gw_route *nr = realloc(r->routes, cap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		r->routes = nr, r->cap = cap;
	}
	rt = &r->routes[r->n];
	memset(rt, 0, sizeof(*rt));
	rt->path = strdup(d->path);
	rt->rate_class = strdup(d->rate_class ? d->rate_class : "default");
	if (rt->path == NULL || rt->rate_class == NULL) {
		gw_route_clear(rt);
		return -1;
	}
	strcpy(rt->method, d->method);
	rt->auth = d->auth, rt->body_limit = d->body_limit, rt->owner = owner;
	rt->kind = gw_route_kind(d->path);
	r->n++;
	return 0;
}

void
gw_router_remove_owner(struct gw_router *r, void *owner)
{
	size_t j = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->routes[i].owner == owner)
			gw_route_clear(&r->routes[i]);
		else
			r->routes[j++] = r->routes[i];
	}
	r->n = j;
}

/* Segment-wise match of a "{name}" pattern: each {..} takes one non-empty
 * segment, everything else must be equal. */
static bool
gw_pattern_match(const char *pat, const char *path)
{
	while (*pat != '\0' && *path != '\0') {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			if (close == NULL || *path == '/')
				return false;
			while (*path != '\0' && *path != '/')
				path++;
			pat = close + 1;
			continue;
		}
		if (*pat++ != *path++)
			return false;
	}
	return *pat == '\0' && *path == '\0';
}

/* How well rt's path matches path: 0 = not at all; higher is better. */
static size_t
gw_path_score(const struct gw_route *rt, const char *path)
{
	size_t len = strlen(rt->path);

	switch (rt->kind) {
	case GW_ROUTE_EXACT:
		return strcmp(rt->path, path) == 0 ? (size_t)-1 : 0;
	case GW_ROUTE_PATTERN:
		return gw_pattern_match(rt->path, path) ? (size_t)-2 : 0;
	default:
		if (strncmp(rt->path, path, len) == 0 ||
		    (strncmp(rt->path, path, len - 1) == 0 && path[len - 1] == '\0'))
			return len;
		return 0;
	}
}

static void
gw_allow_add(char *allow, size_t allowlen, const char *method)
{
	if (allow == NULL || strstr(allow, method) != NULL)
		return;
	if (*allow != '\0')
		strncat(allow, ", ", allowlen - strlen(allow) - 1);
	strncat(allow, method, allowlen - strlen(allow) - 1);
}

enum gw_match
gw_router_match(const struct gw_router *r, const char *method,
    const char *path, const struct gw_route **out, char *allow, size_t allowlen)
{
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	size_t best = 0, best_any = 0;
	const struct gw_route *found = NULL;

	if (allow != NULL && allowlen > 0)
		*allow = '\0';
	for (size_t i = 0; i < r->n; i++) {
		size_t s = gw_path_score(&r->routes[i], path);
		if (s > best_any)
			best_any = s;
		if (s > best && strcmp(r->routes[i].method, want) == 0) {
			best = s;
			found = &r->routes[i];
		}
	}
	if (found != NULL && best == best_any) {
		*out = found;
		return GW_MATCH_FOUND;
	}
	if (best_any == 0)
		return GW_MATCH_NONE;
	for (size_t i = 0; i < r->n; i++) {
		if (gw_path_score(&r->routes[i], path) != best_any)
			continue;
		if (strcmp(r->routes[i].method, "GET") == 0)
			gw_allow_add(allow, allowlen, "GET, HEAD");
		else
			gw_allow_add(allow, allowlen, r->routes[i].method);
	}
	gw_allow_add(allow, allowlen, "OPTIONS");
	return GW_MATCH_METHOD;
}
