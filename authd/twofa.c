/* Two-factor authentication: TOTP setup, enable, disable, status,
 * recovery codes, and the second step of a login (a single-use challenge
 * plus a code, answered with tokens). */
#include "authd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "totp.h"
#include "uuid.h"
#include "validate.h"

#define AUTH_RECOVERY_CODES 10
#define AUTH_CODE_MAX 1024		/* the UI may send a password as the code */

const struct pg_stmt auth_twofa_stmts[] = {
	{ "twofa_state", "SELECT two_factor_enabled, two_factor_secret, two_factor_pending,"
	  " email, password_hash, two_factor_last_step FROM auth.users WHERE id = $1", 1 },
	{ "twofa_setup", "UPDATE auth.users SET two_factor_pending = $2"
	  " WHERE id = $1 AND NOT two_factor_enabled RETURNING email", 2 },
	{ "twofa_enable", "UPDATE auth.users SET two_factor_enabled = true,"
	  " two_factor_secret = two_factor_pending, two_factor_pending = NULL,"
	  " two_factor_last_step = $2 WHERE id = $1 AND NOT two_factor_enabled"
	  " AND two_factor_pending IS NOT NULL RETURNING id", 2 },
	{ "twofa_disable", "WITH u AS (UPDATE auth.users SET two_factor_enabled = false,"
	  " two_factor_secret = NULL, two_factor_pending = NULL"
	  " WHERE id = $1 AND two_factor_enabled RETURNING id),"
	  " d AS (DELETE FROM auth.recovery_codes WHERE user_id IN (SELECT id FROM u))"
	  " SELECT id FROM u", 1 },
	{ "sessions_revoke_others", "UPDATE auth.sessions SET revoked_at = now()"
	  " WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id", 2 },
	{ "recovery_replace", "WITH d AS (DELETE FROM auth.recovery_codes WHERE user_id = $1)"
	  " INSERT INTO auth.recovery_codes (user_id, code_hash)"
	  " SELECT $1, unnest($2::text[])", 2 },
	{ "recovery_use", "UPDATE auth.recovery_codes SET used_at = now()"
	  " WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id", 2 },
	{ "recovery_count", "SELECT count(*) FROM auth.recovery_codes"
	  " WHERE user_id = $1 AND used_at IS NULL", 1 },
	{ "totp_step", "UPDATE auth.users SET two_factor_last_step = $2"
	  " WHERE id = $1 AND two_factor_last_step < $2 RETURNING id", 2 },
	{ "challenge_new", "INSERT INTO auth.login_challenges (challenge_hash, user_id,"
	  " expires_at) VALUES ($1, $2, now() + interval '5 minutes')", 2 },
	{ "challenge_try", "UPDATE auth.login_challenges c SET attempts = c.attempts + 1"
	  " FROM auth.users u WHERE c.challenge_hash = $1 AND c.user_id = $2"
	  " AND u.id = c.user_id AND u.two_factor_enabled AND c.used_at IS NULL"
	  " AND c.expires_at > now() AND c.attempts < 5"
	  " RETURNING u.two_factor_secret", 2 },
	{ "challenge_done", "UPDATE auth.login_challenges SET used_at = now()"
	  " WHERE challenge_hash = $1 AND used_at IS NULL RETURNING user_id", 1 },
	{ "login_clear_user", "DELETE FROM auth.login_attempts"
	  " WHERE identifier = 'user:' || $1::text", 1 },
	{ NULL, NULL, 0 },
};

/* A 2FA request in progress; freed when it is answered. */
struct auth_tf {
	struct svc_op op;		/* first */
	const char *code;		/* points into the body */
	char user_id[UUID_STRLEN + 1];
	char challenge_hash[65];
	char secret[TOTP_SECRET_B32 + 1];
	char label[256];		/* the email; or a challenge to hand out */
	char hash[256];			/* the password hash, for disable */
	char codes[AUTH_RECOVERY_CODES][12];
	void (*then)(struct auth_tf *t, bool ok);
	void (*proved)(struct auth_tf *t);
};

static void
auth_tf_release(struct svc_op *op)
{
	struct auth_tf *t = (struct auth_tf *)op;

	sodium_memzero(t->secret, sizeof(t->secret));
	sodium_memzero(t->codes, sizeof(t->codes));
	sodium_memzero(t->label, sizeof(t->label));
	sodium_memzero(t->hash, sizeof(t->hash));
	free(t);
}

