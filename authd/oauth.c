/* External sign-in discovery. This version has no OAuth or OIDC provider
 * support, so it says so truthfully: no provider is enabled, and a login
 * through one answers 404, as the Enclavr server does for a provider that
 * is not configured. The Enclavr web client asks for these on its login
 * page and works with that answer. */
#include "authd.h"

#include <string.h>

#include "url.h"

static const char *const auth_oauth_providers[] = { "google", "github", "discord", NULL };

/* GET /api/auth/oauth/providers */
static void
auth_oauth_list(struct svc_request *r)
{
	cJSON *o = cJSON_CreateObject();

	for (int i = 0; o != NULL && auth_oauth_providers[i] != NULL; i++)
		cJSON_AddBoolToObject(o, auth_oauth_providers[i], false);
	svc_respond(r, 200, o);
}

/* GET /api/auth/oauth/login?provider= */
static void
auth_oauth_login(struct svc_request *r)
{
	char provider[16];
	int known = 0;

	if (url_query_param(r->query, "provider", provider, sizeof(provider)) > 0)
		for (int i = 0; auth_oauth_providers[i] != NULL; i++)
			known |= strcmp(provider, auth_oauth_providers[i]) == 0;
	if (!known) {
		svc_respond_error(r, 400, "invalid_request", "Invalid provider");
		return;
	}
	svc_respond_error(r, 404, "not_configured", "This sign-in provider is not configured");
}

/* GET /api/auth/oidc/config */
static void
auth_oidc_config(struct svc_request *r)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL)
		cJSON_AddBoolToObject(o, "enabled", false);
	svc_respond(r, 200, o);
}

static const struct svc_route auth_oauth_table[] = {
	{ { "GET", "/api/auth/oauth/providers", ROUTE_PUBLIC, 0, "default" }, auth_oauth_list },
	{ { "GET", "/api/auth/oauth/login", ROUTE_PUBLIC, 0, "default" }, auth_oauth_login },
	{ { "GET", "/api/auth/oidc/config", ROUTE_PUBLIC, 0, "default" }, auth_oidc_config },
};

const struct svc_routes auth_oauth_routes = {
	auth_oauth_table, sizeof(auth_oauth_table) / sizeof(auth_oauth_table[0])
};
