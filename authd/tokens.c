/* Sessions and tokens: opening a session, signing access tokens, minting
 * and hashing refresh tokens, the token response, and revocation notices. */
#include "authd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "uuid.h"

#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_LEN 43		/* base64url, no padding */

const struct pg_stmt auth_tokens_stmts[] = {
	{ "session_open", "SELECT auth.session_open($1, $2, $3, $4, $5, $6)", 6 },
	{ NULL, NULL, 0 },
};

/* An access token's issuing in progress; freed when r is answered. */
struct auth_issue {
	struct svc_request *r;
	cJSON *user;
	char user_id[UUID_STRLEN + 1], sid[UUID_STRLEN + 1];
	char refresh[64];
	bool admin;
};

static bool
auth_pg_bool(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

cJSON *
auth_user_json(const PGresult *res, int row)
{
	cJSON *u = cJSON_CreateObject();
	long long changed = atoll(PQgetvalue(res, row, AU_CHANGED));
	long long max_age = authd.conf->password_max_age_days * 86400;

	if (u == NULL)
		return NULL;
	cJSON_AddStringToObject(u, "id", PQgetvalue(res, row, AU_ID));
	cJSON_AddStringToObject(u, "username", PQgetvalue(res, row, AU_USERNAME));
	cJSON_AddStringToObject(u, "email", PQgetvalue(res, row, AU_EMAIL));
	cJSON_AddStringToObject(u, "display_name", PQgetvalue(res, row, AU_DISPLAY));
	cJSON_AddStringToObject(u, "avatar_url", PQgetvalue(res, row, AU_AVATAR));
	cJSON_AddBoolToObject(u, "is_admin", auth_pg_bool(res, row, AU_ADMIN));
	cJSON_AddBoolToObject(u, "email_verified", auth_pg_bool(res, row, AU_VERIFIED));
	cJSON_AddBoolToObject(u, "two_factor_enabled", auth_pg_bool(res, row, AU_2FA));
	cJSON_AddBoolToObject(u, "password_expired", max_age > 0 && changed > 0 &&
	    changed + max_age < (long long)time(NULL));
	cJSON_AddStringToObject(u, "created_at", PQgetvalue(res, row, AU_CREATED));
	return u;
}

void
auth_respond_user(PGresult *res, void *arg)
{
	struct svc_request *r = arg;

	if (svc_result_one(r, res, "User not found"))
		svc_respond(r, 200, auth_user_json(res, 0));
}

char *
auth_access_token(const char *user_id, const char *session_id, bool admin)
{
	struct token_claims c = { .adm = admin };

	snprintf(c.sub, sizeof(c.sub), "%s", user_id);
	snprintf(c.sid, sizeof(c.sid), "%s", session_id);
	c.iat = (long long)time(NULL);
	c.exp = c.iat + authd.conf->access_ttl_s;
	return token_sign(&c, authd.sk);
}

void
auth_sha256_hex(const char *text, char hash[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(hash, 65, d, sizeof(d));
}

void
auth_token_new(char token[64], char hash[65])
{
	unsigned char raw[AUTH_TOKEN_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, 64, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	auth_sha256_hex(token, hash);
}

int
auth_token_hash(const char *token, char hash[65])
{
	if (strlen(token) != AUTH_TOKEN_LEN ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") != AUTH_TOKEN_LEN)
		return -1;
	auth_sha256_hex(token, hash);
	return 0;
}

cJSON *
auth_message(const char *text)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL)
		cJSON_AddStringToObject(o, "message", text);
	return o;
}

cJSON *
auth_token_response(const char *access, const char *refresh, cJSON *user)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL) {
		cJSON_Delete(user);
		return NULL;
	}
	cJSON_AddStringToObject(o, "access_token", access);
	cJSON_AddStringToObject(o, "refresh_token", refresh);
	cJSON_AddNumberToObject(o, "expires_in", (double)authd.conf->access_ttl_s);
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	if (user != NULL)
		cJSON_AddItemToObject(o, "user", user);
	return o;
}

static void
auth_issue_free(struct auth_issue *is)
{
	cJSON_Delete(is->user);
	sodium_memzero(is->refresh, sizeof(is->refresh));
	free(is);
}

static void
auth_issue_opened(PGresult *res, void *arg)
{
	struct auth_issue *is = arg;
	char *access;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_req(LOG_LVL_WARN, is->r->request_id, "session_open: %s",
		    res ? PQresultErrorMessage(res) : "no database");
		svc_respond_error(is->r, 503, "unavailable", "Could not open a session");
		auth_issue_free(is);
		return;
	}
	if ((access = auth_access_token(is->user_id, is->sid, is->admin)) == NULL) {
		svc_respond_error(is->r, 500, "internal", "Could not sign a token");
		auth_issue_free(is);
		return;
	}
	svc_respond(is->r, 200, auth_token_response(access, is->refresh, is->user));
	is->user = NULL;
	free(access);
	auth_issue_free(is);
}

void
auth_issue_session(struct svc_request *r, const PGresult *user)
{
	struct auth_issue *is = calloc(1, sizeof(*is));
	char hash[65], ttl[24];
	const char *params[6];

	if (is == NULL || (is->user = auth_user_json(user, 0)) == NULL) {
		free(is);
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	is->r = r;
	snprintf(is->user_id, sizeof(is->user_id), "%s", PQgetvalue(user, 0, AU_ID));
	is->admin = auth_pg_bool(user, 0, AU_ADMIN);
	uuid_v4(is->sid);
	auth_token_new(is->refresh, hash);
	snprintf(ttl, sizeof(ttl), "%lld", authd.conf->refresh_ttl_s);
	params[0] = is->sid, params[1] = is->user_id, params[2] = r->client_addr;
	params[3] = r->user_agent, params[4] = hash, params[5] = ttl;
	if (pg_exec(svc_pg(authd.svc), "session_open", params, auth_issue_opened, is) < 0) {
		auth_issue_free(is);
		svc_respond_error(r, 503, "busy", "Too many queued queries");
	}
}

void
auth_publish_revoked(const char *sid)
{
	cJSON *o = cJSON_CreateObject();
	char topic[64];

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "session_id", sid);
	cJSON_AddBoolToObject(o, "revoked", true);
	cJSON_AddNumberToObject(o, "ttl_s", (double)authd.conf->access_ttl_s);
	snprintf(topic, sizeof(topic), "session.%s", sid);
	ipc_publish(svc_pub(authd.svc), topic, o);
	cJSON_Delete(o);
	/* For gatewayds that were not listening (started later, other hosts). */
	redis_command(svc_redis(authd.svc), NULL, NULL, "SET enclavr:revoked:%s 1 EX %lld",
	    sid, authd.conf->access_ttl_s);
	log_info("session %s revoked", sid);
}
