/* Users: search by name, one's own profile and its update, and another
 * user's public profile (never their email). */
#include "authd.h"

#include <stdio.h>
#include <string.h>

#include "url.h"
#include "uuid.h"
#include "validate.h"

#define AUTH_SEARCH_MAX 64

const struct pg_stmt auth_users_stmts[] = {
	{ "users_search", "SELECT id, username, display_name, avatar_url FROM auth.users"
	  " WHERE lower(username) LIKE $1 ESCAPE '\\'"
	  " ORDER BY length(username), lower(username) LIMIT 10", 1 },
	{ "user_update", "UPDATE auth.users SET display_name = coalesce($2, display_name),"
	  " avatar_url = coalesce($3, avatar_url), updated_at = now()"
	  " WHERE id = $1 RETURNING " AUTH_USER_COLS, 3 },
	{ "user_public", "SELECT id, username, display_name, avatar_url,"
	  " auth.rfc3339(created_at) FROM auth.users WHERE id = $1", 1 },
	{ NULL, NULL, 0 },
};

/* {id, username, display_name, avatar_url[, created_at]} of row i. */
static cJSON *
auth_public_json(const PGresult *res, int i)
{
	cJSON *u = cJSON_CreateObject();

	if (u == NULL)
		return NULL;
	cJSON_AddStringToObject(u, "id", PQgetvalue(res, i, 0));
	cJSON_AddStringToObject(u, "username", PQgetvalue(res, i, 1));
	cJSON_AddStringToObject(u, "display_name", PQgetvalue(res, i, 2));
	cJSON_AddStringToObject(u, "avatar_url", PQgetvalue(res, i, 3));
	if (PQnfields(res) > 4)
		cJSON_AddStringToObject(u, "created_at", PQgetvalue(res, i, 4));
	return u;
}

static void
auth_users_found(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *list;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	list = cJSON_CreateArray();
	for (int i = 0; list != NULL && i < PQntuples(res); i++)
		cJSON_AddItemToArray(list, auth_public_json(res, i));
	svc_respond(r, 200, list);
}

/* "%q%" for LIKE, lower-cased, with LIKE's own characters escaped. */
static void
auth_like_pattern(const char *q, char *out, size_t outlen)
{
	size_t n = 0;

	out[n++] = '%';
	for (; *q != '\0' && n + 3 < outlen; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			out[n++] = '\\';
		out[n++] = (*q >= 'A' && *q <= 'Z') ? (char)(*q - 'A' + 'a') : *q;
	}
	out[n++] = '%';
	out[n] = '\0';
}

/* GET /api/users/search?username=<part of a name> */
static void
auth_users_search(struct svc_request *r)
{
	char q[AUTH_SEARCH_MAX * 4 + 1], pattern[sizeof(q) * 2 + 3];
	const char *params[1] = { pattern };
	int n = url_query_param(r->query, "username", q, sizeof(q));

	if (n == 0)
		n = url_query_param(r->query, "q", q, sizeof(q));
	if (n == 0) {
		svc_respond_error(r, 400, "invalid_request", "Query parameter required");
		return;
	}
	if (n < 0 || valid_text(q, 1, AUTH_SEARCH_MAX, false) != NULL) {
		svc_respond_error(r, 400, "invalid_request",
		    "The query must be 1-64 characters of text");
		return;
	}
	auth_like_pattern(q, pattern, sizeof(pattern));
	svc_query(r, "users_search", params, auth_users_found, r);
}

/* An avatar is an http(s) URL or a path on this server: nothing that a
 * browser would run. */
static bool
auth_avatar_ok(const char *url)
{
	return *url == '\0' || strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0 || (url[0] == '/' && url[1] != '/');
}

/* PUT (or POST) /api/user/update {display_name?, avatar_url?}: absent or
 * empty fields stay as they are. */
static void
auth_user_update(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *name, *avatar, *why, *params[3];

	if (body == NULL)
		return;
	why = valid_member_text(body, "display_name", false, 0, 64, &name);
	if (why == NULL)
		why = valid_member_text(body, "avatar_url", false, 0, 512, &avatar);
	if (why == NULL && avatar != NULL && !auth_avatar_ok(avatar))
		why = "avatar_url must be an http(s) URL or a path";
	if (why != NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	params[0] = r->user_id;
	params[1] = name && *name ? name : NULL;
	params[2] = avatar && *avatar ? avatar : NULL;
	svc_query(r, "user_update", params, auth_respond_user, r);
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* GET /api/user/profile: one's own account. */
static void
auth_user_profile(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "user_by_id", params, auth_respond_user, r);
}

static void
auth_public_found(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (svc_result_one(r, res, "User not found"))
		svc_respond(r, 200, auth_public_json(res, 0));
}

/* GET /api/users/{id}: another user's public profile. */
static void
auth_user_public(struct svc_request *r)
{
	const char *id = strrchr(r->path, '/') + 1;
	const char *params[1] = { id };

	if (!uuid_valid(id)) {
		svc_respond_error(r, 400, "invalid_request", "Invalid user ID");
		return;
	}
	svc_query(r, "user_public", params, auth_public_found, r);
}

static const struct svc_route auth_users_table[] = {
	{ { "GET", "/api/users/search", ROUTE_USER, 0, "default" }, auth_users_search },
	{ { "PUT", "/api/user/update", ROUTE_USER, 4096, "default" }, auth_user_update },
	{ { "POST", "/api/user/update", ROUTE_USER, 4096, "default" }, auth_user_update },
	{ { "GET", "/api/user/profile", ROUTE_USER, 0, "default" }, auth_user_profile },
	{ { "GET", "/api/users/{id}", ROUTE_USER, 0, "default" }, auth_user_public },
};

const struct svc_routes auth_users_routes = {
	auth_users_table, sizeof(auth_users_table) / sizeof(auth_users_table[0])
};
