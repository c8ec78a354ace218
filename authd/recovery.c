/* Account recovery: forgotten passwords (a mailed link, one hour, used
 * once), changing a password, and verifying an email address (a mailed
 * link, 24 hours, used once).
 *
 * Links carry 32 random bytes in base64url; the database holds only their
 * hex SHA-256. Every write that consumes a token is one statement, so a
 * token is spent exactly once even under concurrent requests. A new
 * password revokes sessions: all of them after a reset, all but the
 * caller's after a change; gatewayd refuses their access tokens at once. */
#include "authd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "url.h"
#include "uuid.h"
#include "validate.h"

#define AUTH_EMAIL_MAX 254
#define AUTH_PASSWORD_MAX_CHARS 1024
#define AUTH_TOKEN_MAX 128		/* longer is certainly not ours */

#define AUTH_INVALID_TOKEN "Invalid or expired token"

const struct pg_stmt auth_recovery_stmts[] = {
	/* One round trip whether or not the address is known, so that the
	 * answer's timing tells nothing. Older links of the user go, and so
	 * do everyone's expired ones. */
	{ "reset_new", "WITH u AS (SELECT id, email FROM auth.users"
	  " WHERE lower(email) = lower($1)),"
	  " d AS (DELETE FROM auth.password_resets"
	  " WHERE user_id IN (SELECT id FROM u) OR expires_at < now()),"
	  " i AS (INSERT INTO auth.password_resets (token_hash, user_id, expires_at)"
	  " SELECT $2::text, id, now() + interval '1 hour' FROM u)"
	  " SELECT id, email FROM u", 2 },
	{ "reset_check", "SELECT user_id FROM auth.password_resets"
	  " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()", 1 },
	/* Spends the token, sets the password, drops the user's other links
	 * and 2FA challenges, lifts a lockout and revokes every session. One
	 * row per revoked session (its id NULL when there was none); no row
	 * when the token was not valid. */
	{ "reset_apply", "WITH t AS (UPDATE auth.password_resets SET used_at = now()"
	  " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"
	  " RETURNING user_id),"
	  " u AS (UPDATE auth.users SET password_hash = $2, password_changed_at = now(),"
	  " updated_at = now() WHERE id IN (SELECT user_id FROM t)"
	  " RETURNING id, username, email),"
	  " o AS (DELETE FROM auth.password_resets"
	  " WHERE user_id IN (SELECT id FROM u) AND token_hash <> $1),"
	  " c AS (DELETE FROM auth.login_challenges WHERE user_id IN (SELECT id FROM u)),"
	  " l AS (DELETE FROM auth.login_attempts"
	  " WHERE identifier IN (SELECT 'user:' || id FROM u)),"
	  " s AS (UPDATE auth.sessions SET revoked_at = now()"
	  " WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL RETURNING id)"
	  " SELECT u.id, s.id FROM u LEFT JOIN s ON true", 2 },
	/* The same for a change, guarded by the hash the old password was
	 * checked against ($4), and sparing the caller's session ($2). */
	{ "password_change", "WITH u AS (UPDATE auth.users SET password_hash = $3,"
	  " password_changed_at = now(), updated_at = now()"
	  " WHERE id = $1 AND password_hash = $4 RETURNING id),"
	  " r AS (DELETE FROM auth.password_resets WHERE user_id IN (SELECT id FROM u)),"
	  " c AS (DELETE FROM auth.login_challenges WHERE user_id IN (SELECT id FROM u)),"
	  " s AS (UPDATE auth.sessions SET revoked_at = now()"
	  " WHERE user_id IN (SELECT id FROM u) AND id <> $2 AND revoked_at IS NULL"
	  " RETURNING id)"
	  " SELECT u.id, s.id FROM u LEFT JOIN s ON true", 4 },
	/* A new verification link unless the address is verified already;
	 * the user's older links and everyone's expired ones go. */
	{ "verify_new", "WITH u AS (SELECT id, email, email_verified FROM auth.users"
	  " WHERE id = $1),"
	  " d AS (DELETE FROM auth.email_verifications"
	  " WHERE user_id IN (SELECT id FROM u WHERE NOT email_verified)"
	  " OR expires_at < now()),"
	  " i AS (INSERT INTO auth.email_verifications (token_hash, user_id, email,"
	  " expires_at) SELECT $2::text, id, email, now() + interval '24 hours' FROM u"
	  " WHERE NOT email_verified)"
	  " SELECT email, email_verified FROM u", 2 },
	{ "verify_use", "WITH t AS (UPDATE auth.email_verifications SET used_at = now()"
	  " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"
	  " RETURNING user_id, email)"
	  " UPDATE auth.users u SET email_verified = true, updated_at = now() FROM t"
	  " WHERE u.id = t.user_id AND lower(u.email) = lower(t.email) RETURNING u.id", 1 },
	{ NULL, NULL, 0 },
};

