/* Access-token checks at the edge: gatewayd holds only the public key. */
#include "gatewayd.h"

#include <string.h>
#include <time.h>

#include "log.h"

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
	return gw_query_param(r->query, "token", buf, len) > 0 ? buf : NULL;
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
		err = token_verify(tok, gw->public_key, (long long)time(NULL),
		    &r->principal.claims);
	r->principal.present = err == TOKEN_OK;
	if (level == ROUTE_PUBLIC)
		return 0;
	if (bad_format) {
		gw_respond_error(r, 401, "unauthorized", "Invalid authorization format");
		return -1;
	}
	if (tok == NULL) {
		gw_respond_error(r, 401, "unauthorized", "Authorization required");
		return -1;
	}
	if (err != TOKEN_OK) {
		log_req(LOG_LVL_INFO, r->request_id, "token refused: %s", token_strerror(err));
		gw_respond_error(r, 401, err == TOKEN_EXPIRED ? "token_expired" :
		    "invalid_token", token_strerror(err));
		return -1;
	}
	if (level == ROUTE_ADMIN && !r->principal.claims.adm) {
		gw_respond_error(r, 403, "forbidden", "Admin access required");
		return -1;
	}
	return 0;
}
