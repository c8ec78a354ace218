/* Access tokens: compact JWTs signed with Ed25519 ("alg":"EdDSA"). authd
 * signs with the secret key; everyone else verifies with the public key. */
#ifndef ENCLAVR_TOKEN_H
#define ENCLAVR_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "uuid.h"

#define TOKEN_MAX_LEN 4096
#define TOKEN_PK_LEN 32
#define TOKEN_SK_LEN 64
#define TOKEN_LEEWAY_S 30

struct token_claims {
	char sub[UUID_STRLEN + 1];	/* user id */
	char sid[UUID_STRLEN + 1];	/* session id */
	bool adm;
	long long iat, exp;
};

enum token_err {
	TOKEN_OK = 0,
	TOKEN_MALFORMED,
	TOKEN_BAD_ALG,
	TOKEN_BAD_SIGNATURE,
	TOKEN_EXPIRED,
	TOKEN_NOT_YET_VALID,
	TOKEN_REVOKED,		/* valid, but its session was revoked */
};

/* Checks jwt's form, algorithm, signature and times against now (Unix
 * seconds); fills out only on TOKEN_OK. */
enum token_err token_verify(const char *jwt, const unsigned char pk[TOKEN_PK_LEN],
    long long now, struct token_claims *out);
/* Returns a malloc'ed token for claims, or NULL. */
char *token_sign(const struct token_claims *claims,
    const unsigned char sk[TOKEN_SK_LEN]);
const char *token_strerror(enum token_err err);
/* Reads a key file holding the base64 of a 32-byte public key or a 64-byte
 * secret key; returns 0 when it holds exactly len bytes. */
int token_key_load(const char *path, unsigned char *key, size_t len);

#endif