static struct auth_tf *
auth_tf_new(struct svc_request *r, cJSON *body)
{
	struct auth_tf *t = svc_op_new(r, body, sizeof(*t), auth_tf_release);

	if (t != NULL)
		snprintf(t->user_id, sizeof(t->user_id), "%s", r->user_id ? r->user_id : "");
	return t;
}

/* Sets t->code from the body's "code" (1..1024 characters); otherwise
 * answers 400, frees t and returns -1. */
static int
auth_tf_code(struct auth_tf *t)
{
	const char *code, *why = valid_member_text(t->op.body, "code", true, 1, AUTH_CODE_MAX, &code);

	if (why != NULL) {
		svc_op_fail(&t->op, 400, "invalid_request", why);
		return -1;
	}
	t->code = code;
	return 0;
}

/* "abcde-fghij" or "ABCDE FGHIJ" -> "abcdefghij"; NULL unless it is the
 * shape of a recovery code. */
static const char *
auth_recovery_normalise(const char *in, char out[16])
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		if (*in == '-' || *in == ' ')
			continue;
		if (n == 10)
			return NULL;
		char ch = (*in >= 'A' && *in <= 'Z') ? (char)(*in + 32) : *in;
		if (strchr("abcdefghijklmnopqrstuvwxyz234567", ch) == NULL || ch == '\0')
			return NULL;
		out[n++] = ch;
	}
	out[n] = '\0';
	return n == 10 ? out : NULL;
}

/* ------------------------------------------- checking a second factor */

static void
auth_tf_checked(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	t->then(t, PQntuples(res) == 1);
}

/* Checks t->code against t->secret (a TOTP code, each step accepted once)
 * or the user's unused recovery codes (each used once); t->then gets the
 * verdict. */
static void
auth_tf_check(struct auth_tf *t)
{
	char norm[16], hash[65], step[24];
	const char *params[2] = { t->user_id, NULL };
	long long s = totp_match(t->secret, t->code, (long long)time(NULL));

	if (s >= 0) {
		snprintf(step, sizeof(step), "%lld", s);
		params[1] = step;
		svc_op_query(&t->op, "totp_step", params, auth_tf_checked);
		return;
	}
	if (auth_recovery_normalise(t->code, norm) == NULL) {
		t->then(t, false);
		return;
	}
	auth_sha256_hex(norm, hash);
	params[1] = hash;
	svc_op_query(&t->op, "recovery_use", params, auth_tf_checked);
}

/* ------------------------------------------- the login's second step */

static void
auth_challenge_stored(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	cJSON *o;

	if (!svc_op_ok(&t->op, res, PGRES_COMMAND_OK))
		return;
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddBoolToObject(o, "require_2fa", true);
		cJSON_AddStringToObject(o, "user_id", t->user_id);
		cJSON_AddStringToObject(o, "challenge", t->label);
	}
	svc_respond(t->op.r, 200, o);
	svc_op_free(&t->op);
}

void
auth_twofa_challenge(struct svc_request *r, const PGresult *user)
{
	struct auth_tf *t = auth_tf_new(r, NULL);
	const char *params[2];

	if (t == NULL)
		return;
	snprintf(t->user_id, sizeof(t->user_id), "%s", PQgetvalue(user, 0, AU_ID));
	auth_token_new(t->label, t->challenge_hash);	/* label: the challenge */
	params[0] = t->challenge_hash, params[1] = t->user_id;
	svc_op_query(&t->op, "challenge_new", params, auth_challenge_stored);
}

static void
auth_verify_user(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 401, "invalid_challenge", "The login challenge is invalid or expired");
		return;
	}
	/* The login is complete only now: its failed attempts are forgiven. */
	pg_exec(svc_pg(authd.svc), "login_clear_user", (const char *[]){ t->user_id }, NULL, NULL);
	auth_issue_session(t->op.r, res);
	svc_op_free(&t->op);
}

static void
auth_verify_spent(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	const char *params[1] = { t->user_id };

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {	/* spent meanwhile by a twin request */
		svc_op_fail(&t->op, 401, "invalid_challenge", "The login challenge is invalid or expired");
		return;
	}
	svc_op_query(&t->op, "user_by_id", params, auth_verify_user);
}

