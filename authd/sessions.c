/* Sessions of the caller: list, revoke one, revoke all, rotate, count.
 * Every revocation is announced so that gatewayd refuses the session's
 * access tokens at once. */
#include "authd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "url.h"
#include "uuid.h"

const struct pg_stmt auth_sessions_stmts[] = {
	{ "sessions_list", "SELECT id, auth.rfc3339(created_at), auth.rfc3339(expires_at),"
	  " auth.rfc3339(last_used_at), ip_address, user_agent FROM auth.sessions"
	  " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
	  " ORDER BY created_at DESC LIMIT 50", 1 },
	{ "sessions_count", "SELECT count(*) FROM auth.sessions"
	  " WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()", 1 },
	{ "sessions_revoke_all", "UPDATE auth.sessions SET revoked_at = now()"
	  " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id", 1 },
	{ NULL, NULL, 0 },
};

static void
auth_sessions_listed(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o, *list;
	int n;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	n = PQntuples(res);
	o = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(o, "sessions");
	for (int i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "id", PQgetvalue(res, i, 0));
		cJSON_AddStringToObject(s, "created_at", PQgetvalue(res, i, 1));
		cJSON_AddStringToObject(s, "expires_at", PQgetvalue(res, i, 2));
		cJSON_AddStringToObject(s, "last_used_at", PQgetvalue(res, i, 3));
		cJSON_AddStringToObject(s, "ip_address", PQgetvalue(res, i, 4));
		cJSON_AddStringToObject(s, "user_agent", PQgetvalue(res, i, 5));
		cJSON_AddBoolToObject(s, "current", strcmp(PQgetvalue(res, i, 0), r->session_id) == 0);
		cJSON_AddItemToArray(list, s);
	}
	cJSON_AddNumberToObject(o, "count", n);
	svc_respond(r, 200, o);
}

/* GET /api/auth/sessions: active sessions, newest first. */
static void
auth_sessions_list(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "sessions_list", params, auth_sessions_listed, r);
}

static void
auth_sessions_counted(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddNumberToObject(o, "active_sessions", atoi(PQgetvalue(res, 0, 0)));
	svc_respond(r, 200, o);
}

/* GET /api/auth/sessions/count */
static void
auth_sessions_count(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "sessions_count", params, auth_sessions_counted, r);
}

static void
auth_session_revoked(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (!svc_result_one(r, res, "Session not found"))
		return;
	auth_publish_revoked(PQgetvalue(res, 0, 0));
	svc_respond(r, 200, auth_message("Session revoked successfully"));
}

/* POST /api/auth/sessions/revoke?id=<session>: one of the caller's own. */
static void
auth_session_revoke(struct svc_request *r)
{
	char id[UUID_STRLEN + 2];
	const char *params[2] = { id, r->user_id };
	int n = url_query_param(r->query, "id", id, sizeof(id));

	if (n == 0) {
		svc_respond_error(r, 400, "invalid_request", "Session ID is required");
		return;
	}
	if (n < 0 || !uuid_valid(id)) {
		svc_respond_error(r, 400, "invalid_request", "Invalid session ID");
		return;
	}
	svc_query(r, "session_revoke", params, auth_session_revoked, r);
}

static void
auth_sessions_all_revoked(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	for (int i = 0; i < PQntuples(res); i++)
		auth_publish_revoked(PQgetvalue(res, i, 0));
	svc_respond(r, 200, auth_message("All sessions revoked successfully"));
}

/* POST /api/auth/sessions/revoke-all: this one included. */
static void
auth_sessions_revoke_all(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "sessions_revoke_all", params, auth_sessions_all_revoked, r);
}

static void
auth_control_user_revoked(PGresult *res, void *arg)
{
	struct control_req *req = arg;
	cJSON *o;
	int n;

	if (res == NULL) {
		control_reply_error(req, "database_unavailable", "The database did not answer");
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warnx("control: revoke-user: %s", PQresultErrorMessage(res));
		control_reply_error(req, "internal", "The revocation failed");
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		auth_publish_revoked(PQgetvalue(res, i, 0));
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddNumberToObject(o, "revoked", n);
	control_reply(req, o);
}

/* enclavrctl authd revoke-user <user id>: what the user's own revoke-all
 * does (the same statement, the same session.* events), for an operator. */
static void
auth_control_revoke_user(struct control_req *req, const char *args, void *arg)
{
	const char *params[1] = { args };
	(void)arg;

	if (!uuid_valid(args)) {
		control_reply_error(req, "invalid_argument", "usage: revoke-user <user uuid>");
		return;
	}
	if (pg_exec(svc_pg(authd.svc), "sessions_revoke_all", params,
	    auth_control_user_revoked, req) < 0)
		control_reply_error(req, "busy", "Too many queued queries");
}

const struct control_cmd auth_control_cmds[] = {
	{ "revoke-user", "revoke-user <user uuid>", auth_control_revoke_user },
	{ NULL, NULL, NULL },
};

static void
auth_rotate_user(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (svc_result_one(r, res, "User not found"))
		auth_issue_session(r, res);
}

static void
auth_rotate_revoked(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	const char *params[1] = { r->user_id };

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_respond_error(r, 401, "session_revoked", "This session is no longer valid");
		return;
	}
	auth_publish_revoked(r->session_id);
	svc_query(r, "user_by_id", params, auth_rotate_user, r);
}

/* POST /api/auth/sessions/rotate: this session ends and a new one, with
 * fresh tokens, takes its place. */
static void
auth_sessions_rotate(struct svc_request *r)
{
	const char *params[2] = { r->session_id, r->user_id };

	svc_query(r, "session_revoke", params, auth_rotate_revoked, r);
}

static const struct svc_route auth_sessions_table[] = {
	{ { "GET", "/api/auth/sessions", ROUTE_USER, 0, "default" }, auth_sessions_list },
	{ { "GET", "/api/auth/sessions/count", ROUTE_USER, 0, "default" }, auth_sessions_count },
	{ { "POST", "/api/auth/sessions/revoke", ROUTE_USER, 1024, "default" }, auth_session_revoke },
	{ { "POST", "/api/auth/sessions/revoke-all", ROUTE_USER, 1024, "default" },
	  auth_sessions_revoke_all },
	{ { "POST", "/api/auth/sessions/rotate", ROUTE_USER, 1024, "default" }, auth_sessions_rotate },
};

const struct svc_routes auth_sessions_routes = {
	auth_sessions_table, sizeof(auth_sessions_table) / sizeof(auth_sessions_table[0])
};
