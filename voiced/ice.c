/* GET /api/voice/ice: the STUN and TURN servers a client may use, with
 * TURN credentials of its own that expire (coturn's shared-secret scheme,
 * libcommon/turncred.c). voiced only makes credentials; coturn, a separate
 * service, checks them with the same secret ([turn] in voiced.conf(5),
 * docs/turn.md). */
#include "voiced.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "secret.h"
#include "turncred.h"

#define VOICE_TURN_SECRET_MIN 16	/* shorter is open to offline guessing */
#define VOICE_TURN_SECRET_MAX 512
#define VOICE_ICE_URL_MAX 320
/* "<expiry>:<user id>": 20 digits at most, the colon, a UUID, the NUL. */
#define VOICE_TURN_USERNAME_MAX (20 + 1 + UUID_STRLEN + 1)

/* The secret and the server URLs, set once at start by voice_ice_init;
 * the secret is wiped by voice_ice_fini. secret_len 0 means no TURN. */
static struct {
	unsigned char secret[VOICE_TURN_SECRET_MAX + 2];	/* + newline, NUL */
	size_t secret_len;
	char stun[VOICE_ICE_URL_MAX];
	char turn_udp[VOICE_ICE_URL_MAX];
	char turn_tcp[VOICE_ICE_URL_MAX];
	char turns[VOICE_ICE_URL_MAX];		/* empty without tls_port */
} voice_ice;

/* Takes the secret from [turn] secret or secret_file (not both), and
 * checks it is printable ASCII without blanks, as turnserver.conf needs,
 * and long enough. */
static int
voice_ice_load_secret(const struct voiced_conf *c)
{
	if (*c->turn_secret != '\0' && *c->turn_secret_file != '\0') {
		log_warnx("[turn] secret and secret_file are both set: keep one");
		return -1;
	}
	if (*c->turn_secret_file != '\0') {
		int n = secret_file_read(c->turn_secret_file, (char *)voice_ice.secret,
		    sizeof(voice_ice.secret), "[turn] secret_file");
		if (n < 0)
			return -1;
		voice_ice.secret_len = (size_t)n;
	} else {
		voice_ice.secret_len = strlen(c->turn_secret);
		memcpy(voice_ice.secret, c->turn_secret, voice_ice.secret_len + 1);
	}
	if (voice_ice.secret_len == 0)
		return 0;
	for (size_t i = 0; i < voice_ice.secret_len; i++) {
		if (voice_ice.secret[i] < 0x21 || voice_ice.secret[i] > 0x7e) {
			log_warnx("[turn] the secret must be printable ASCII without blanks");
			return -1;
		}
	}
	if (voice_ice.secret_len < VOICE_TURN_SECRET_MIN) {
		log_warnx("[turn] the secret must be at least %d characters"
		    " (e.g. openssl rand -hex 32)", VOICE_TURN_SECRET_MIN);
		return -1;
	}
	return 0;
}

/* True when host is a DNS name, an IPv4 address or an IPv6 address, as far
 * as the characters go: enough to keep it from breaking out of a URL. */
static bool
voice_ice_host_ok(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > 253)
		return false;
	if (strchr(host, ':') != NULL)
		return strspn(host, "0123456789abcdefABCDEF:.") == n;
	return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") == n && host[0] != '-' && host[0] != '.';
}

/* Formats "<scheme>:<host>:<port><suffix>" into out, bracketing an IPv6
 * host (RFC 7064, RFC 7065). */
static void
voice_ice_url(char out[VOICE_ICE_URL_MAX], const char *scheme, const char *host,
    long long port, const char *suffix)
{
	bool v6 = strchr(host, ':') != NULL;

	snprintf(out, VOICE_ICE_URL_MAX, "%s:%s%s%s:%lld%s", scheme, v6 ? "[" : "", host,
	    v6 ? "]" : "", port, suffix);
}