static void
auth_verify_code_checked(struct auth_tf *t, bool ok)
{
	const char *params[1] = { t->challenge_hash };

	if (!ok) {
		svc_op_fail(&t->op, 401, "invalid_code", "Invalid verification code");
		return;
	}
	svc_op_query(&t->op, "challenge_done", params, auth_verify_spent);
}

static void
auth_verify_tried(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		svc_op_fail(&t->op, 401, "invalid_challenge", "The login challenge is invalid or expired");
		return;
	}
	snprintf(t->secret, sizeof(t->secret), "%s", PQgetvalue(res, 0, 0));
	t->then = auth_verify_code_checked;
	auth_tf_check(t);
}

/* POST /api/auth/2fa/verify {user_id, code, challenge}: completes a login. */
static void
auth_twofa_verify(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *uid, *challenge, *why, *params[2];
	struct auth_tf *t;

	if (body == NULL || (t = auth_tf_new(r, body)) == NULL)
		return;
	if ((why = valid_member_uuid(body, "user_id", true, &uid)) != NULL ||
	    (why = valid_member_text(body, "challenge", true, 1, 128, &challenge)) != NULL) {
		svc_op_fail(&t->op, 400, "invalid_request", why);
		return;
	}
	if (auth_tf_code(t) < 0)
		return;
	if (auth_token_hash(challenge, t->challenge_hash) < 0) {
		svc_op_fail(&t->op, 401, "invalid_challenge", "The login challenge is invalid or expired");
		return;
	}
	snprintf(t->user_id, sizeof(t->user_id), "%s", uid);
	params[0] = t->challenge_hash, params[1] = t->user_id;
	svc_op_query(&t->op, "challenge_try", params, auth_verify_tried);
}

/* ------------------------------------------- status, setup, enable */

static void
auth_status_found(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_one(r, res, "User not found"))
		return;
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddBoolToObject(o, "enabled", PQgetvalue(res, 0, 0)[0] == 't');
	svc_respond(r, 200, o);
}

/* GET /api/auth/2fa/status */
static void
auth_twofa_status(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "twofa_state", params, auth_status_found, r);
}

/* Ten new recovery codes in t->codes and, for the database, the array
 * literal of their hashes. */
static void
auth_recovery_generate(struct auth_tf *t, char *array, size_t len)
{
	size_t n = 0;

	array[n++] = '{';
	for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
		uint8_t raw[7];
		char b32[16], hash[65];
		randombytes_buf(raw, sizeof(raw));
		base32_encode(raw, sizeof(raw), b32, sizeof(b32));
		for (int k = 0; k < 10; k++)
			b32[k] = (char)(b32[k] >= 'A' && b32[k] <= 'Z' ? b32[k] + 32 : b32[k]);
		b32[10] = '\0';
		auth_sha256_hex(b32, hash);
		snprintf(t->codes[i], sizeof(t->codes[i]), "%.5s-%.5s", b32, b32 + 5);
		n += (size_t)snprintf(array + n, len - n, "%s%s", i ? "," : "", hash);
	}
	snprintf(array + n, len - n, "}");
}

/* Percent-encodes s for an otpauth:// label: unreserved characters and '@'
 * stay as they are. */
static void
auth_label_encode(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s != '\0' && n + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~@", ch) != NULL) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

static cJSON *
auth_recovery_json(const struct auth_tf *t)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; arr != NULL && i < AUTH_RECOVERY_CODES; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(t->codes[i]));
	return arr;
}

static void
auth_setup_codes_stored(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	cJSON *o;
	char url[512];

	if (!svc_op_ok(&t->op, res, PGRES_COMMAND_OK))
		return;
	o = cJSON_CreateObject();
	snprintf(url, sizeof(url), "otpauth://totp/Enclavr:%s?secret=%s&issuer=Enclavr"
	    "&algorithm=SHA1&digits=6&period=30", t->label, t->secret);
	cJSON_AddStringToObject(o, "secret", t->secret);
	cJSON_AddStringToObject(o, "qr_code_url", url);
	cJSON_AddItemToObject(o, "recovery_codes", auth_recovery_json(t));
	svc_respond(t->op.r, 200, o);
	svc_op_free(&t->op);
}

