/* Access-token checks at the edge: gatewayd holds only the public key. */
#include "gatewayd.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "url.h"

/* Verified tokens, so that a client's every request does not pay for an
 * Ed25519 verification (tens of microseconds). Direct-mapped by a BLAKE2b
 * digest of the exact token text: equal digests are the same token, and
 * only tokens that verified are stored. Expiry is checked on every hit. */
#define GW_TOKEN_CACHE 4096

struct gw_token_slot {
	unsigned char digest[crypto_generichash_BYTES];
	struct token_claims claims;
	bool used;
};

static struct gw_token_slot gw_token_cache[GW_TOKEN_CACHE];

static struct gw_token_slot *
gw_token_slot(const char *tok, unsigned char digest[crypto_generichash_BYTES])
{
	unsigned idx;

	crypto_generichash(digest, crypto_generichash_BYTES,
	    (const unsigned char *)tok, strlen(tok), NULL, 0);
	memcpy(&idx, digest, sizeof(idx));
	return &gw_token_cache[idx % GW_TOKEN_CACHE];
}

/* token_verify through the cache. */
static enum token_err
gw_token_verify(struct gw *gw, const char *tok, long long now,
    struct token_claims *out)
{
	unsigned char digest[crypto_generichash_BYTES];
	struct gw_token_slot *s = gw_token_slot(tok, digest);
	enum token_err err;

	if (s->used && sodium_memcmp(s->digest, digest, sizeof(digest)) == 0) {
		if (s->claims.exp <= now)
			return TOKEN_EXPIRED;
		*out = s->claims;
		return TOKEN_OK;
	}
	err = token_verify(tok, gw->public_key, now, out);
	if (err == TOKEN_OK) {
		memcpy(s->digest, digest, sizeof(digest));
		s->claims = *out;
		s->used = true;
	}
	return err;
}

void
gw_auth_load_key(struct gw *gw)
{
	const char *path = gw->conf->public_key_file;

	gw->have_key = false;
	if (*path == '\0') {
		log_warnx("auth: no public_key_file; every authenticated route answers 401");
		return;
	}
	if (token_key_load(path, gw->public_key, TOKEN_PK_LEN) < 0)
		fatalx("auth: %s does not hold a base64 Ed25519 public key", path);
	gw->have_key = true;
}

/* The token of r: "Authorization: Bearer <t>", else "?token=<t>" (for
 * WebSocket clients). *bad_format is set for a non-Bearer header. */
static const char *
gw_auth_token(const struct gw_request *r, char *buf, size_t len, bool *bad_format)
{
	const char *h = gw_request_header(r, "Authorization");

	*bad_format = false;
	if (h != NULL) {
		if (strncmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
			*bad_format = true;
			return NULL;
		}
		return h + 7;
	}
	return url_query_param(r->query, "token", buf, len) > 0 ? buf : NULL;
}

/* Whether the token came from the query (no Authorization header). */
static bool
gw_auth_token_in_query(const struct gw_request *r)
{
	return gw_request_header(r, "Authorization") == NULL;
}

/* 401 with the Bearer challenge (RFC 6750 section 3). */
static void
gw_auth_refuse(struct gw_request *r, const char *code, const char *message,
    bool token_error)
{
	gw_respond_error_with(r, 401, code, message, "WWW-Authenticate", token_error ?
	    "Bearer realm=\"enclavr\", error=\"invalid_token\"" : "Bearer realm=\"enclavr\"");
}

int
gw_auth_check(struct gw_request *r, enum route_auth level)
{
	struct gw *gw = r->conn->gw;
	char buf[TOKEN_MAX_LEN + 1];
	bool bad_format;
	const char *tok = gw_auth_token(r, buf, sizeof(buf), &bad_format);
	enum token_err err = TOKEN_MALFORMED;

	if (tok != NULL && gw->have_key)
		err = gw_token_verify(gw, tok, (long long)time(NULL),
		    &r->principal.claims);
	if (err == TOKEN_OK && gw_revoked(r->principal.claims.sid))
		err = TOKEN_REVOKED;
	r->principal.present = err == TOKEN_OK;
	r->token_in_query = r->principal.present && gw_auth_token_in_query(r);
	if (level == ROUTE_PUBLIC)
		return 0;
	if (bad_format) {
		gw_auth_refuse(r, "unauthorized", "Invalid authorization format", false);
		return -1;
	}
	if (tok == NULL) {
		gw_auth_refuse(r, "unauthorized", "Authorization required", false);
		return -1;
	}
	if (err != TOKEN_OK) {
		log_req(LOG_LVL_INFO, r->request_id, "token refused: %s", token_strerror(err));
		gw_auth_refuse(r, err == TOKEN_EXPIRED ? "token_expired" :
		    err == TOKEN_REVOKED ? "session_revoked" : "invalid_token",
		    token_strerror(err), true);
		return -1;
	}
	if (level == ROUTE_ADMIN && !r->principal.claims.adm) {
		gw_respond_error(r, 403, "forbidden", "Admin access required");
		return -1;
	}
	return 0;
}