/* One recovery request in progress; freed when it is answered. */
struct auth_rec {
	struct svc_op op;		/* first */
	const char *password, *old_password;	/* point into the body */
	char token[64], hash[65];	/* a new token and its hash, or the
					 * hash of the one presented */
	char *old_hash;			/* the hash old_password matched */
};

static void
auth_rec_release(struct svc_op *op)
{
	struct auth_rec *c = (struct auth_rec *)op;

	if (c->password != NULL)
		sodium_memzero((char *)c->password, strlen(c->password));
	if (c->old_password != NULL)
		sodium_memzero((char *)c->old_password, strlen(c->old_password));
	sodium_memzero(c->token, sizeof(c->token));
	free(c->old_hash);
	free(c);
}

static struct auth_rec *
auth_rec_new(struct svc_request *r, cJSON *body)
{
	return svc_op_new(r, body, sizeof(struct auth_rec), auth_rec_release);
}

/* Member name of the body as text of 0..max characters; "" when absent.
 * NULL after answering 400 when it is there but not acceptable text. */
static const char *
auth_rec_member(struct svc_request *r, cJSON *body, const char *name, size_t max)
{
	const char *s, *why = valid_member_text(body, name, false, 0, max, &s);

	if (why != NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 400, "invalid_request", why);
		return NULL;
	}
	return s != NULL ? s : "";
}

/* Revokes (announces) the sessions in column 1 of res, the rows of
 * reset_apply and password_change. Returns how many. */
static int
auth_rec_publish(const PGresult *res)
{
	int n = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 1))
			continue;
		auth_publish_revoked(PQgetvalue(res, i, 1));
		n++;
	}
	return n;
}

/* ------------------------------------------------------------ forgot */

static void
auth_forgot_stored(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;
	char what[96], text[1024], *link;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) == 1) {
		snprintf(what, sizeof(what), "password reset for user %s", PQgetvalue(res, 0, 0));
		if ((link = auth_mail_link("/reset-password", c->token)) == NULL) {
			log_req(LOG_LVL_WARN, c->op.r->request_id, "%s: out of memory", what);
		} else {
			snprintf(text, sizeof(text), "Someone, hopefully you, asked to reset the "
			    "password of your Enclavr account.\n\nTo choose a new password, "
			    "open this link within one hour:\n\n%s\n\nIf you did not ask for "
			    "this, ignore this mail: your password stays as it is.\n", link);
			sodium_memzero(link, strlen(link));
			free(link);
			if (auth_mail_send(PQgetvalue(res, 0, 1), "Reset your Enclavr password",
			    text, what) < 0)
				log_req(LOG_LVL_WARN, c->op.r->request_id, "%s: mail not queued", what);
			sodium_memzero(text, sizeof(text));
		}
	}
	/* The same answer whether or not the address is known. */
	svc_op_done(&c->op, 200, auth_message("If the email exists, a reset link has been sent"));
}

/* POST /api/auth/password/forgot {email} */
static void
auth_forgot(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *email, *params[2];
	struct auth_rec *c;

	if (body == NULL || (email = auth_rec_member(r, body, "email", AUTH_EMAIL_MAX)) == NULL)
		return;
	if (*email == '\0') {
		cJSON_Delete(body);
		svc_respond_error(r, 400, "invalid_request", "Email is required");
		return;
	}
	if ((c = auth_rec_new(r, body)) == NULL)
		return;
	/* A token is made even for an unknown address: the same work. */
	auth_token_new(c->token, c->hash);
	params[0] = email, params[1] = c->hash;
	svc_op_query(&c->op, "reset_new", params, auth_forgot_stored);
}

/* ------------------------------------------------------------ reset */

