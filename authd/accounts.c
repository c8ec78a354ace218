/* Accounts: register, login (username or email), refresh with rotation,
 * me, logout. Every step that waits (the database, a hash) continues in a
 * callback with the request's context. */
#include "authd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uuid.h"
#include "validate.h"

#define AUTH_IDENT_MAX 254
#define AUTH_PASSWORD_MAX_CHARS 1024

const struct pg_stmt auth_accounts_stmts[] = {
	{ "user_by_login", "SELECT " AUTH_USER_COLS " FROM auth.users"
	  " WHERE lower(username) = lower($1) OR lower(email) = lower($1) LIMIT 1", 1 },
	{ "user_by_id", "SELECT " AUTH_USER_COLS " FROM auth.users WHERE id = $1", 1 },
	{ "register", "SELECT " AUTH_USER_COLS " FROM auth.register($1, $2, $3, $4, $5)", 5 },
	{ "refresh", "SELECT outcome, o_session, o_user FROM auth.refresh($1, $2, $3)", 3 },
	{ "login_attempt", "SELECT auth.login_attempt($1, $2, $3, $4)", 4 },
	{ "login_ok", "DELETE FROM auth.login_attempts WHERE identifier = auth.login_key($1)", 1 },
	{ "session_revoke", "UPDATE auth.sessions SET revoked_at = now()"
	  " WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id", 2 },
	{ NULL, NULL, 0 },
};

/* One account request in progress; freed when it is answered. */
struct auth_ctx {
	struct svc_op op;		/* first */
	const char *ident, *password;	/* point into the body */
	const char *username, *email;
	char id[UUID_STRLEN + 1];
	char refresh[64], hash[65];
	PGresult *user;			/* a copy, when one is needed */
};

static void
auth_ctx_release(struct svc_op *op)
{
	struct auth_ctx *c = (struct auth_ctx *)op;

	if (c->password != NULL)
		sodium_memzero((char *)c->password, strlen(c->password));
	sodium_memzero(c->refresh, sizeof(c->refresh));
	if (c->user != NULL)
		PQclear(c->user);
	free(c);
}

static struct auth_ctx *
auth_ctx_new(struct svc_request *r, cJSON *body)
{
	return svc_op_new(r, body, sizeof(struct auth_ctx), auth_ctx_release);
}

/* ------------------------------------------------------------ register */

static bool
auth_username_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && n <= 32 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* A plain address: one '@', a local part of 1..64 bytes, a dotted domain,
 * no spaces or angle brackets (no "Name <a@b>" forms). */
static bool
auth_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);

	if (at == NULL || strchr(at + 1, '@') != NULL || at == s || at - s > 64 ||
	    len > AUTH_IDENT_MAX || strpbrk(s, " \t<>()[],;:\\\"") != NULL)
		return false;
	at++;
	return strchr(at, '.') != NULL && at[0] != '.' && s[len - 1] != '.' &&
	    strstr(at, "..") == NULL;
}

static void
auth_register_done(PGresult *res, void *arg)
{
	struct auth_ctx *c = arg;

	if (res != NULL && strcmp(pg_sqlstate(res), PG_UNIQUE_VIOLATION) == 0) {
		bool name = strcmp(pg_constraint(res), "users_username_key") == 0;
		svc_op_fail(&c->op, 409, "conflict", name ? "Username already taken" :
		    "Email already registered");
		return;
	}
	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	log_req(LOG_LVL_INFO, c->op.r->request_id, "registered user %s", c->id);
	auth_issue_session(c->op.r, res);
	svc_op_free(&c->op);
}

static void
auth_register_hashed(const char *hash, void *arg)
{
	struct auth_ctx *c = arg;
	const char *params[5] = { c->id, c->username, c->email, hash,
		authd.conf->first_user_is_admin ? "t" : "f" };

	if (hash == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Could not hash the password");
		return;
	}
	uuid_v4(c->id);
	params[0] = c->id;
	svc_op_query(&c->op, "register", params, auth_register_done);
}

