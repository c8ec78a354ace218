#include "route.h"

#include <string.h>

static const char *route_auth_names[] = { "public", "user", "admin", "internal" };

const char *
route_auth_name(enum route_auth auth)
{
	return (unsigned)auth < ROUTE_NAUTH ? route_auth_names[auth] : "?";
}

int
route_auth_parse(const char *name)
{
	for (int i = 0; i < ROUTE_NAUTH; i++)
		if (strcmp(route_auth_names[i], name) == 0)
			return i;
	return -1;
}

int
route_decls_to_json(const struct route_decl *decls, size_t n, cJSON *arr)
{
	for (size_t i = 0; i < n; i++) {
		const struct route_decl *d = &decls[i];
		cJSON *o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			return -1;
		if (!cJSON_AddStringToObject(o, "method", d->method) ||
		    !cJSON_AddStringToObject(o, "path", d->path) ||
		    !cJSON_AddStringToObject(o, "auth", route_auth_name(d->auth)) ||
		    !cJSON_AddNumberToObject(o, "body_limit", (double)d->body_limit) ||
		    !cJSON_AddStringToObject(o, "rate_class",
		    d->rate_class ? d->rate_class : "default"))
			return -1;
	}
	return 0;
}

const char *
route_decl_check(const struct route_decl *d)
{
	static const char *methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH",
		"DELETE", NULL };
	size_t len = strlen(d->path);
	int known = 0;

	for (int i = 0; methods[i] != NULL; i++)
		known |= strcmp(methods[i], d->method) == 0;
	if (!known)
		return "unsupported method";
	if (d->path[0] != '/' || len >= ROUTE_MAX_PATH)
		return "path must be absolute and shorter than 256 bytes";
	if (strstr(d->path, "..") != NULL || strstr(d->path, "//") != NULL ||
	    strchr(d->path, '?') != NULL)
		return "path must be clean";
	if ((d->auth == ROUTE_INTERNAL) != (strncmp(d->path, "/internal/", 10) == 0))
		return "internal routes, and only they, live under /internal/";
	if (d->body_limit > ROUTE_MAX_BODY)
		return "body limit too large";
	if (d->rate_class != NULL && (strlen(d->rate_class) == 0 ||
	    strlen(d->rate_class) > 32 || strspn(d->rate_class,
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(d->rate_class)))
		return "rate class must be 1-32 of [a-z0-9_-]";
	return NULL;
}
