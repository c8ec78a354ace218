/* One-time passwords: RFC 4226 HOTP and RFC 6238 TOTP (HMAC-SHA1, 6
 * digits, 30-second steps), and the base32 their secrets travel in. */
#ifndef ENCLAVR_TOTP_H
#define ENCLAVR_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_SECRET_B32 32		/* base32 characters of a secret */
#define TOTP_STEP_S 30

/* RFC 4648 base32, upper case, no padding. out needs 8 * ceil(len / 5)
 * / 5 + 1 bytes; returns the text length. */
size_t base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
/* Decodes (case-insensitive, no padding); returns the byte count or -1. */
int base32_decode(const char *in, uint8_t *out, size_t outlen);
/* The 6-digit HOTP value of key at counter. */
uint32_t hotp(const uint8_t *key, size_t keylen, uint64_t counter);
/* The step in now-1 .. now+1 (in TOTP_STEP_S units of unix time) whose
 * code equals code (6 ASCII digits), or -1. */
long long totp_match(const char *secret_b32, const char *code, long long unix_time);

#endif