/* POST /api/auth/register {username, email, password} */
static void
auth_register(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *username, *email, *password, *why;
	struct auth_ctx *c;

	if (body == NULL)
		return;
	if ((why = valid_member_text(body, "username", true, 1, 64, &username)) != NULL ||
	    (why = valid_member_text(body, "email", true, 1, AUTH_IDENT_MAX, &email)) != NULL ||
	    (why = valid_member_text(body, "password", true, 1, AUTH_PASSWORD_MAX_CHARS,
	    &password)) != NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	if (!auth_username_ok(username))
		why = "Username must be 3-32 characters and contain only letters, "
		    "numbers, hyphens, and underscores";
	else if (!auth_email_ok(email))
		why = "Invalid email address";
	else
		why = auth_password_policy(password);
	if (why != NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	if ((c = auth_ctx_new(r, body)) == NULL)
		return;
	c->username = username, c->email = email, c->password = password;
	if (auth_password_hash(password, auth_register_hashed, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many sign-ins at once; try again");
}

/* ------------------------------------------------------------ login */

static void
auth_login_verified(bool ok, void *arg)
{
	struct auth_ctx *c = arg;
	const char *params[1] = { c->ident };

	if (!ok) {		/* the attempt was counted before the check */
		svc_op_fail(&c->op, 401, "invalid_credentials", "Invalid credentials");
		return;
	}
	/* With 2FA the attempt stays counted until the second step succeeds:
	 * knowing the password alone buys no endless code guessing. */
	if (PQgetvalue(c->user, 0, AU_2FA)[0] == 't') {
		auth_twofa_challenge(c->op.r, c->user);
	} else {
		pg_exec(svc_pg(authd.svc), "login_ok", params, NULL, NULL);
		auth_issue_session(c->op.r, c->user);
	}
	svc_op_free(&c->op);
}

static void
auth_login_found(PGresult *res, void *arg)
{
	struct auth_ctx *c = arg;
	const char *hash = NULL;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) == 1) {
		c->user = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		if (c->user != NULL && !PQgetisnull(res, 0, AU_HASH))
			hash = PQgetvalue(c->user, 0, AU_HASH);
	}
	/* An unknown name costs the same hash as a wrong password. */
	if (auth_password_verify(c->password, hash, auth_login_verified, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many sign-ins at once; try again");
}

static void
auth_login_counted(PGresult *res, void *arg)
{
	struct auth_ctx *c = arg;
	const char *params[1] = { c->ident };

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		svc_op_fail(&c->op, 429, "too_many_attempts",
		    "Too many failed login attempts; try again later");
		return;
	}
	svc_op_query(&c->op, "user_by_login", params, auth_login_found);
}

/* POST /api/auth/login {username (or email), password} */
static void
auth_login(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *ident, *password, *why;
	const char *params[4];
	char max[16], window[16], lock[16];
	struct auth_ctx *c;

	if (body == NULL)
		return;
	why = valid_member_text(body, "username", false, 1, AUTH_IDENT_MAX, &ident);
	if (why == NULL && ident == NULL)
		why = valid_member_text(body, "email", false, 1, AUTH_IDENT_MAX, &ident);
	if (why == NULL)
		why = valid_member_text(body, "password", false, 1, AUTH_PASSWORD_MAX_CHARS,
		    &password);
	if (why != NULL || ident == NULL || password == NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 401, "invalid_credentials", "Invalid credentials");
		return;
	}
	if ((c = auth_ctx_new(r, body)) == NULL)
		return;
	c->ident = ident, c->password = password;
	snprintf(max, sizeof(max), "%lld", authd.conf->lockout_failures);
	snprintf(window, sizeof(window), "%lld", authd.conf->lockout_window_s);
	snprintf(lock, sizeof(lock), "%lld", authd.conf->lockout_s);
	params[0] = ident, params[1] = max, params[2] = window, params[3] = lock;
	svc_op_query(&c->op, "login_attempt", params, auth_login_counted);
}

/* ------------------------------------------------------------ refresh */

static void
auth_refresh_user(PGresult *res, void *arg)
{
	struct auth_ctx *c = arg;
	char *access;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 401, "invalid_refresh_token", "Invalid or expired refresh token");
		return;
	}
	access = auth_access_token(PQgetvalue(res, 0, AU_ID), c->id,
	    PQgetvalue(res, 0, AU_ADMIN)[0] == 't');
	if (access == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Could not sign a token");
		return;
	}
	svc_respond(c->op.r, 200, auth_token_response(access, c->refresh, auth_user_json(res, 0)));
	free(access);
	svc_op_free(&c->op);
}