static void
auth_setup_stored(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	char array[AUTH_RECOVERY_CODES * 66 + 4];
	const char *params[2] = { t->user_id, array };

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 400, "already_enabled", "Two-factor authentication already enabled");
		return;
	}
	/* The account name in the authenticator app: the email. */
	auth_label_encode(PQgetvalue(res, 0, 0), t->label, sizeof(t->label));
	auth_recovery_generate(t, array, sizeof(array));
	svc_op_query(&t->op, "recovery_replace", params, auth_setup_codes_stored);
}

/* POST /api/auth/2fa/setup: a new secret and recovery codes; 2FA is on
 * only once /enable proves the authenticator has the secret. */
static void
auth_twofa_setup(struct svc_request *r)
{
	struct auth_tf *t = auth_tf_new(r, NULL);
	uint8_t raw[TOTP_SECRET_BYTES];
	const char *params[2];

	if (t == NULL)
		return;
	randombytes_buf(raw, sizeof(raw));
	base32_encode(raw, sizeof(raw), t->secret, sizeof(t->secret));
	sodium_memzero(raw, sizeof(raw));
	params[0] = t->user_id, params[1] = t->secret;
	svc_op_query(&t->op, "twofa_setup", params, auth_setup_stored);
}

static void
auth_enabled(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	cJSON *o;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 400, "already_enabled", "Two-factor authentication already enabled");
		return;
	}
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddBoolToObject(o, "enabled", true);
	svc_respond(t->op.r, 200, o);
	svc_op_free(&t->op);
}

static void
auth_enable_state(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	char step[24];
	const char *params[2] = { t->user_id, step };
	long long s;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] == 't') {
		svc_op_fail(&t->op, 400, "already_enabled", "Two-factor authentication already enabled");
		return;
	}
	if (PQgetisnull(res, 0, 2)) {
		svc_op_fail(&t->op, 400, "not_set_up", "Set up two-factor authentication first");
		return;
	}
	s = totp_match(PQgetvalue(res, 0, 2), t->code, (long long)time(NULL));
	if (s < 0) {
		svc_op_fail(&t->op, 400, "invalid_code", "Invalid verification code");
		return;
	}
	snprintf(step, sizeof(step), "%lld", s);
	svc_op_query(&t->op, "twofa_enable", params, auth_enabled);
}

/* POST /api/auth/2fa/enable {code} */
static void
auth_twofa_enable(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);	/* NULL: r is answered, gone */
	struct auth_tf *t;
	const char *params[1];

	if (body == NULL || (t = auth_tf_new(r, body)) == NULL)
		return;
	if (auth_tf_code(t) < 0)
		return;
	params[0] = t->user_id;
	svc_op_query(&t->op, "twofa_state", params, auth_enable_state);
}

/* ------------------------------------------- disable, recovery codes */

static void
auth_disable_others_revoked(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	cJSON *o;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	for (int i = 0; i < PQntuples(res); i++)
		auth_publish_revoked(PQgetvalue(res, i, 0));
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddBoolToObject(o, "enabled", false);
	svc_respond(t->op.r, 200, o);
	svc_op_free(&t->op);
}

static void
auth_disabled(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	const char *params[2] = { t->user_id, t->op.r->session_id };

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 400, "not_enabled", "Two-factor authentication not enabled");
		return;
	}
	/* Whoever held another session may have had only the password. */
	svc_op_query(&t->op, "sessions_revoke_others", params, auth_disable_others_revoked);
}

static void
auth_proof_password_checked(bool ok, void *arg)
{
	struct auth_tf *t = arg;

	if (!ok) {
		svc_op_fail(&t->op, 400, "invalid_code", "Invalid verification code");
		return;
	}
	t->proved(t);
}

/* Not a valid second factor: maybe it is the password (what the Enclavr
 * client sends). */
static void
auth_proof_checked(struct auth_tf *t, bool ok)
{
	if (ok) {
		t->proved(t);
		return;
	}
	if (auth_password_verify(t->code, t->hash[0] ? t->hash : NULL,
	    auth_proof_password_checked, t) < 0)
		svc_op_fail(&t->op, 503, "busy", "The service is busy; try again");
}