static void
auth_reset_applied(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;
	int n;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) == 0) {		/* spent meanwhile */
		svc_op_fail(&c->op, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	n = auth_rec_publish(res);
	log_req(LOG_LVL_INFO, c->op.r->request_id, "password of user %s reset by mail; "
	    "%d session(s) revoked", PQgetvalue(res, 0, 0), n);
	svc_op_done(&c->op, 200, auth_message("Password reset successfully"));
}

static void
auth_reset_hashed(const char *hash, void *arg)
{
	struct auth_rec *c = arg;
	const char *params[2] = { c->hash, hash };

	if (hash == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Could not hash the password");
		return;
	}
	svc_op_query(&c->op, "reset_apply", params, auth_reset_applied);
}

static void
auth_reset_checked(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	if (auth_password_hash(c->password, auth_reset_hashed, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many sign-ins at once; try again");
}

/* POST /api/auth/password/reset {token, new_password}: the token is checked
 * before the (costly) hash, and spent with the new hash in one statement. */
static void
auth_reset(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *token, *password, *why, *params[1];
	struct auth_rec *c;

	if (body == NULL ||
	    (token = auth_rec_member(r, body, "token", AUTH_TOKEN_MAX)) == NULL ||
	    (password = auth_rec_member(r, body, "new_password", AUTH_PASSWORD_MAX_CHARS)) == NULL)
		return;
	if (*token == '\0' || *password == '\0')
		why = "Token and new password are required";
	else
		why = auth_password_policy(password);
	if ((c = auth_rec_new(r, body)) == NULL)
		return;
	c->password = password;
	if (why != NULL) {
		svc_op_fail(&c->op, 400, "invalid_request", why);
		return;
	}
	if (auth_token_hash(token, c->hash) < 0) {
		svc_op_fail(&c->op, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	params[0] = c->hash;
	svc_op_query(&c->op, "reset_check", params, auth_reset_checked);
}

/* ------------------------------------------------------------ validate */

static void
auth_validate_checked(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_respond_error(r, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddBoolToObject(o, "valid", true);
	svc_respond(r, 200, o);
}

/* GET /api/auth/password/validate-token?token= (the reset page asks before
 * showing its form). */
static void
auth_validate_token(struct svc_request *r)
{
	char token[AUTH_TOKEN_MAX + 1], hash[65];
	const char *params[1] = { hash };
	int n = url_query_param(r->query, "token", token, sizeof(token));

	if (n == 0) {
		svc_respond_error(r, 400, "invalid_request", "Token is required");
		return;
	}
	if (n < 0 || auth_token_hash(token, hash) < 0) {
		svc_respond_error(r, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	svc_query(r, "reset_check", params, auth_validate_checked, r);
}

/* ------------------------------------------------------------ change */

static void
auth_change_applied(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;
	int n;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) == 0) {
		svc_op_fail(&c->op, 409, "conflict", "The password was changed meanwhile; try again");
		return;
	}
	n = auth_rec_publish(res);
	log_req(LOG_LVL_INFO, c->op.r->request_id, "user %s changed their password; "
	    "%d other session(s) revoked", c->op.r->user_id, n);
	svc_op_done(&c->op, 200, auth_message("Password changed successfully"));
}

static void
auth_change_hashed(const char *hash, void *arg)
{
	struct auth_rec *c = arg;
	const char *params[4] = { c->op.r->user_id, c->op.r->session_id, hash, c->old_hash };

	if (hash == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Could not hash the password");
		return;
	}
	svc_op_query(&c->op, "password_change", params, auth_change_applied);
}

static void
auth_change_verified(bool ok, void *arg)
{
	struct auth_rec *c = arg;

	if (!ok) {
		svc_op_fail(&c->op, 401, "invalid_password", "Current password is incorrect");
		return;
	}
	if (auth_password_hash(c->password, auth_change_hashed, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many sign-ins at once; try again");
}

static void
auth_change_found(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 404, "not_found", "User not found");
		return;
	}
	/* An account without a password (external sign-in) has nothing to
	 * match: the dummy is verified and the answer is 401. */
	if (!PQgetisnull(res, 0, AU_HASH) &&
	    (c->old_hash = strdup(PQgetvalue(res, 0, AU_HASH))) == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Out of memory");
		return;
	}
	if (auth_password_verify(c->old_password, c->old_hash, auth_change_verified, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many sign-ins at once; try again");
}

/* POST /api/auth/password/change {old_password, new_password} */
static void
auth_change(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *old, *password, *why, *params[1] = { r->user_id };
	struct auth_rec *c;

	if (body == NULL ||
	    (old = auth_rec_member(r, body, "old_password", AUTH_PASSWORD_MAX_CHARS)) == NULL ||
	    (password = auth_rec_member(r, body, "new_password", AUTH_PASSWORD_MAX_CHARS)) == NULL)
		return;
	if (*old == '\0' || *password == '\0')
		why = "Old and new passwords are required";
	else
		why = auth_password_policy(password);
	if ((c = auth_rec_new(r, body)) == NULL)
		return;
	c->password = password, c->old_password = old;
	if (why != NULL) {
		svc_op_fail(&c->op, 400, "invalid_request", why);
		return;
	}
	svc_op_query(&c->op, "user_by_id", params, auth_change_found);
}

/* ------------------------------------------------------------ email */

static void
auth_verify_stored(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;
	char what[96], text[1024], *link;
	int rv;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 404, "not_found", "User not found");
		return;
	}
	if (PQgetvalue(res, 0, 1)[0] == 't') {
		svc_op_fail(&c->op, 400, "already_verified", "Email is already verified");
		return;
	}
	if ((link = auth_mail_link("/verify-email", c->token)) == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Out of memory");
		return;
	}
	snprintf(what, sizeof(what), "email verification for user %s", c->op.r->user_id);
	snprintf(text, sizeof(text), "Please confirm that this address belongs to your "
	    "Enclavr account by opening this link within 24 hours:\n\n%s\n\n"
	    "If you did not ask for this, ignore this mail.\n", link);
	sodium_memzero(link, strlen(link));
	free(link);
	rv = auth_mail_send(PQgetvalue(res, 0, 0), "Verify your Enclavr email address",
	    text, what);
	sodium_memzero(text, sizeof(text));
	if (rv < 0) {
		svc_op_fail(&c->op, 503, "busy", "The mail could not be queued; try again");
		return;
	}
	svc_op_done(&c->op, 200, auth_message("Verification email sent"));
}

/* POST /api/auth/email/verify/send: always to the caller's own address;
 * a user_id in the body (the reference's) is ignored. */
static void
auth_verify_send(struct svc_request *r)
{
	struct auth_rec *c = auth_rec_new(r, NULL);
	const char *params[2];

	if (c == NULL)
		return;
	auth_token_new(c->token, c->hash);
	params[0] = r->user_id, params[1] = c->hash;
	svc_op_query(&c->op, "verify_new", params, auth_verify_stored);
}

static void
auth_verify_used(PGresult *res, void *arg)
{
	struct auth_rec *c = arg;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	log_req(LOG_LVL_INFO, c->op.r->request_id, "user %s verified their email",
	    PQgetvalue(res, 0, 0));
	svc_op_done(&c->op, 200, auth_message("Email verified successfully"));
}

/* POST /api/auth/email/verify {token}: public, the link may be opened on
 * any device. */
static void
auth_verify(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *token, *params[1];
	struct auth_rec *c;

	if (body == NULL || (token = auth_rec_member(r, body, "token", AUTH_TOKEN_MAX)) == NULL)
		return;
	if ((c = auth_rec_new(r, body)) == NULL)
		return;
	if (*token == '\0') {
		svc_op_fail(&c->op, 400, "invalid_request", "Token is required");
		return;
	}
	if (auth_token_hash(token, c->hash) < 0) {
		svc_op_fail(&c->op, 400, "invalid_token", AUTH_INVALID_TOKEN);
		return;
	}
	params[0] = c->hash;
	svc_op_query(&c->op, "verify_use", params, auth_verify_used);
}

/* Bodies hold up to two passwords of 1024 characters of up to 4 bytes. */
static const struct svc_route auth_recovery_table[] = {
	{ { "POST", "/api/auth/password/forgot", ROUTE_PUBLIC, 1024, "auth" }, auth_forgot },
	{ { "POST", "/api/auth/password/reset", ROUTE_PUBLIC, 6144, "auth" }, auth_reset },
	{ { "GET", "/api/auth/password/validate-token", ROUTE_PUBLIC, 0, "default" },
	  auth_validate_token },
	/* "auth" as well: it checks a password, like a login. */
	{ { "POST", "/api/auth/password/change", ROUTE_USER, 10240, "auth" }, auth_change },
	{ { "POST", "/api/auth/email/verify/send", ROUTE_USER, 1024, "auth" }, auth_verify_send },
	{ { "POST", "/api/auth/email/verify", ROUTE_PUBLIC, 1024, "auth" }, auth_verify },
};

const struct svc_routes auth_recovery_routes = {
	auth_recovery_table, sizeof(auth_recovery_table) / sizeof(auth_recovery_table[0])
};