int
voice_ice_init(void)
{
	const struct voiced_conf *c = voiced.conf;

	if (!voice_ice_host_ok(c->turn_host)) {
		log_warnx("[turn] host \"%s\" is not a host name or address", c->turn_host);
		return -1;
	}
	if (voice_ice_load_secret(c) < 0) {
		voice_ice_fini();
		return -1;
	}
	voice_ice_url(voice_ice.stun, "stun", c->turn_host, c->turn_port, "");
	voice_ice_url(voice_ice.turn_udp, "turn", c->turn_host, c->turn_port, "?transport=udp");
	voice_ice_url(voice_ice.turn_tcp, "turn", c->turn_host, c->turn_port, "?transport=tcp");
	if (c->turn_tls_port > 0)
		voice_ice_url(voice_ice.turns, "turns", c->turn_host, c->turn_tls_port,
		    "?transport=tcp");
	if (voice_ice.secret_len == 0)
		log_warnx("[turn] no secret: /api/voice/ice offers STUN only, no TURN relay");
	else
		log_info("TURN at %s, credentials valid %llds", voice_ice.turn_udp,
		    c->turn_ttl_s);
	return 0;
}

void
voice_ice_fini(void)
{
	sodium_memzero(voice_ice.secret, sizeof(voice_ice.secret));
	voice_ice.secret_len = 0;
}

/* Appends {"urls":[url...]} (NULL-ended, empty strings skipped) to servers;
 * returns the entry, or NULL when out of memory. */
static cJSON *
voice_ice_add_server(cJSON *servers, const char *const *urls)
{
	cJSON *e = cJSON_CreateObject(), *a;

	if (e == NULL || !cJSON_AddItemToArray(servers, e) ||
	    (a = cJSON_AddArrayToObject(e, "urls")) == NULL)
		return NULL;
	for (; *urls != NULL; urls++) {
		cJSON *s;
		if (**urls != '\0' && ((s = cJSON_CreateString(*urls)) == NULL ||
		    !cJSON_AddItemToArray(a, s)))
			return NULL;
	}
	return e;
}

/* Appends the TURN entry, with credentials for user expiring ttl seconds
 * from now. Returns 0, or -1 when out of memory. */
static int
voice_ice_add_turn(cJSON *servers, const char *user, long long ttl)
{
	const char *urls[] = { voice_ice.turn_udp, voice_ice.turn_tcp, voice_ice.turns, NULL };
	char username[VOICE_TURN_USERNAME_MAX], cred[TURNCRED_CREDENTIAL_LEN];
	cJSON *e = voice_ice_add_server(servers, urls);
	int rv = -1;

	if (e != NULL && turncred_make(voice_ice.secret, voice_ice.secret_len,
	    (long long)time(NULL) + ttl, user, username, sizeof(username), cred) == 0 &&
	    cJSON_AddStringToObject(e, "username", username) != NULL &&
	    cJSON_AddStringToObject(e, "credential", cred) != NULL)
		rv = 0;
	sodium_memzero(cred, sizeof(cred));
	return rv;
}

/* GET /api/voice/ice → {"ice_servers":[STUN, TURN?], "ttl": seconds}. The
 * TURN entry is there only with a secret; clients fetch again before ttl. */
static void
voice_ice_get(struct svc_request *r)
{
	const char *stun[] = { voice_ice.stun, NULL };
	long long ttl = voiced.conf->turn_ttl_s;
	cJSON *o = cJSON_CreateObject(), *servers;

	if (r->user_id == NULL) {	/* gatewayd enforces ROUTE_USER */
		cJSON_Delete(o);
		svc_respond_error(r, 401, "unauthorized", "Authorization required");
		return;
	}
	if (o == NULL || (servers = cJSON_AddArrayToObject(o, "ice_servers")) == NULL ||
	    voice_ice_add_server(servers, stun) == NULL ||
	    (voice_ice.secret_len > 0 && voice_ice_add_turn(servers, r->user_id, ttl) < 0) ||
	    cJSON_AddNumberToObject(o, "ttl", (double)ttl) == NULL) {
		cJSON_Delete(o);
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	svc_respond(r, 200, o);
}

static const struct svc_route voice_ice_list[] = {
	{ { "GET", "/api/voice/ice", ROUTE_USER, 0, "default" }, voice_ice_get },
};

const struct svc_routes voice_ice_routes = {
	voice_ice_list, sizeof(voice_ice_list) / sizeof(voice_ice_list[0])
};