static void
auth_refresh_spent(PGresult *res, void *arg)
{
	struct auth_ctx *c = arg;
	const char *outcome, *params[1];

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	outcome = PQgetvalue(res, 0, 0);
	if (strcmp(outcome, "reused") == 0) {
		log_req(LOG_LVL_WARN, c->op.r->request_id, "a spent refresh token was "
		    "replayed: session %s revoked", PQgetvalue(res, 0, 1));
		auth_publish_revoked(PQgetvalue(res, 0, 1));
		svc_op_fail(&c->op, 401, "refresh_token_reused",
		    "Refresh token reuse detected; the session has been revoked");
		return;
	}
	if (strcmp(outcome, "ok") != 0) {
		svc_op_fail(&c->op, 401, "invalid_refresh_token", "Invalid or expired refresh token");
		return;
	}
	snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(res, 0, 1));
	params[0] = PQgetvalue(res, 0, 2);
	svc_op_query(&c->op, "user_by_id", params, auth_refresh_user);
}

/* POST /api/auth/refresh {refresh_token}: single use, rotated. */
static void
auth_refresh(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *token, *params[3];
	char hash[65], ttl[24];
	struct auth_ctx *c;

	if (body == NULL)
		return;
	if (valid_member_text(body, "refresh_token", true, 1, 128, &token) != NULL ||
	    auth_token_hash(token, hash) < 0) {
		cJSON_Delete(body);
		svc_respond_error(r, 401, "invalid_refresh_token", "Invalid or expired refresh token");
		return;
	}
	if ((c = auth_ctx_new(r, body)) == NULL)
		return;
	auth_token_new(c->refresh, c->hash);
	snprintf(ttl, sizeof(ttl), "%lld", authd.conf->refresh_ttl_s);
	params[0] = hash, params[1] = c->hash, params[2] = ttl;
	svc_op_query(&c->op, "refresh", params, auth_refresh_spent);
}

/* ------------------------------------------------------------ me, logout */

/* GET /api/auth/me */
static void
auth_me(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "user_by_id", params, auth_respond_user, r);
}

static void
auth_logout_done(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) == 1)
		auth_publish_revoked(r->session_id);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddBoolToObject(o, "success", true);
	svc_respond(r, 200, o);
}

/* POST /api/auth/logout: ends this session, its refresh token included. */
static void
auth_logout(struct svc_request *r)
{
	const char *params[2] = { r->session_id, r->user_id };

	svc_query(r, "session_revoke", params, auth_logout_done, r);
}

static const struct svc_route auth_accounts_table[] = {
	{ { "POST", "/api/auth/register", ROUTE_PUBLIC, 4096, "auth" }, auth_register },
	{ { "POST", "/api/auth/login", ROUTE_PUBLIC, 4096, "auth" }, auth_login },
	{ { "POST", "/api/auth/refresh", ROUTE_PUBLIC, 1024, "auth" }, auth_refresh },
	{ { "GET", "/api/auth/me", ROUTE_USER, 0, "default" }, auth_me },
	{ { "POST", "/api/auth/logout", ROUTE_USER, 1024, "default" }, auth_logout },
};

const struct svc_routes auth_accounts_routes = {
	auth_accounts_table, sizeof(auth_accounts_table) / sizeof(auth_accounts_table[0])
};