/* twofa_state is in: with 2FA on, checks t->code as a TOTP code, a
 * recovery code or the account password, then runs t->proved. */
static void
auth_proof_state(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
		svc_op_fail(&t->op, 400, "not_enabled", "Two-factor authentication not enabled");
		return;
	}
	snprintf(t->secret, sizeof(t->secret), "%s", PQgetvalue(res, 0, 1));
	snprintf(t->hash, sizeof(t->hash), "%s", PQgetvalue(res, 0, 4));
	t->then = auth_proof_checked;
	auth_tf_check(t);
}

/* Starts a request that acts once the caller proves the account with
 * {code}; proved runs then. */
static void
auth_tf_with_proof(struct svc_request *r, void (*proved)(struct auth_tf *t))
{
	cJSON *body = svc_request_json(r);	/* NULL: r is answered, gone */
	struct auth_tf *t;
	const char *params[1];

	if (body == NULL || (t = auth_tf_new(r, body)) == NULL)
		return;
	if (auth_tf_code(t) < 0)
		return;
	t->proved = proved;
	params[0] = t->user_id;
	svc_op_query(&t->op, "twofa_state", params, auth_proof_state);
}

static void
auth_disable_proved(struct auth_tf *t)
{
	const char *params[1] = { t->user_id };

	svc_op_query(&t->op, "twofa_disable", params, auth_disabled);
}

/* POST /api/auth/2fa/disable {code}: a TOTP code, a recovery code, or the
 * account password. Other sessions are revoked. */
static void
auth_twofa_disable(struct svc_request *r)
{
	auth_tf_with_proof(r, auth_disable_proved);
}

static void
auth_recovery_counted(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddNumberToObject(o, "remaining", atoi(PQgetvalue(res, 0, 0)));
		cJSON_AddStringToObject(o, "message", "Recovery codes are shown once, when "
		    "they are made; POST here to replace them with new ones.");
	}
	svc_respond(r, 200, o);
}

/* GET /api/auth/2fa/recovery-codes: how many are left (they are stored
 * hashed, so they cannot be shown again). */
static void
auth_twofa_recovery_count(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "recovery_count", params, auth_recovery_counted, r);
}

static void
auth_recovery_replaced(PGresult *res, void *arg)
{
	struct auth_tf *t = arg;
	cJSON *o;

	if (!svc_op_ok(&t->op, res, PGRES_COMMAND_OK))
		return;
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddItemToObject(o, "codes", auth_recovery_json(t));
	svc_respond(t->op.r, 200, o);
	svc_op_free(&t->op);
}

static void
auth_recovery_proved(struct auth_tf *t)
{
	char array[AUTH_RECOVERY_CODES * 66 + 4];
	const char *params[2] = { t->user_id, array };

	auth_recovery_generate(t, array, sizeof(array));
	svc_op_query(&t->op, "recovery_replace", params, auth_recovery_replaced);
}

/* POST /api/auth/2fa/recovery-codes {code}: ten new codes, the old ones
 * die; proven like disable. */
static void
auth_twofa_recovery_new(struct svc_request *r)
{
	auth_tf_with_proof(r, auth_recovery_proved);
}

static const struct svc_route auth_twofa_table[] = {
	{ { "GET", "/api/auth/2fa/status", ROUTE_USER, 0, "default" }, auth_twofa_status },
	{ { "POST", "/api/auth/2fa/setup", ROUTE_USER, 1024, "default" }, auth_twofa_setup },
	{ { "POST", "/api/auth/2fa/enable", ROUTE_USER, 4096, "default" }, auth_twofa_enable },
	{ { "POST", "/api/auth/2fa/disable", ROUTE_USER, 4096, "auth" }, auth_twofa_disable },
	{ { "POST", "/api/auth/2fa/verify", ROUTE_PUBLIC, 4096, "auth" }, auth_twofa_verify },
	{ { "GET", "/api/auth/2fa/recovery-codes", ROUTE_USER, 0, "default" },
	  auth_twofa_recovery_count },
	{ { "POST", "/api/auth/2fa/recovery-codes", ROUTE_USER, 4096, "auth" },
	  auth_twofa_recovery_new },
};

const struct svc_routes auth_twofa_routes = {
	auth_twofa_table, sizeof(auth_twofa_table) / sizeof(auth_twofa_table[0])
};
