#include "token.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* Decodes one base64url segment of len bytes into a NUL-terminated buffer. */
static unsigned char *
token_b64_decode(const char *seg, size_t len, size_t *outlen)
{
	unsigned char *buf = malloc(len + 1);

	if (buf == NULL)
		return NULL;
	if (sodium_base642bin(buf, len, seg, len, NULL, outlen, NULL, B64URL) != 0) {
		free(buf);
		return NULL;
	}
	buf[*outlen] = '\0';
	return buf;
}

static cJSON *
token_segment_json(const char *seg, size_t len)
{
	size_t n;
	unsigned char *raw = token_b64_decode(seg, len, &n);
	cJSON *j = raw ? json_parse_exact((const char *)raw, n) : NULL;

	free(raw);
	return cJSON_IsObject(j) ? j : (cJSON_Delete(j), NULL);
}

static int
token_claims_read(const cJSON *p, struct token_claims *c)
{
	const char *sub = json_str(p, "sub"), *sid = json_str(p, "sid");
	const cJSON *adm = cJSON_GetObjectItemCaseSensitive(p, "adm");
	double iat = json_num(p, "iat", -1), exp = json_num(p, "exp", -1);

	if (sub == NULL || sid == NULL || !uuid_valid(sub) || !uuid_valid(sid) ||
	    !cJSON_IsBool(adm) || iat < 0 || exp < 0)
		return -1;
	memcpy(c->sub, sub, UUID_STRLEN + 1);
	memcpy(c->sid, sid, UUID_STRLEN + 1);
	c->adm = cJSON_IsTrue(adm);
	c->iat = (long long)iat, c->exp = (long long)exp;
	return 0;
}

enum token_err
token_verify(const char *jwt, const unsigned char pk[TOKEN_PK_LEN],
    long long now, struct token_claims *out)
{
	size_t len = strnlen(jwt, TOKEN_MAX_LEN + 1), siglen;
	const char *d1, *d2;
	unsigned char *sig;
	cJSON *hdr, *payload;
	struct token_claims c;
	enum token_err err = TOKEN_OK;

	if (len > TOKEN_MAX_LEN || (d1 = memchr(jwt, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt)) != NULL)
		return TOKEN_MALFORMED;
	if ((hdr = token_segment_json(jwt, (size_t)(d1 - jwt))) == NULL)
		return TOKEN_MALFORMED;
	const char *alg = json_str(hdr, "alg");
	if (alg == NULL || strcmp(alg, "EdDSA") != 0)
		err = TOKEN_BAD_ALG;
	cJSON_Delete(hdr);
	if (err != TOKEN_OK)
		return err;
	sig = token_b64_decode(d2 + 1, len - (size_t)(d2 + 1 - jwt), &siglen);
	if (sig == NULL || siglen != crypto_sign_BYTES) {
		free(sig);
		return TOKEN_BAD_SIGNATURE;
	}
	if (crypto_sign_verify_detached(sig, (const unsigned char *)jwt,
	    (unsigned long long)(d2 - jwt), pk) != 0)
		err = TOKEN_BAD_SIGNATURE;
	free(sig);
	if (err != TOKEN_OK)
		return err;
	if ((payload = token_segment_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		return TOKEN_MALFORMED;
	if (token_claims_read(payload, &c) < 0)
		err = TOKEN_MALFORMED;
	else if (c.exp <= now)
		err = TOKEN_EXPIRED;
	else if (c.iat > now + TOKEN_LEEWAY_S)
		err = TOKEN_NOT_YET_VALID;
	cJSON_Delete(payload);
	if (err == TOKEN_OK)
		*out = c;
	return err;
}

static char *
token_b64_encode(const void *data, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, B64URL);
	char *out = malloc(n);

	if (out != NULL)
		sodium_bin2base64(out, n, data, len, B64URL);
	return out;
}

char *
token_sign(const struct token_claims *c, const unsigned char sk[TOKEN_SK_LEN])
{
	static const char hdr[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
	char payload[256], *h, *p, *s = NULL, *out = NULL;
	unsigned char sig[crypto_sign_BYTES];
	size_t signed_len;

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"%s\",\"sid\":\"%s\",\"adm\":%s,\"iat\":%lld,\"exp\":%lld}",
	    c->sub, c->sid, c->adm ? "true" : "false", c->iat, c->exp);
	h = token_b64_encode(hdr, strlen(hdr));
	p = token_b64_encode(payload, strlen(payload));
	if (h == NULL || p == NULL)
		goto done;
	signed_len = strlen(h) + 1 + strlen(p);
	if ((out = malloc(signed_len + 1 + sodium_base64_ENCODED_LEN(sizeof(sig), B64URL))) == NULL)
		goto done;
	sprintf(out, "%s.%s", h, p);
	crypto_sign_detached(sig, NULL, (unsigned char *)out, signed_len, sk);
	if ((s = token_b64_encode(sig, sizeof(sig))) == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	sprintf(out + signed_len, ".%s", s);
done:
	free(h), free(p), free(s);
	return out;
}

const char *
token_strerror(enum token_err err)
{
	switch (err) {
	case TOKEN_OK: return "ok";
	case TOKEN_MALFORMED: return "Invalid token";
	case TOKEN_BAD_ALG: return "Invalid token algorithm";
	case TOKEN_BAD_SIGNATURE: return "Invalid token signature";
	case TOKEN_EXPIRED: return "Token expired";
	case TOKEN_NOT_YET_VALID: return "Token not yet valid";
	case TOKEN_REVOKED: return "Session revoked";
	}
	return "Invalid token";
}

int
token_key_load(const char *path, unsigned char *key, size_t len)
{
	char text[256];
	size_t n, got;
	FILE *f = fopen(path, "r");
	int rv = -1;

	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	if (sodium_base642bin(key, len, text, n, NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0 && got == len)
		rv = 0;
	sodium_memzero(text, sizeof(text));
	return rv;
}
